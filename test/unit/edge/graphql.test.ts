/**
 * The edge's GraphQL server in-process (`yoga.fetch`), with a real D1 (Miniflare) and a V2 fake
 * upstream that counts calls and injects faults. Real-model correctness and the real Worker are in
 * test/integration/edge/.
 */

import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { importDataset } from "../../../edge/src/eval/dataset-store.ts";
import { createRun, getRun } from "../../../edge/src/eval/eval-run-store.ts";
import { LATEST_RUN_OF_MODEL_SQL, LATEST_RUN_SQL } from "../../../edge/src/eval/eval-service.ts";
import { memoryRateLimiter, TokenBuckets } from "../../../edge/src/limits/rate-limiter.ts";
import { createKey, readBundleAssets, startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { type FakeUpstream, fakeLabelFor, startFakeUpstream } from "../../support/edge-fake-upstream.ts";

const assets = readBundleAssets();
const tokenizer = new BertWordPieceTokenizer(parseVocabTxt(assets.vocabText));
const expectedIntent = (text: string): string =>
  assets.labels[fakeLabelFor(tokenizer.encode(text, 128).ids, assets.labels.length)]!.name;

const CLASSIFY = `query ($texts: [String!]!, $k: Int) {
  classify(texts: $texts, topK: $k) { text intent { name scenario } score topK { intent { name } score } tokens truncated outOfScope model }
}`;

let upstream: FakeUpstream;
let t: TestEdge;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  t = await startTestEdge(upstream.url, {
    upstream: { maxBatch: 8, timeoutMs: 500 },
    limiters: { requestsPerKey: memoryRateLimiter(new TokenBuckets(1000, 1000)) },
  });
});
afterAll(async () => {
  await t?.dispose();
  await upstream?.close();
});
beforeEach(() => {
  upstream.calls.length = 0;
  upstream.delayMs = 0;
  upstream.failStatus = null;
});

const codes = (body: { errors?: { extensions?: { code?: string } }[] }) =>
  (body.errors ?? []).map((e) => e.extensions?.code);

