/**
 * Issue 11 in-process (`edge.fetch`, real D1 through Miniflare, a fake V2 upstream): deny by
 * default, key-less development reads, the key admin surface, the key cache's D1 reads and
 * failures, bounded model verification, calibration validation, subscription polling, Armor's codes.
 * Worker-specific behaviour (routing, bindings, CPU and memory in workerd) is in
 * test/integration/edge/security.test.ts.
 */

import type { D1Database } from "@cloudflare/workers-types";
import { parseApiKey } from "@intentql/edge";
import SchemaBuilder from "@pothos/core";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import { getIntrospectionQuery, Kind, type OperationDefinitionNode, parse } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEdge, type EdgeOptions } from "../../../edge/src/app.ts";
import { KeyStore } from "../../../edge/src/auth/api-keys.ts";
import { fieldsWithoutScopes, schema } from "../../../edge/src/graphql/index.ts";
import { memoryRateLimiter, TokenBuckets } from "../../../edge/src/limits/rate-limiter.ts";
import { introspectionListNesting } from "../../../edge/src/plugins/use-introspection-policy.ts";
import { instrumentD1, startD1 } from "../../support/d1.ts";
import { createKey, readBundleAssets, startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";

type Body = { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
const codes = (body: Body) => (body.errors ?? []).map((e) => e.extensions?.code);

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream?.close();
});

describe("deny by default", () => {
  it("every field of the served schema declares its scopes", () => {
    expect(fieldsWithoutScopes(schema)).toEqual([]);
  });

  it("a field added without authScopes is reported (and index.ts refuses to build such a schema)", () => {
    const builder = new SchemaBuilder<{ AuthScopes: { admin: boolean } }>({
      plugins: [ScopeAuthPlugin],
      scopeAuth: { authScopes: () => ({ admin: false }) },
    });
    builder.queryType({});
    builder.queryField("scoped", (t) => t.string({ authScopes: { admin: true }, resolve: () => "" }));
    builder.queryField("open", (t) => t.string({ resolve: () => "" }));
    const Thing = builder.objectRef<{ a: string }>("Thing").implement({
      fields: (t) => ({ a: t.exposeString("a") }),
    });
    builder.queryField("thing", (t) =>
      t.field({ type: Thing, authScopes: { admin: true }, resolve: () => ({ a: "" }) }),
    );
    expect(fieldsWithoutScopes(builder.toSchema()).sort()).toEqual(["Query.open", "Thing.a"]);
  });
});

describe("key-less callers", () => {
  it("production: 401 for every operation, the catalog and introspection included", async () => {
    const t = await startTestEdge(upstream.url);
    try {
      for (const q of ["{ intents { name } }", "{ __schema { queryType { name } } }", "{ __typename }"])
        expect((await t.gql(q, undefined, { key: null })).status, q).toBe(401);
    } finally {
      await t.dispose();
    }
  });

  it("development: the catalog and introspection only (catalog scope), nothing a key scope guards", async () => {
    const t = await startTestEdge(upstream.url, { development: true });
    try {
      const catalog = await t.gql(
        "{ intents { name } scenarios __schema { queryType { name } } }",
        undefined,
        {
          key: null,
        },
      );
      expect(catalog.status).toBe(200);
      expect(catalog.body.data.intents).toHaveLength(60);
      for (const q of [
        '{ classify(texts: ["hi"]) { score } }',
        "{ evalRuns { id } }",
        "{ apiKeys { id } }",
      ]) {
        const { body } = await t.gql(q, undefined, { key: null });
        expect(codes(body), q).toEqual(["UNAUTHENTICATED"]);
      }
      const models = await t.gql("{ models { name test { accuracy } } }", undefined, { key: null });
      expect(models.body.errors).toBeUndefined();
      // a subscription over SSE is refused the same way (the 401 keeps its code as its body turns JSON)
      const query = encodeURIComponent('subscription { evalRunProgress(id: "x") { id } }');
      const sse = await t.edge.fetch(
        new Request(`http://127.0.0.1/graphql?query=${query}`, { headers: { accept: "text/event-stream" } }),
      );
      expect(sse.status).toBe(401);
      expect(codes((await sse.json()) as Parameters<typeof codes>[0])).toEqual(["UNAUTHENTICATED"]);
    } finally {
      await t.dispose();
    }
  });
});

