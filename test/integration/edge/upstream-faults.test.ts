/**
 * Upstream faults inside workerd (its fetch and AbortSignal.timeout, not Node's): a slow model hits
 * the edge's deadline as UPSTREAM_TIMEOUT, a dead one is UPSTREAM_UNAVAILABLE at once. The fake
 * upstream is here only to inject the delay and the outage.
 */

import { generateApiKey } from "@intentql/edge";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";
import { type EdgeWorker, startEdgeWorker } from "../../support/edge-worker.ts";

const key = generateApiKey();
let upstream: FakeUpstream;
let edge: EdgeWorker;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  edge = await startEdgeWorker({
    upstreamUrl: upstream.url,
    pepper: "faults-pepper",
    keys: [{ key, scopes: ["classify"] }],
    vars: { UPSTREAM_TIMEOUT_MS: "700" },
  });
}, 120_000);

afterAll(async () => {
  await edge?.dispose();
  await upstream?.close();
});

async function classify(text: string): Promise<{ ms: number; code: string | undefined; body: any }> {
  const started = performance.now();
  const response = await fetch(`${edge.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({
      query: "query ($t: String!) { classify(texts: [$t]) { intent { name } } }",
      variables: { t: text },
    }),
  });
  const body = (await response.json()) as any;
  return { ms: performance.now() - started, code: body.errors?.[0]?.extensions?.code, body };
}

it("answers normally, then UPSTREAM_TIMEOUT within the deadline, then UPSTREAM_UNAVAILABLE fast", async () => {
  const ok = await classify("warm up");
  expect(ok.code).toBeUndefined();
  expect(upstream.calls).toHaveLength(1);

  upstream.delayMs = 5_000;
  const slow = await classify("slow");
  expect(slow.code).toBe("UPSTREAM_TIMEOUT");
  expect(slow.ms).toBeGreaterThanOrEqual(650);
  expect(slow.ms).toBeLessThan(2_500);

  await upstream.close();
  const down = await classify("down");
  expect(down.code).toBe("UPSTREAM_UNAVAILABLE");
  expect(down.ms).toBeLessThan(1_000);
  expect(JSON.stringify(down.body)).not.toContain("127.0.0.1");
});