describe("classify", () => {
  it("answers each text with the upstream's top label, calibrated scores and token counts", async () => {
    const texts = ["please cancel my alarm", "wake me up at nine am on friday", "PLAY some Jazz!"];
    const { status, body } = await t.gql(CLASSIFY, { texts, k: 3 });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const rows = body.data.classify;
    expect(rows.map((r: any) => r.intent.name)).toEqual(texts.map(expectedIntent));
    for (const [i, row] of rows.entries()) {
      expect(row.text).toBe(texts[i]);
      expect(row.tokens).toBe(tokenizer.encode(texts[i]!, 128).ids.length);
      expect(row.truncated).toBe(false);
      expect(row.model).toBe("massive-scratch");
      expect(row.topK).toHaveLength(3);
      expect(row.topK[0].intent.name).toBe(row.intent.name);
      expect(row.topK[0].score).toBe(row.score);
      // logits 8 for one label, 0 for 59 others; T from bundle.json
      const e = Math.exp(8 / assets.manifest.calibration!.temperature);
      expect(row.score).toBeCloseTo(e / (e + 59), 6);
      expect(row.outOfScope).toBe(false);
    }
    expect(upstream.calls).toHaveLength(1);
  });

  it("sends every text of every aliased field in ONE upstream call, de-duplicated", async () => {
    const { body } = await t.gql(`{
      a: classify(texts: ["turn off the lights", "what time is it"]) { intent { name } }
      b: classify(texts: ["what time is it", "order a pizza"], topK: 2) { intent { name } topK { score } }
      c: classify(texts: ["turn off the lights"]) { score }
    }`);
    expect(body.errors).toBeUndefined();
    expect(body.data.a[1].intent.name).toBe(body.data.b[0].intent.name);
    expect(upstream.calls).toHaveLength(1);
    expect(upstream.calls[0]!.rows).toBe(3);
  });

  it("splits only above the upstream's max batch (8 here)", async () => {
    const texts = Array.from({ length: 20 }, (_, i) => `set an alarm for ${i} am`);
    const { body } = await t.gql(CLASSIFY, { texts });
    expect(body.errors).toBeUndefined();
    expect(body.data.classify.map((r: any) => r.intent.name)).toEqual(texts.map(expectedIntent));
    expect(upstream.calls.map((c) => c.rows).sort()).toEqual([4, 8, 8]);
  });

  it("flags truncation and handles odd texts", async () => {
    const long = "alarm ".repeat(300);
    const { body } = await t.gql(CLASSIFY, { texts: [long, "\u0000\ud800 🙂"] });
    expect(body.errors).toBeUndefined();
    expect(body.data.classify[0]).toMatchObject({ truncated: true, tokens: 128 });
    // NUL and a lone surrogate are dropped; the emoji is still read (as [UNK]): classified.
    expect(body.data.classify[1]).toMatchObject({ truncated: false, tokens: 3 });
  });

  it("an empty texts list costs no upstream call", async () => {
    const { body } = await t.gql(CLASSIFY, { texts: [] });
    expect(body.data.classify).toEqual([]);
    expect(upstream.calls).toHaveLength(0);
  });

  it("rejects topK < 1", async () => {
    const { body } = await t.gql(CLASSIFY, { texts: ["hi"], k: 0 });
    expect(codes(body)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("introspection of intents and models", () => {
  it("lists intents, scenarios and one intent with description and examples", async () => {
    const { body } = await t.gql(`{
      all: intents { name }
      alarm: intents(scenario: "alarm") { id name action }
      scenarios
      intent(name: "alarm_remove") { id scenario action description examples latestMetrics { f1 } }
      missing: intent(name: "nope") { id }
    }`);
    expect(body.errors).toBeUndefined();
    expect(body.data.all).toHaveLength(60);
    expect(body.data.alarm.map((i: any) => i.name)).toEqual(["alarm_query", "alarm_remove", "alarm_set"]);
    expect(body.data.scenarios).toContain("iot");
    expect(body.data.scenarios).toEqual([...body.data.scenarios].sort());
    expect(body.data.intent).toMatchObject({
      id: 1,
      scenario: "alarm",
      action: "remove",
      latestMetrics: null,
    });
    expect(body.data.intent.examples).toContain("please cancel my alarm");
    expect(body.data.missing).toBeNull();
  });

  it("latestMetrics of a model (name or alias) reads that model's newest run; of any model without one", async () => {
    const edge = await startTestEdge(upstream.url);
    try {
      const metrics = (f1: number) =>
        JSON.stringify({ perLabel: [{ label: "alarm_remove", precision: f1, recall: f1, f1, support: 7 }] });
      await edge.db
        .prepare(
          "INSERT INTO datasets (id, name, sha256, row_count, splits, created_at) VALUES ('d1', 'd', 'x', 1, '{}', '2026-01-01T00:00:00Z')",
        )
        .run();
      const run = (id: string, model: string, finished: string, f1: number, status = "succeeded") =>
        edge.db
          .prepare(
            "INSERT INTO eval_runs (id, dataset_id, split, model, status, total, done, created_at, finished_at, metrics) VALUES (?, 'd1', 'test', ?, ?, 1, 1, ?, ?, ?)",
          )
          .bind(id, model, status, finished, finished, metrics(f1))
          .run();
      await run("old-a", "model-a", "2026-01-01T00:00:00Z", 0.1);
      await run("new-a", "model-a", "2026-01-03T00:00:00Z", 0.3);
      await run("new-b", "model-b", "2026-01-04T00:00:00Z", 0.4);
      await run("newer-b-failed", "model-b", "2026-01-05T00:00:00Z", 0.9, "failed");
      // an alias pinned to a model that is not served now: its runs are still found by its name
      await edge.db
        .prepare("INSERT INTO model_aliases (alias, model, version) VALUES ('prod', 'model-a', '1')")
        .run();
      const { body } = await edge.gql(`{ intent(name: "alarm_remove") {
        any: latestMetrics { evalRunId f1 }
        a: latestMetrics(model: "model-a") { evalRunId f1 support }
        prod: latestMetrics(model: "prod") { evalRunId }
        b: latestMetrics(model: "model-b") { evalRunId }
        none: latestMetrics(model: "model-c") { evalRunId }
      } }`);
      expect(body.errors).toBeUndefined();
      expect(body.data.intent).toEqual({
        any: { evalRunId: "new-b", f1: 0.4 },
        a: { evalRunId: "new-a", f1: 0.3, support: 7 },
        prod: { evalRunId: "new-a" },
        b: { evalRunId: "new-b" },
        none: null,
      });
      // a request names at most 4 models here (one D1 read each)
      const five = Array.from({ length: 5 }, (_, i) => `m${i}: latestMetrics(model: "m${i}") { f1 }`).join(
        " ",
      );
      const refused = await edge.gql(`{ intent(name: "alarm_remove") { ${five} } }`);
      expect(codes(refused.body)).toContain("TOO_MANY_MODELS");
      // both reads go through an index (migration 0006), not a scan and sort of every run
      for (const sql of [LATEST_RUN_SQL, LATEST_RUN_OF_MODEL_SQL]) {
        const plan = await edge.db
          .prepare(`EXPLAIN QUERY PLAN ${sql}`)
          .bind(...(sql.includes("?") ? ["model-a"] : []))
          .all<{ detail: string }>();
        expect(plan.results.map((r) => r.detail).join("; "), sql).toMatch(/USING INDEX eval_runs_succeeded/);
      }
      const viaVariables = await edge.gql(
        'query ($m: String) { intents(scenario: "alarm") { name latestMetrics(model: $m) { evalRunId } } }',
        { m: "model-a" },
      );
      expect(
        viaVariables.body.data.intents.find((i: any) => i.name === "alarm_remove").latestMetrics,
      ).toEqual({
        evalRunId: "new-a",
      });
    } finally {
      await edge.dispose();
    }
  });

  it("lists the upstream's models once for every models field of a request, and again after the cache time", async () => {
    const edge = await startTestEdge(upstream.url, {
      modelListTtlMs: 300,
      limiters: { requestsPerKey: memoryRateLimiter(new TokenBuckets(1000, 1000)) },
    });
    try {
      const modelCalls = () => upstream.requests.filter((r) => r.startsWith("GET /v2/models")).length;
      const aliases = Array.from({ length: 20 }, (_, i) => `a${i}: models { name labels { name } }`).join(
        " ",
      );
      const before = modelCalls();
      const first = await edge.gql(`{ ${aliases} }`);
      expect(first.body.errors).toBeUndefined();
      expect(first.body.data.a19[0].name).toBe("massive-scratch");
      const once = modelCalls() - before;
      expect(once).toBeGreaterThan(0);
      expect(once).toBeLessThanOrEqual(4); // the list, then metadata, bundle.json and labels.json of its one model
      await edge.gql(`{ ${aliases} }`);
      expect(modelCalls() - before).toBe(once);
      await new Promise((r) => setTimeout(r, 350));
      await edge.gql("{ models { name } }");
      expect(modelCalls() - before).toBe(2 * once);
    } finally {
      await edge.dispose();
    }
  });

  it("lists the upstream's models with metrics from bundle.json", async () => {
    const { body } = await t.gql(
      "{ models { name version provider variant labels { name } validation { accuracy n note } test { f1Macro note } temperature outOfScopeThreshold } }",
    );
    expect(body.errors).toBeUndefined();
    const [m] = body.data.models;
    expect(m).toMatchObject({
      name: "massive-scratch",
      version: assets.manifest.version,
      provider: "FakeExecutionProvider",
      temperature: assets.manifest.calibration!.temperature,
      outOfScopeThreshold: assets.manifest.calibration!.outOfScope.threshold,
      validation: { n: assets.manifest.metrics.validation!.n },
    });
    // Honest metadata: the served weights were refit on train+validation, and the API says so.
    expect(m.validation.note).toMatch(/refit on train\+validation/);
    expect(m.test.note).toMatch(/test/);
    expect(m.labels).toHaveLength(60);
  });
});

describe("auth", () => {
  const q = '{ classify(texts: ["hi"]) { intent { name } } }';
  it("refuses a request with no key, a malformed key and an unknown key with 401 UNAUTHENTICATED", async () => {
    for (const key of [null, "nope", "iql_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]) {
      const { status, body } = await t.gql(q, undefined, { key });
      expect(status, String(key)).toBe(401);
      expect(codes(body)).toEqual(["UNAUTHENTICATED"]);
    }
    expect(upstream.calls).toHaveLength(0);
  });

  it("refuses a right id with a wrong secret", async () => {
    const wrong = `${t.key.slice(0, 17)}${"B".repeat(43)}`;
    const { status } = await t.gql(q, undefined, { key: wrong });
    expect(status).toBe(401);
  });

  it("refuses a key revoked through the admin API at once in this isolate", async () => {
    const key = await createKey(t.db, ["classify"]);
    expect((await t.gql(q, undefined, { key })).status).toBe(200);
    const revoked = await t.gql("mutation ($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }", {
      id: key.split("_")[1]!,
    });
    expect(revoked.body.data.revokeApiKey.revokedAt).toMatch(/^\d{4}-/);
    const { status, body } = await t.gql(q, undefined, { key });
    expect(status).toBe(401);
    expect(body.errors![0]!.message).toMatch(/revoked/);
  });

  it("revoking a key through the admin API cancels the eval runs it has going, and no other key's", async () => {
    const key = await createKey(t.db, ["eval"]);
    const keyId = key.split("_")[1]!;
    const { dataset } = await importDataset(t.db, {
      name: "revoked-runs",
      content: JSON.stringify({ text: "stop", label_text: "audio_volume_mute" }),
    });
    const run = (extra: string | null) =>
      createRun(t.db, {
        datasetId: dataset.id,
        split: "test",
        model: "massive-scratch",
        total: 1,
        keyId: extra,
      });
    const mine = [(await run(keyId))!, (await run(keyId))!];
    const other = (await run("someone-else"))!;
    await t.gql("mutation ($id: ID!) { revokeApiKey(id: $id) { id } }", { id: keyId });
    for (const r of mine)
      expect(await getRun(t.db, r.id)).toMatchObject({
        status: "cancelled",
        error: "its API key was revoked",
      });
    expect(await getRun(t.db, other.id)).toMatchObject({ status: "queued" });
  });

  it("a revocation made elsewhere (another isolate, SQL) takes effect within the key cache TTL", async () => {
    const edge = await startTestEdge(upstream.url, { apiKeyCacheTtlMs: 300 });
    try {
      const key = await createKey(edge.db, ["classify"]);
      expect((await edge.gql("{ scenarios }", undefined, { key })).status).toBe(200);
      await edge.db
        .prepare("UPDATE api_keys SET revoked_at = 'now' WHERE id = ?")
        .bind(key.split("_")[1]!)
        .run();
      expect((await edge.gql("{ scenarios }", undefined, { key })).status).toBe(200); // still cached
      await new Promise((r) => setTimeout(r, 350));
      expect((await edge.gql("{ scenarios }", undefined, { key })).status).toBe(401);
    } finally {
      await edge.dispose();
    }
  });

  it("checks scopes per field: an eval-only key cannot classify but can read intents", async () => {
    const key = await createKey(t.db, ["eval"]);
    const denied = await t.gql(q, undefined, { key });
    expect(codes(denied.body)).toEqual(["FORBIDDEN"]);
    expect(upstream.calls).toHaveLength(0);
    const allowed = await t.gql("{ scenarios }", undefined, { key });
    expect(allowed.body.errors).toBeUndefined();
  });

  it("ignores a key in the query string", async () => {
    const url = `http://edge.test/graphql?api_key=${t.key}&key=${t.key}&query=${encodeURIComponent("{ scenarios }")}`;
    const response = await t.edge.yoga.fetch(url, { headers: { accept: "application/json" } });
    expect(response.status).toBe(401);
  });

  it("the pepper is part of the hash: a key stored under another pepper does not authenticate", async () => {
    const key = await createKey(t.db, ["classify"], "another-pepper");
    expect((await t.gql(q, undefined, { key })).status).toBe(401);
  });
});

describe("limits", () => {
  it("TOO_MANY_TEXTS counts every classify field and alias together", async () => {
    const texts = Array.from({ length: 129 }, (_, i) => `t${i}`);
    const { body } = await t.gql(
      "query ($t: [String!]!) { a: classify(texts: $t) { score } b: classify(texts: $t) { score } }",
      { t: texts },
    );
    expect(codes(body)).toEqual(["TOO_MANY_TEXTS"]);
    expect(upstream.calls).toHaveLength(0);
    const ok = await t.gql(CLASSIFY, { texts: texts.slice(0, 128) });
    expect(ok.body.errors).toBeUndefined();
  });

  it("TEXT_TOO_LONG above 2000 characters, also inside a fragment", async () => {
    const { body } = await t.gql(
      "query ($t: [String!]!) { ...F } fragment F on Query { classify(texts: $t) { score } }",
      { t: ["ok", "x".repeat(2001)] },
    );
    expect(codes(body)).toEqual(["TEXT_TOO_LONG"]);
    expect(body.errors![0]!.message).toMatch(/text 1 has 2001 characters/);
  });

  it("BAD_USER_INPUT for a text with nothing the tokenizer reads, as a literal or a variable; nothing goes upstream", async () => {
    const invisible = [
      "\u200b",
      "\u0000",
      "\u00ad",
      "\u0301",
      "\u0085",
      "\u180e",
      "\ufffd",
      " \u200b\u2060 ",
      // marks to the tokenizer's tables, spacing marks to V8's: the check uses the tokenizer's
      "\u1734",
      "\u{1171e}",
      "\u1734\u{1171e} \u1734\u200b",
    ];
    for (const text of ["", "   ", "\t\n", "\u3000\u00a0", ...invisible]) {
      if (text !== "") expect(tokenizer.encode(text, 128).ids, JSON.stringify(text)).toHaveLength(2); // [CLS] [SEP]
      const { body } = await t.gql(CLASSIFY, { texts: ["wake me up at seven", text] });
      expect(codes(body), JSON.stringify(text)).toEqual(["BAD_USER_INPUT"]);
      expect(body.errors![0]!.message).toBe(
        "text 1 is empty or only whitespace, control, formatting or combining characters",
      );
    }
    const literal = await t.gql('{ classify(texts: ["ok", " "]) { score } }');
    expect(codes(literal.body)).toEqual(["BAD_USER_INPUT"]);
    expect(upstream.calls).toHaveLength(0);
    // a text with something to read next to such characters is classified
    const mixed = await t.gql(CLASSIFY, { texts: ["wake\u200b me up", "ok\u0301"] });
    expect(mixed.body.errors).toBeUndefined();
  });

  it("QUERY_TOO_DEEP and QUERY_TOO_COSTLY", async () => {
    const deep = await t.gql(
      "{ classify(texts: []) { topK { intent { latestMetrics { f1 } } } intent { examples } } }",
    );
    expect(deep.body.errors).toBeUndefined(); // depth 5 is fine
    const tooDeep = await t.gql(
      "query { ...A } fragment A on Query { models { labels { latestMetrics { evalRunId } } test { n } } }".replace(
        "models",
        "m1: models { labels { name } } models",
      ),
    );
    expect(tooDeep.body.errors).toBeUndefined();
    const edge = await startTestEdge(upstream.url, { queryLimits: { maxDepth: 2, maxCost: 5 } });
    try {
      const depth = await edge.gql("{ intents { latestMetrics { f1 } } }");
      expect(codes(depth.body)).toContain("QUERY_TOO_DEEP");
      const cost = await edge.gql(
        "{ a: scenarios b: scenarios c: scenarios d: scenarios e: scenarios f: scenarios }",
      );
      expect(codes(cost.body)).toEqual(["QUERY_TOO_COSTLY"]);
    } finally {
      await edge.dispose();
    }
  });

  it("lets the standard introspection query through", async () => {
    const { getIntrospectionQuery } = await import("graphql");
    const { body } = await t.gql(getIntrospectionQuery());
    expect(body.errors).toBeUndefined();
    expect(body.data.__schema.queryType.name).toBe("Query");
  });

  it("BAD_REQUEST (400) for variables or extensions that are not JSON, in a URL and in a form body", async () => {
    const auth = { authorization: `Bearer ${t.key}` };
    const requests = [
      new Request("http://edge.test/graphql?query=%7B__typename%7D&variables=%7B", { headers: auth }),
      new Request("http://edge.test/graphql?query=%7B__typename%7D&extensions=%7B", { headers: auth }),
      new Request("http://edge.test/graphql", {
        method: "POST",
        headers: { ...auth, "content-type": "application/x-www-form-urlencoded" },
        body: "query=%7B__typename%7D&variables=%7B",
      }),
    ];
    for (const request of requests) {
      const response = await t.edge.fetch(request);
      expect(response.status, request.url).toBe(400);
      const body = (await response.json()) as any;
      expect(codes(body)).toEqual(["BAD_REQUEST"]);
      expect(body.errors[0].message).toMatch(/"variables" and "extensions" must be JSON/);
    }
    // well-formed ones still work in both shapes
    const ok = await t.edge.fetch(
      new Request("http://edge.test/graphql?query=%7B__typename%7D&variables=%7B%7D", { headers: auth }),
    );
    expect(((await ok.json()) as any).data).toEqual({ __typename: "Query" });
  });

  it("BODY_TOO_LARGE (413) for a declared and for a chunked body", async () => {
    const big = JSON.stringify({ query: "{ scenarios }", variables: { pad: "x".repeat(1024 * 1024) } });
    const declared = await t.edge.yoga.fetch("http://edge.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.key}` },
      body: big,
    });
    expect(declared.status).toBe(413);
    expect(codes((await declared.json()) as any)).toEqual(["BODY_TOO_LARGE"]);
    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 65536) controller.enqueue(bytes.subarray(i, i + 65536));
        controller.close();
      },
    });
    const chunked = await t.edge.yoga.fetch(
      new Request("http://edge.test/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${t.key}` },
        body: stream,
        duplex: "half",
      } as RequestInit),
    );
    expect(chunked.status).toBe(413);
  });

  it("RATE_LIMITED (429 + Retry-After) per key once its bucket is empty", async () => {
    const edge = await startTestEdge(upstream.url, {
      limiters: { requestsPerKey: memoryRateLimiter(new TokenBuckets(0.5, 2)) },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await edge.gql("{ scenarios }")).status);
      expect(statuses).toEqual([200, 200, 429]);
      const other = await createKey(edge.db, ["classify"]);
      expect((await edge.gql("{ scenarios }", undefined, { key: other })).status).toBe(200);
      const response = await edge.edge.yoga.fetch("http://edge.test/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${edge.key}` },
        body: JSON.stringify({ query: "{ scenarios }" }),
      });
      expect(response.status).toBe(429);
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(codes((await response.json()) as any)).toEqual(["RATE_LIMITED"]);
    } finally {
      await edge.dispose();
    }
  });
});