describe("API key admin surface", () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge(upstream.url);
  });
  afterAll(async () => {
    await t.dispose();
  });

  it("creates a key (secret shown once, stored only as an HMAC), lists it, and revokes it at once", async () => {
    const created = await t.gql(
      'mutation { createApiKey(name: "chatbot", scopes: [classify]) { key apiKey { id name scopes createdAt revokedAt } } }',
    );
    expect(created.body.errors).toBeUndefined();
    const { key, apiKey } = created.body.data.createApiKey;
    expect(parseApiKey(key)?.id).toBe(apiKey.id);
    expect(apiKey).toMatchObject({ name: "chatbot", scopes: ["classify"], revokedAt: null });
    const row = await t.db
      .prepare("SELECT * FROM api_keys WHERE id = ?")
      .bind(apiKey.id)
      .first<Record<string, string>>();
    // iql_<12 hex>_<secret>: the secret starts at 17 (key.split("_") would cut a secret holding "_").
    const secret = key.slice(17);
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row!.key_hash).toMatch(/^[0-9a-f]{64}$/);

    expect((await t.gql('{ classify(texts: ["hi"]) { score } }', undefined, { key })).status).toBe(200);
    expect(codes((await t.gql("{ evalRuns { id } }", undefined, { key })).body)).toEqual(["FORBIDDEN"]);

    const listed = await t.gql("{ apiKeys { id name scopes } }");
    expect(listed.body.data.apiKeys).toContainEqual({ id: apiKey.id, name: "chatbot", scopes: ["classify"] });
    expect(JSON.stringify(listed.body)).not.toContain(key);

    const revoked = await t.gql("mutation ($id: ID!) { revokeApiKey(id: $id) { revokedAt } }", {
      id: apiKey.id,
    });
    expect(revoked.body.data.revokeApiKey.revokedAt).not.toBeNull();
    expect((await t.gql("{ scenarios }", undefined, { key })).status).toBe(401);
    const active = await t.gql("{ apiKeys { id } }");
    expect(active.body.data.apiKeys.map((k: { id: string }) => k.id)).not.toContain(apiKey.id);
    const all = await t.gql("{ apiKeys(includeRevoked: true) { id } }");
    expect(all.body.data.apiKeys.map((k: { id: string }) => k.id)).toContain(apiKey.id);
  });

  it("eval results on intents need the eval scope: a classify key reads the catalog, not latestMetrics, in any form", async () => {
    const classifyKey = await createKey(t.db, ["classify"]);
    const evalKey = await createKey(t.db, ["eval"]);
    for (const query of [
      '{ intent(name: "alarm_set") { name latestMetrics { f1 } } }',
      '{ intent(name: "alarm_set") { name m: latestMetrics { support } } }',
      '{ intent(name: "alarm_set") { name ...M } } fragment M on Intent { latestMetrics { evalRunId } }',
      '{ intent(name: "alarm_set") { name ... on Intent { latestMetrics { recall } } } }',
      '{ intents(scenario: "alarm") { name latestMetrics { precision } } }',
      "{ models { labels { name latestMetrics { f1 } } } }",
    ]) {
      const denied = await t.gql(query, undefined, { key: classifyKey });
      expect(denied.status, query).toBe(200);
      expect(new Set(codes(denied.body)), query).toEqual(new Set(["FORBIDDEN"]));
      expect(JSON.stringify(denied.body.data), query).toContain("alarm_");
      const allowed = await t.gql(query, undefined, { key: evalKey });
      expect(allowed.body.errors, query).toBeUndefined();
    }
  });

  it("needs the admin scope; refuses bad names, no scopes, unknown scopes and unknown ids with coded errors", async () => {
    const classifyKey = await createKey(t.db, ["classify", "eval"]);
    const denied = await t.gql('mutation { createApiKey(name: "x", scopes: [admin]) { key } }', undefined, {
      key: classifyKey,
    });
    expect(codes(denied.body)).toEqual(["FORBIDDEN"]);
    expect(JSON.stringify(denied.body)).not.toMatch(/iql_/);
    expect(codes((await t.gql('mutation { createApiKey(name: " ", scopes: [eval]) { key } }')).body)).toEqual(
      ["BAD_USER_INPUT"],
    );
    expect(codes((await t.gql('mutation { createApiKey(name: "x", scopes: []) { key } }')).body)).toEqual([
      "BAD_USER_INPUT",
    ]);
    for (const name of ["evil\u202egnp", "ring\u0007bell", "x".repeat(101)]) {
      const refused = await t.gql(
        "mutation ($n: String!) { createApiKey(name: $n, scopes: [eval]) { key } }",
        {
          n: name,
        },
      );
      expect(codes(refused.body), name).toEqual(["BAD_USER_INPUT"]);
    }
    expect(codes((await t.gql('mutation { createApiKey(name: "x", scopes: [root]) { key } }')).body)).toEqual(
      ["GRAPHQL_VALIDATION_FAILED"],
    );
    expect(codes((await t.gql('mutation { revokeApiKey(id: "000000000000") { id } }')).body)).toEqual([
      "BAD_USER_INPUT",
    ]);
  });
});

