/**
 * Subscriptions (evalRunProgress over SSE), in-process: a key holds at most so many open at once in
 * an isolate (limits/subscription-gate.ts), a closed one frees its place, and a key revoked while
 * its stream is open ends the stream (it polled D1 until its run ended before).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SubscriptionGate } from "../../../edge/src/limits/subscription-gate.ts";
import { createKey, startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";

let upstream: FakeUpstream;
let t: TestEdge;
let runId: string;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  // the runner never starts the run: it stays queued, so its subscriptions stay open
  t = await startTestEdge(upstream.url, {
    evalRunner: { start: async () => {} },
    subscriptionLimits: { maxPerKey: 2, maxTotal: 3 },
  });
  const imported = await t.gql(
    'mutation { importDataset(input: { name: "subs", content: "{\\"text\\":\\"wake me up\\",\\"label_text\\":\\"alarm_set\\"}" }) { dataset { id } } }',
  );
  const started = await t.gql(
    `mutation { startEvalRun(input: { dataset: "${imported.body.data.importDataset.dataset.id}" }) { id } }`,
  );
  runId = started.body.data.startEvalRun.id;
});
afterAll(async () => {
  await t?.dispose();
  await upstream?.close();
});

/** An SSE subscription to the run: its first event, and a way to close it. */
async function subscribe(key: string) {
  const controller = new AbortController();
  const query = encodeURIComponent(`subscription { evalRunProgress(id: "${runId}") { id status } }`);
  const response = await t.edge.fetch(
    new Request(`http://edge.test/graphql?query=${query}`, {
      headers: { accept: "text/event-stream", authorization: `Bearer ${key}` },
      signal: controller.signal,
    }),
  );
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  /** The stream's text until `pattern` shows up (or it ends). */
  const until = async (pattern: RegExp): Promise<string> => {
    while (!pattern.test(text)) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    return text;
  };
  return {
    status: response.status,
    until,
    close: async () => {
      controller.abort();
      await reader.cancel().catch(() => {});
    },
  };
}

describe("SubscriptionGate", () => {
  it("gives a key at most maxPerKey places and the isolate maxTotal; a release (once) frees one", () => {
    const gate = new SubscriptionGate({ maxPerKey: 2, maxTotal: 3 });
    const a1 = gate.enter("a");
    gate.enter("a");
    expect(() => gate.enter("a")).toThrow(/this API key has 2 subscriptions open/);
    gate.enter("b");
    expect(() => gate.enter("c")).toThrow(/too many subscriptions/);
    a1();
    a1(); // idempotent: frees one place, not two
    expect(gate.open).toBe(2);
    gate.enter("c");
    expect(() => gate.enter("d")).toThrow(/too many subscriptions/);
  });
});

describe("evalRunProgress over SSE", () => {
  it("refuses a key's third open subscription with RATE_LIMITED, and takes it once one closes", async () => {
    const key = await createKey(t.db, ["eval"]);
    const first = await subscribe(key);
    const second = await subscribe(key);
    expect(await first.until(/"status":"queued"/)).toContain(runId);
    expect(await second.until(/"status":"queued"/)).toContain(runId);
    const third = await subscribe(key);
    expect(await third.until(/RATE_LIMITED|"status"/)).toMatch(/RATE_LIMITED/);
    await third.close();
    await first.close();
    // the closed stream's place is free again (its release runs when yoga closes the iterator)
    let again = await subscribe(key);
    for (let i = 0; i < 20 && !/"status"/.test(await again.until(/RATE_LIMITED|"status"/)); i++) {
      await again.close();
      await new Promise((r) => setTimeout(r, 50));
      again = await subscribe(key);
    }
    expect(await again.until(/"status"/)).toContain(runId);
    await again.close();
    await second.close();
  });

  it("ends an open stream when its key is revoked, with UNAUTHENTICATED", async () => {
    const created = await t.gql(
      'mutation { createApiKey(name: "watcher", scopes: [eval]) { key apiKey { id } } }',
    );
    const { key, apiKey } = created.body.data.createApiKey;
    const stream = await subscribe(key);
    expect(await stream.until(/"status":"queued"/)).toContain(runId);
    await t.gql("mutation ($id: ID!) { revokeApiKey(id: $id) { revokedAt } }", { id: apiKey.id });
    // the next poll (every second) asks the key store, which forgot the key at revocation
    const text = await stream.until(/UNAUTHENTICATED/);
    expect(text).toMatch(/no longer valid/);
    await stream.close();
  }, 15_000);
});