describe("upstream failures", () => {
  it("UPSTREAM_UNAVAILABLE fast when nothing listens, without leaking the URL", async () => {
    const edge = await startTestEdge("http://127.0.0.1:9", { upstream: { timeoutMs: 5_000 } });
    try {
      const started = performance.now();
      const { body } = await edge.gql(CLASSIFY, { texts: ["hi"] });
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(codes(body)).toEqual(["UPSTREAM_UNAVAILABLE"]);
      expect(JSON.stringify(body)).not.toContain("127.0.0.1");
    } finally {
      await edge.dispose();
    }
  });

  it("UPSTREAM_TIMEOUT within the deadline when the model is slow", async () => {
    upstream.delayMs = 3_000;
    const started = performance.now();
    const { body } = await t.gql(CLASSIFY, { texts: ["slow one"] });
    const elapsed = performance.now() - started;
    expect(codes(body)).toEqual(["UPSTREAM_TIMEOUT"]);
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(1_500);
  });

  it("UPSTREAM_UNAVAILABLE on 503, UPSTREAM_TIMEOUT on 504", async () => {
    upstream.failStatus = 503;
    expect(codes((await t.gql(CLASSIFY, { texts: ["a"] })).body)).toEqual(["UPSTREAM_UNAVAILABLE"]);
    upstream.failStatus = 504;
    expect(codes((await t.gql(CLASSIFY, { texts: ["b"] })).body)).toEqual(["UPSTREAM_TIMEOUT"]);
  });

  it("UNKNOWN_MODEL for a model the upstream does not serve", async () => {
    const { body } = await t.gql('{ classify(texts: ["hi"], model: "nope") { score } }');
    expect(codes(body)).toEqual(["UNKNOWN_MODEL"]);
  });

  it("masks unexpected errors in production: generic message, no stack, no internals", async () => {
    // An upstream whose /v2/models answers `{}` makes listModels throw a TypeError: a bug, not a
    // GraphQLError, so production must show only yoga's generic message.
    const broken: typeof fetch = async () => new Response("{}", { status: 200 });
    for (const development of [false, true]) {
      const edge = await startTestEdge("http://internal.upstream.example:8500", {
        development,
        upstream: { fetch: broken },
      });
      try {
        const { body } = await edge.gql("{ models { name } }");
        const text = JSON.stringify(body);
        if (development) expect(text).toMatch(/not iterable|Cannot read|undefined/);
        else {
          expect(body.errors![0]!.message).toBe("Unexpected error.");
          expect(text).not.toMatch(/internal\.upstream|\.ts:\d+|TypeError/);
        }
      } finally {
        await edge.dispose();
      }
    }
  });
});