describe("keys that scale: verified keys cached per isolate", () => {
  async function edgeWithCountingD1(extra: Partial<EdgeOptions> = {}) {
    const d1 = await startD1();
    const real = d1.db;
    const counting = instrumentD1(real, "FROM api_keys WHERE id");
    const edge = createEdge({
      assets: readBundleAssets(),
      db: counting.db,
      pepper: "p",
      upstream: { url: upstream.url, model: "massive-scratch" },
      limiters: { requestsPerKey: memoryRateLimiter(new TokenBuckets(1e6, 1e6)) },
      ...extra,
    });
    const key = await createKey(real, ["classify"], "p");
    const ask = async (k = key) =>
      edge.fetch(
        new Request("http://edge.test/graphql", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${k}` },
          body: JSON.stringify({ query: "{ scenarios }" }),
        }),
      );
    return { edge, key, ask, state: counting.state, dispose: () => d1.dispose() };
  }

  it("1,000 requests with one key read D1 once (≤ 20 allowed)", async () => {
    const e = await edgeWithCountingD1();
    try {
      for (let i = 0; i < 1000; i += 50)
        await Promise.all(Array.from({ length: 50 }, async () => expect((await e.ask()).status).toBe(200)));
      console.log(`D1 key reads for 1,000 requests: ${e.state.count}`);
      expect(e.state.count).toBeLessThanOrEqual(20);
      expect(e.state.count).toBeGreaterThanOrEqual(1);
    } finally {
      await e.dispose();
    }
  });

  it("a key-store failure is 503 KEY_STORE_UNAVAILABLE with Retry-After; keys already verified keep working", async () => {
    const e = await edgeWithCountingD1();
    try {
      expect((await e.ask()).status).toBe(200);
      e.state.fail = true;
      expect((await e.ask()).status).toBe(200); // cached
      const other = await createKey(
        // a key the isolate has not seen: it needs D1, which is down
        (await startD1()).db,
        ["classify"],
        "p",
      );
      const refused = await e.ask(other);
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(codes((await refused.json()) as Body)).toEqual(["KEY_STORE_UNAVAILABLE"]);
    } finally {
      await e.dispose();
    }
  });
});

describe("revocation in the isolate that revokes", () => {
  it("wins over a key read already in flight: its stale 'valid' row is neither answered nor cached", async () => {
    const d1 = await startD1();
    try {
      const key = await createKey(d1.db, ["classify"], "p");
      const { id } = parseApiKey(key)!;
      // The key read happens at once (it sees the key valid) and its answer is held until released:
      // the revocation below commits while it is in flight.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const slowReads = new Proxy(d1.db, {
        get(target, property) {
          if (property === "prepare")
            return (sql: string) => {
              const statement = target.prepare(sql);
              if (!sql.includes("key_hash")) return statement;
              return {
                bind: (...values: unknown[]) => {
                  const bound = statement.bind(...values);
                  return {
                    first: async () => {
                      const row = await bound.first();
                      await held;
                      return row;
                    },
                  };
                },
              };
            };
          const value = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }) as D1Database;
      const store = new KeyStore({ db: slowReads, pepper: "p" });
      const inFlight = store.verify(key);
      await new Promise((r) => setTimeout(r, 50)); // the read has seen the row
      expect((await store.revoke(id))?.revokedAt).toEqual(expect.any(String));
      release();
      expect(await inFlight).toBe("revoked");
      expect(await store.verify(key)).toBe("revoked"); // and nothing valid was cached
      // another key's read in flight across the revocation is not affected
      const other = await createKey(d1.db, ["classify"], "p");
      expect(await store.verify(other)).toEqual(expect.objectContaining({ keyId: parseApiKey(other)!.id }));
    } finally {
      await d1.dispose();
    }
  });
});

describe("bounded model verification", () => {
  it("a broken upstream bundle is checked once per failure TTL, not once per request", async () => {
    const bad = await startFakeUpstream({
      manifestPatch: (m) => {
        (m.tokenizer as Record<string, unknown>).vocabSha256 = "0".repeat(64);
      },
    });
    const t = await startTestEdge(bad.url);
    try {
      for (let i = 0; i < 30; i++)
        expect(codes((await t.gql('{ classify(texts: ["hi"]) { score } }')).body)).toEqual([
          "MODEL_MISMATCH",
        ]);
      expect(bad.bundleFetches).toBeLessThanOrEqual(2); // bundle.json + labels.json, once
      expect(bad.requests.filter((r) => r.endsWith("/v2/models"))).toHaveLength(1);
    } finally {
      await t.dispose();
      await bad.close();
    }
  });

  it.each([
    ["temperature 0", { temperature: 0 }],
    ["temperature -1", { temperature: -1 }],
    ["threshold 2", { threshold: 2 }],
  ])("an upstream calibration with %s is MODEL_MISMATCH, never NaN scores", async (_name, patch) => {
    const bad = await startFakeUpstream({
      manifestPatch: (m) => {
        const c = m.calibration as { temperature: number; outOfScope: { threshold: number } };
        if ("temperature" in patch) c.temperature = patch.temperature!;
        if ("threshold" in patch) c.outOfScope.threshold = patch.threshold!;
      },
    });
    const t = await startTestEdge(bad.url);
    try {
      const { body } = await t.gql('{ classify(texts: ["hi"]) { score } }');
      expect(codes(body)).toEqual(["MODEL_MISMATCH"]);
      expect(body.errors![0]!.message).toMatch(/calibration|threshold|temperature/);
      expect(bad.calls).toHaveLength(0);
    } finally {
      await t.dispose();
      await bad.close();
    }
  });
});

describe("GraphQL Armor, with this API's codes", () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge(upstream.url);
  });
  afterAll(async () => {
    await t.dispose();
  });
  it.each([
    ["TOO_MANY_ALIASES", `{ ${Array.from({ length: 21 }, (_, i) => `a${i}: scenarios`).join(" ")} }`],
    ["TOO_MANY_DIRECTIVES", `{ scenarios ${"@include(if: true) ".repeat(21)} }`],
    ["QUERY_TOO_LARGE", `{ classify(texts: [${'"a",'.repeat(3000)}]) { score } }`],
    [
      "QUERY_TOO_DEEP",
      // The schema has no path deeper than 8, so only a document that also fails validation reaches it.
      "{ a { b { c { d { e { f { g { h { i { j } } } } } } } } } }",
    ],
  ])("%s", async (code, query) => {
    const before = upstream.calls.length;
    const { status, body } = await t.gql(query);
    expect(status).toBeLessThan(500);
    expect(codes(body)).toContain(code);
    expect(upstream.calls.length).toBe(before);
  });

  it("hides field suggestions in production (no schema mapping by typos)", async () => {
    const { body } = await t.gql("{ intens { name } }");
    expect(body.errors![0]!.message).not.toMatch(/Did you mean/);
  });

  it("@skip/@include on a subscription's root field is a validation error, not a 500 (fuzz)", async () => {
    const { status, body } = await t.gql('subscription { evalRunProgress(id: "1") @skip(if: true) { id } }');
    expect(status).toBe(200); // GraphQL over HTTP: validation errors are 200 for application/json
    expect(codes(body)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
  });
});

describe("introspection list nesting (cyclic introspection)", () => {
  const nesting = (query: string) => {
    const doc = parse(query);
    const fragments = new Map(
      doc.definitions.flatMap((d) =>
        d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [],
      ),
    );
    const op = doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;
    return introspectionListNesting(op.selectionSet, (name) => fragments.get(name));
  };
  it("the standard introspection query nests 3 lists", () => {
    expect(nesting(getIntrospectionQuery())).toBe(3);
  });
  it("counts through fragments, ignores ordinary fields named like lists", () => {
    expect(
      nesting("{ __schema { types { ...F } } } fragment F on __Type { fields { type { fields { name } } } }"),
    ).toBe(3);
    expect(
      nesting('{ __type(name: "Query") { fields { type { fields { type { fields { name } } } } } } }'),
    ).toBe(3);
    expect(nesting("{ evalRuns { metrics { perIntent { intent { name } } } } }")).toBe(0);
  });
  it("is refused above 3 with QUERY_TOO_DEEP, the standard query is answered", async () => {
    const t = await startTestEdge(upstream.url);
    try {
      const bomb = await t.gql(
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
      );
      expect(codes(bomb.body)).toContain("QUERY_TOO_DEEP");
      const standard = await t.gql(getIntrospectionQuery());
      expect(standard.body.errors).toBeUndefined();
    } finally {
      await t.dispose();
    }
  });
});
