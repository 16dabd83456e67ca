/**
 * Open subscriptions per API key on the real Worker under workerd: a key's places live in its
 * SubscriptionLeaseObject (a Durable Object), not in the isolate, so the limit holds across
 * isolates. Here the isolate counts only its total (256), so every per-key refusal below comes from
 * the object: a third stream is refused, another key is not, streams that stay open keep their
 * places past the lease TTL by renewing them, and a closed stream's place comes back at once (the
 * release runs in waitUntil, after the client has gone), not when its lease lapses, as does the
 * place of a subscription answered 406 (it accepted JSON only, and no stream was ever read).
 */

import { generateApiKey } from "@intentql/edge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";
import { type EdgeWorker, startEdgeWorker } from "../../support/edge-worker.ts";
import { openSse } from "../../support/sse-stream.ts";

const key = generateApiKey();
const other = generateApiKey();
const TTL_MS = 6_000;
let upstream: FakeUpstream;
let edge: EdgeWorker;
let runId: string;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  // a model that does not answer within the test: the run stays running, its streams open
  upstream.delayMs = 120_000;
  edge = await startEdgeWorker({
    upstreamUrl: upstream.url,
    pepper: "leases-pepper",
    keys: [
      { key, scopes: ["eval", "admin"] },
      { key: other, scopes: ["eval"] },
    ],
    rateLimits: { keyRequestsPer10s: 1_000_000, anonRequestsPer10s: 1_000_000, textsPerSecond: 1_000_000 },
    vars: {
      SUBSCRIPTION_MAX_PER_KEY: "2",
      SUBSCRIPTION_LEASE_TTL_MS: String(TTL_MS),
      UPSTREAM_TIMEOUT_MS: "110000",
    },
  });
  const gql = async (query: string) => {
    const res = await fetch(`${edge.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ query }),
    });
    return (await res.json()) as { data: any };
  };
  const imported = await gql(
    'mutation { importDataset(input: { name: "leases", content: "{\\"text\\":\\"wake me up\\",\\"label_text\\":\\"alarm_set\\"}" }) { dataset { id } } }',
  );
  const started = await gql(
    `mutation { startEvalRun(input: { dataset: "${imported.data.importDataset.dataset.id}" }) { id } }`,
  );
  runId = started.data.startEvalRun.id;
}, 120_000);

afterAll(async () => {
  await edge?.dispose();
  await upstream?.close();
});

/** An SSE subscription to the run over HTTP. */
function subscribe(apiKey: string) {
  const query = encodeURIComponent(`subscription { evalRunProgress(id: "${runId}") { id status } }`);
  return openSse(fetch, `${edge.url}/graphql?query=${query}`, apiKey);
}

const OPENED = /"status":"(queued|running)"/;
const ANSWER = /RATE_LIMITED|"status":"(queued|running)"/;

describe("open subscriptions per key, counted by its Durable Object", () => {
  it("refuses a key's third stream, not another key's; open streams keep their places past the TTL", async () => {
    const first = await subscribe(key);
    const second = await subscribe(key);
    expect(await first.until(OPENED)).toContain(runId);
    expect(await second.until(OPENED)).toContain(runId);

    const third = await subscribe(key);
    const refusal = await third.until(ANSWER);
    expect(refusal).toMatch(/RATE_LIMITED/);
    expect(refusal).toMatch(/this API key has 2 subscriptions open; close one first/);
    expect(third.status).toBe(429);
    await third.close();

    const stranger = await subscribe(other);
    expect(await stranger.until(ANSWER)).toMatch(OPENED);
    await stranger.close();

    // twice the TTL: the two streams renew their leases as they poll, so their places hold
    await new Promise((r) => setTimeout(r, 2 * TTL_MS));
    const fourth = await subscribe(key);
    expect(await fourth.until(ANSWER)).toMatch(/RATE_LIMITED/);
    await fourth.close(); // (had the leases lapsed, the object would have taken it)

    // a closed stream gives its place back to the object (through waitUntil: its request is over).
    // Its lease was renewed within the last quarter TTL, so a lapse would take ≥ 4.5 s; 2.5 s is the release.
    await first.close();
    const closedAt = Date.now();
    let again = await subscribe(key);
    let answer = await again.until(ANSWER);
    while (/RATE_LIMITED/.test(answer) && Date.now() - closedAt < 2_500) {
      await again.close();
      await new Promise((r) => setTimeout(r, 100));
      again = await subscribe(key);
      answer = await again.until(ANSWER);
    }
    expect(answer).toMatch(OPENED);
    await again.close();
    await second.close();
  }, 90_000);

  it("gives the object's place back when the answer is not a stream (406 to a JSON-only Accept)", async () => {
    const query = encodeURIComponent(`subscription { evalRunProgress(id: "${runId}") { id status } }`);
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${edge.url}/graphql?query=${query}`, {
        headers: { accept: "application/json", authorization: `Bearer ${other}` },
      });
      expect(response.status).toBe(406);
      await response.body?.cancel();
    }
    // twice the key's limit was refused after taking a place; the places came back, not by lapsing
    // (the other key: the first test's last releases may still be on their way)
    const stream = await subscribe(other);
    expect(await stream.until(ANSWER)).toMatch(OPENED);
    await stream.close();
  }, 30_000);
});