describe("model consistency", () => {
  it("MODEL_MISMATCH when the upstream's vocab differs, and no answer is given", async () => {
    const bad = await startFakeUpstream({
      manifestPatch: (m) => {
        (m.tokenizer as Record<string, unknown>).vocabSha256 = "0".repeat(64);
      },
    });
    const edge = await startTestEdge(bad.url);
    try {
      const { body } = await edge.gql(CLASSIFY, { texts: ["hi"] });
      expect(codes(body)).toEqual(["MODEL_MISMATCH"]);
      expect(body.errors![0]!.message).toMatch(/vocab sha256/);
      expect(bad.calls).toHaveLength(0);
    } finally {
      await edge.dispose();
      await bad.close();
    }
  });

  it("MODEL_MISMATCH when the label order differs", async () => {
    const labels = [...assets.labels];
    [labels[0], labels[1]] = [labels[1]!, labels[0]!];
    const bad = await startFakeUpstream({ labels });
    const edge = await startTestEdge(bad.url);
    try {
      const { body } = await edge.gql(CLASSIFY, { texts: ["hi"] });
      expect(codes(body)).toEqual(["MODEL_MISMATCH"]);
    } finally {
      await edge.dispose();
      await bad.close();
    }
  });

  it("verifies once per isolate, not per request", async () => {
    const fresh = await startFakeUpstream();
    const edge = await startTestEdge(fresh.url);
    try {
      await edge.gql(CLASSIFY, { texts: ["one"] });
      await edge.gql(CLASSIFY, { texts: ["two"] });
      expect(fresh.bundleFetches).toBe(1);
      expect(fresh.calls).toHaveLength(2);
    } finally {
      await edge.dispose();
      await fresh.close();
    }
  });
});

