/**
 * The real stack: the Worker under workerd (wrangler) with local D1, in front of the real
 * gpu-service on CPU with the default bundle. Checks what only the real parts can show: the
 * model's answers, one upstream call per GraphQL request (gpu-service's own /metrics), auth against
 * D1 inside workerd, and GraphQL-over-HTTP conformance (graphql-http's audits).
 */

import { generateApiKey } from "@intentql/edge";
import { serverAudits } from "graphql-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EdgeWorker, startEdgeWorker } from "../../support/edge-worker.ts";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";

const PEPPER = "integration-pepper";
const UPSTREAM_TOKEN = "integration-upstream-token-0123456789";
const keys = {
  all: generateApiKey(),
  evalOnly: generateApiKey(),
  revoked: generateApiKey(),
};

let gpu: GpuServiceHandle;
let edge: EdgeWorker;

beforeAll(async () => {
  gpu = await startGpuService({ authToken: UPSTREAM_TOKEN });
  edge = await startEdgeWorker({
    upstreamUrl: gpu.url,
    upstreamToken: UPSTREAM_TOKEN,
    pepper: PEPPER,
    keys: [
      { key: keys.all, scopes: ["classify", "eval", "admin"] },
      { key: keys.evalOnly, scopes: ["eval"] },
      { key: keys.revoked, scopes: ["classify"], revoked: true },
    ],
  });
}, 120_000);

afterAll(async () => {
  await edge?.dispose();
  await gpu?.stop();
});

async function gql(query: string, variables?: unknown, key: string | null = keys.all) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(`${edge.url}/graphql`, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function inferRequests(): Promise<number> {
  const text = await (await fetch(`${gpu.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith('intentql_infer_requests_total{model="massive-scratch"}'));
  return line ? Number(line.split(" ").pop()) : 0;
}

describe("edge Worker + gpu-service (CPU, models/massive-scratch)", () => {
  it("classifies with the real model", async () => {
    const { status, body } = await gql(
      'query { classify(texts: ["please cancel my alarm", "wake me up at nine am on friday"], topK: 3) { intent { name } score topK { intent { name } score } outOfScope model tokens } }',
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const [cancel, wake] = body.data.classify;
    expect(cancel.intent.name).toBe("alarm_remove");
    expect(wake.intent.name).toBe("alarm_set");
    for (const row of [cancel, wake]) {
      expect(row.model).toBe("massive-scratch");
      expect(row.score).toBeGreaterThan(0);
      expect(row.score).toBeLessThanOrEqual(1);
      expect(row.topK.map((s: any) => s.score)).toEqual(
        [...row.topK.map((s: any) => s.score)].sort((a, b) => b - a),
      );
    }
  });

  it("two aliased classify fields cost exactly one upstream infer request", async () => {
    await gql('{ classify(texts: ["warm up"]) { score } }'); // consistency check already done
    const before = await inferRequests();
    const { body } = await gql(`{
      a: classify(texts: ["turn off the kitchen lights", "what is the weather tomorrow"]) { intent { name } }
      b: classify(texts: ["play some jazz", "turn off the kitchen lights"]) { intent { name } }
    }`);
    expect(body.errors).toBeUndefined();
    expect(body.data.a[1].intent.name).toBe("weather_query");
    expect(body.data.b[1].intent.name).toBe(body.data.a[0].intent.name);
    expect((await inferRequests()) - before).toBe(1);
  });

  it("lists the served model with its provider and metrics", async () => {
    const { body } = await gql(
      "{ models { name version provider variant test { accuracy } labels { name } } }",
    );
    expect(body.errors).toBeUndefined();
    expect(body.data.models[0]).toMatchObject({
      name: "massive-scratch",
      provider: expect.stringMatching(/CPU/i),
    });
    expect(body.data.models[0].labels).toHaveLength(60);
  });

  it("authenticates against D1 inside workerd: none, revoked, wrong scope, query-string key", async () => {
    const q = '{ classify(texts: ["hi"]) { score } }';
    expect((await gql(q, undefined, null)).status).toBe(401);
    const revoked = await gql(q, undefined, keys.revoked);
    expect(revoked.status).toBe(401);
    expect(revoked.body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
    const scoped = await gql(q, undefined, keys.evalOnly);
    expect(scoped.body.errors[0].extensions.code).toBe("FORBIDDEN");
    const viaQuery = await fetch(
      `${edge.url}/graphql?api_key=${keys.all}&query=${encodeURIComponent("{scenarios}")}`,
    );
    expect(viaQuery.status).toBe(401);
  });

  it("passes every graphql-http server audit", async () => {
    const authed: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${keys.all}`);
      return fetch(input, { ...init, headers });
    };
    const audits = serverAudits({ url: `${edge.url}/graphql`, fetchFn: authed });
    const failures: string[] = [];
    for (const audit of audits) {
      const result = await audit.fn();
      if (result.status !== "ok") failures.push(`${audit.name}: ${result.reason}`);
    }
    expect(failures).toEqual([]);
    expect(audits.length).toBeGreaterThanOrEqual(61);
  });
});
