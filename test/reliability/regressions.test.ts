/**
 * Regression tests for failures the reliability suite found (docs/RELIABILITY.md, "Found and fixed").
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missingCode } from "../../edge/src/plugins/use-error-codes.ts";
import { queryNesting } from "../../edge/src/plugins/use-limits.ts";
import { createLogger } from "../../gpu-service/src/log.ts";
import { createMetrics } from "../../gpu-service/src/metrics.ts";
import { createHandler, type RouterState } from "../../gpu-service/src/router/server.ts";
import { startTestEdge, type TestEdge } from "../support/edge-app.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/edge-fake-upstream.ts";

describe("gpu-service router", () => {
  const state: RouterState = { phase: "loading", models: new Map() };
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer(
      createHandler({
        authTokens: [],
        maxRequestRows: 1024,
        bodyLimitBytes: 1 << 20,
        requestTimeoutMs: 1_000,
        log: createLogger("error", () => {}),
        metrics: createMetrics(),
        state,
      }),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("a malformed percent-escape in the model name is a 400 naming it, not a 500 (fuzz: /v2/models/%E0%A4%A/infer)", async () => {
    state.phase = "ready";
    for (const path of ["/v2/models/%E0%A4%A/infer", "/v2/models/%ZZ/versions/1", "/v2/models/%/labels"]) {
      const r = await fetch(`${url}${path}`, {
        method: path.endsWith("infer") ? "POST" : "GET",
        body: path.endsWith("infer") ? "{}" : null,
      });
      expect(r.status, path).toBe(400);
      expect(((await r.json()) as { error: string }).error).toMatch(/malformed percent-encoding/);
    }
  });

  it("while loading, a model route answers 503 + Retry-After, not 404 unknown model (the edge said UNKNOWN_MODEL during a restart)", async () => {
    state.phase = "loading";
    for (const path of [
      "/v2/models/massive-scratch/bundle",
      "/v2/models/massive-scratch/labels",
      "/v2/models/massive-scratch",
    ]) {
      const r = await fetch(`${url}${path}`);
      expect(r.status, path).toBe(503);
      expect(r.headers.get("retry-after")).toBe("1");
    }
    const infer = await fetch(`${url}/v2/models/massive-scratch/infer`, { method: "POST", body: "{}" });
    expect(infer.status).toBe(503);
    state.phase = "ready";
    const unknown = await fetch(`${url}/v2/models/massive-scratch/bundle`);
    expect(unknown.status).toBe(404);
  });
});

describe("edge: every error has extensions.code (fuzz: variable errors had none)", () => {
  let fake: FakeUpstream;
  let t: TestEdge;
  beforeAll(async () => {
    fake = await startFakeUpstream();
    t = await startTestEdge(fake.url);
  });
  afterAll(async () => {
    await t.dispose();
    await fake.close();
  });
  const CLASSIFY = "query ($t: [String!]!) { classify(texts: $t) { score } }";
  const codes = (body: { errors?: { extensions?: { code?: string } }[] }) =>
    body.errors?.map((e) => e.extensions?.code);

  it("missing and mistyped variables → BAD_USER_INPUT", async () => {
    expect(codes((await t.gql(CLASSIFY)).body)).toEqual(["BAD_USER_INPUT"]);
    expect(codes((await t.gql(CLASSIFY, { t: [[]] })).body)).toEqual(["BAD_USER_INPUT"]);
    expect(codes((await t.gql(CLASSIFY, { t: 5 })).body)).toEqual(["BAD_USER_INPUT"]);
  });

  it("syntax errors → GRAPHQL_PARSE_FAILED, unknown fields → GRAPHQL_VALIDATION_FAILED", async () => {
    expect(codes((await t.gql("{ intents { name }")).body)).toEqual(["GRAPHQL_PARSE_FAILED"]);
    expect(codes((await t.gql("{ nope }")).body)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
  });

  it("a body that is not JSON gets a coded error", async () => {
    const r = await t.edge.yoga.fetch("http://edge.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.key}` },
      body: '{"query":',
    });
    expect(r.status).toBeLessThan(500);
    const body = (await r.json()) as { errors: { extensions?: { code?: string } }[] };
    expect(body.errors.every((e) => typeof e.extensions?.code === "string")).toBe(true);
  });

  it("an unsupported content type (yoga: empty 415) answers a JSON error with a code", async () => {
    const r = await t.edge.yoga.fetch("http://edge.test/graphql", {
      method: "POST",
      headers: { "content-type": "text/plain", authorization: `Bearer ${t.key}` },
      body: "",
    });
    expect(r.status).toBe(415);
    expect(await r.json()).toEqual({
      errors: [{ message: expect.stringMatching(/content type/), extensions: { code: "BAD_REQUEST" } }],
    });
    // the fuzz's counterexample: the endpoint with a trailing slash
    const slash = await t.edge.yoga.fetch("http://edge.test/graphql/", {
      method: "POST",
      headers: { "content-type": "application/graphql-response+json", authorization: `Bearer ${t.key}` },
      body: "[]",
    });
    expect(slash.status).toBeLessThan(500);
    expect(
      ((await slash.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code,
    ).toMatch(/^[A-Z_]+$/);
  });

  it("codes already set are kept; the fallback names the kind", () => {
    expect(missingCode({ message: "Syntax Error: Unexpected <EOF>." })).toBe("GRAPHQL_PARSE_FAILED");
    expect(missingCode({ message: 'Variable "$t" of required type "[String!]!" was not provided.' })).toBe(
      "BAD_USER_INPUT",
    );
    expect(missingCode({ message: "Cannot query field", locations: [] })).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(missingCode({ message: "POST body sent invalid JSON." })).toBe("BAD_REQUEST");
  });
});

describe("edge: deep nesting is refused before parsing (fuzz: 500 Maximum call stack size exceeded)", () => {
  let fake: FakeUpstream;
  let t: TestEdge;
  beforeAll(async () => {
    fake = await startFakeUpstream();
    t = await startTestEdge(fake.url);
  });
  afterAll(async () => {
    await t.dispose();
    await fake.close();
  });
  const codes = (body: { errors?: { extensions?: { code?: string } }[] }) =>
    body.errors?.map((e) => e.extensions?.code);

  it("counts nesting outside strings and comments", () => {
    expect(queryNesting("{ a { b(x: [1, [2]]) } }")).toBe(5);
    expect(queryNesting('{ a(s: "{{{{[[[") # {{{{\n }')).toBe(2);
    expect(queryNesting('{ a(s: """ {{{ \\""" {{ """) }')).toBe(2);
  });

  it("10,000 nested selections, lists and a 5,000-fragment chain answer 4xx with a code, not 500", async () => {
    const n = 10_000;
    const cases = [
      `{${" intents {".repeat(n)} name${" }".repeat(n)} }`,
      `${"{".repeat(n)}${"}".repeat(n)}`,
      `{ classify(texts: ${"[".repeat(n)}"a"${"]".repeat(n)}) { score } }`,
      `query { ...F0 } ${Array.from({ length: 5_000 }, (_, i) => `fragment F${i} on Query { __typename ...F${i + 1} }`).join(" ")} fragment F5000 on Query { __typename }`,
    ];
    const got = [];
    for (const query of cases) {
      const r = await t.gql(query);
      expect(r.status).toBeLessThan(500);
      got.push(codes(r.body)?.[0]);
    }
    // The fragment chain now stops at GraphQL Armor's token limit, before validation walks it.
    expect(got).toEqual(["QUERY_TOO_DEEP", "QUERY_TOO_DEEP", "QUERY_TOO_DEEP", "QUERY_TOO_LARGE"]);
  });

  it("the standard introspection query and ordinary queries still pass", async () => {
    const { getIntrospectionQuery } = await import("graphql");
    expect((await t.gql(getIntrospectionQuery())).body.errors).toBeUndefined();
    expect((await t.gql("{ intents { name } }")).body.errors).toBeUndefined();
  });
});