describe("HTTP policy", () => {
  it("answers CORS preflight explicitly", async () => {
    const response = await t.edge.yoga.fetch("http://edge.test/graphql", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(response.status).toBeLessThan(300);
    // "*" policy: yoga reflects the caller's origin (no credentials are ever allowed).
    expect(response.headers.get("access-control-allow-origin")).toMatch(/^(\*|https:\/\/app\.example)$/);
    expect(response.headers.get("access-control-allow-credentials")).not.toBe("true");
    expect(response.headers.get("access-control-allow-headers")).toMatch(/authorization/);
  });

  it("an explicit origin list refuses other origins", async () => {
    const edge = await startTestEdge(upstream.url, { corsOrigins: ["https://ok.example"] });
    try {
      const preflight = (origin: string) =>
        edge.edge.yoga.fetch("http://edge.test/graphql", {
          method: "OPTIONS",
          headers: { origin, "access-control-request-method": "POST" },
        });
      expect((await preflight("https://ok.example")).headers.get("access-control-allow-origin")).toBe(
        "https://ok.example",
      );
      expect((await preflight("https://evil.example")).headers.get("access-control-allow-origin")).not.toBe(
        "https://evil.example",
      );
    } finally {
      await edge.dispose();
    }
  });

  it("introspection can be turned off", async () => {
    const edge = await startTestEdge(upstream.url, { introspection: false });
    try {
      const { body } = await edge.gql("{ __schema { queryType { name } } }");
      expect(body.errors![0]!.message).toMatch(/introspection/i);
      expect((await edge.gql("{ __typename }")).body.data.__typename).toBe("Query");
    } finally {
      await edge.dispose();
    }
  });
});
