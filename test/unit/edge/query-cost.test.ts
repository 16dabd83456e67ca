/**
 * Query cost with the request's own argument values (edge/src/plugins/use-query-cost.ts): a page
 * size given as a variable, as a literal or left to its default costs the same, in fragments and
 * aliases too, and an operation over the limit is refused whole before anything runs.
 */
import { parse } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUN_DETAIL, RUN_FIELDS } from "../../../edge/dashboard/graphql.ts";
import { schema } from "../../../edge/src/graphql/index.ts";
import { memoryRateLimiter, TokenBuckets } from "../../../edge/src/limits/rate-limiter.ts";
import { measureQueryCost, QUERY_COST_DEFAULTS } from "../../../edge/src/plugins/use-query-cost.ts";
import { startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";

const { maxCost } = QUERY_COST_DEFAULTS;
const cost = (query: string, variableValues: Record<string, unknown> = {}, operationName?: string) =>
  measureQueryCost({ schema, document: parse(query), variableValues, operationName }, maxCost).cost;

const PAGE =
  "misclassified(first: $n) { edges { node { index text score gold { name } predicted { name } } } pageInfo { hasNextPage endCursor } }";

let upstream: FakeUpstream;
let t: TestEdge;
beforeAll(async () => {
  upstream = await startFakeUpstream();
  t = await startTestEdge(upstream.url, {
    limiters: { requestsPerKey: memoryRateLimiter(new TokenBuckets(1000, 1000)) },
  });
});
afterAll(async () => {
  await t?.dispose();
  await upstream?.close();
});

const codes = (body: { errors?: { extensions?: { code?: string } }[] }) =>
  (body.errors ?? []).map((e) => e.extensions?.code);

describe("query cost", () => {
  it("prices a variable, a literal and a default alike", () => {
    const literal = cost(
      "{ evalRuns(first: 500) { misclassified(first: 500) { edges { node { text } } } } }",
    );
    const variables = cost(
      "query ($a: Int, $b: Int) { evalRuns(first: $a) { misclassified(first: $b) { edges { node { text } } } } }",
      { a: 500, b: 500 },
    );
    expect(variables).toBe(literal);
    expect(literal).toBe(755_501); // the figure use-query-cost.ts quotes
    // defaults: evalRuns 50, misclassified 20
    expect(cost("{ evalRuns { misclassified { edges { node { text } } } } }")).toBe(
      cost("{ evalRuns(first: 50) { misclassified(first: 20) { edges { node { text } } } } }"),
    );
    // a variable left out takes the argument's default, and page sizes are clamped as the resolvers clamp them
    expect(cost("query ($n: Int) { evalRuns(first: $n) { id } }")).toBe(
      cost("{ evalRuns(first: 50) { id } }"),
    );
    // an explicit null skips the default, and the resolvers then use it: priced the same
    expect(cost("{ evalRuns(first: null) { misclassified(first: null) { edges { node { text } } } } }")).toBe(
      cost("{ evalRuns(first: 50) { misclassified(first: 20) { edges { node { text } } } } }"),
    );
    expect(cost("query ($n: Int) { evalRuns(first: $n) { id } }", { n: null })).toBe(
      cost("{ evalRuns(first: 50) { id } }"),
    );
    expect(cost("{ evalRuns(first: 100000) { id } }")).toBe(cost("{ evalRuns(first: 500) { id } }"));
    expect(cost("{ evalRuns(first: -5) { id } }")).toBe(cost("{ evalRuns(first: 1) { id } }"));
    // a fragment costs what its text would cost inline, once per use
    const inline = cost(`query ($n: Int) { evalRun(id: "r") { ${PAGE} } }`, { n: 500 });
    const spread = cost(`query ($n: Int) { evalRun(id: "r") { ...P } } fragment P on EvalRun { ${PAGE} }`, {
      n: 500,
    });
    expect(spread).toBe(inline);
    expect(
      cost(
        `query ($n: Int) { a: evalRun(id: "r") { ...P } b: evalRun(id: "r") { ...P } } fragment P on EvalRun { ${PAGE} }`,
        { n: 500 },
      ),
    ).toBe(2 * inline);
  });

  it("prices datasets by the page it asks for, and a lookup by rows as one", () => {
    const fields = "id name splits { name count }";
    expect(cost(`{ datasets(first: 200) { ${fields} } }`)).toBeGreaterThan(
      10 * cost(`{ datasets(first: 10) { ${fields} } }`),
    );
    expect(cost(`{ datasets(first: 100000) { ${fields} } }`)).toBe(
      cost(`{ datasets(first: 200) { ${fields} } }`),
    );
    expect(cost(`query ($n: Int) { datasets(first: $n) { ${fields} } }`, { n: 200 })).toBe(
      cost(`{ datasets(first: 200) { ${fields} } }`),
    );
    expect(cost(`{ datasets { ${fields} } }`)).toBe(cost(`{ datasets(first: 50) { ${fields} } }`));
    expect(cost(`{ datasets(sha256: "x", first: 200) { ${fields} } }`)).toBe(
      cost(`{ datasets(first: 1) { ${fields} } }`),
    );
    // twenty aliases of the largest page: over the limit (session 15's attack asked this of 5,000 datasets)
    const flood = `{ ${Array.from({ length: 20 }, (_, i) => `d${i}: datasets(first: 200) { ${fields} }`).join(" ")} }`;
    expect(cost(flood)).toBeGreaterThan(QUERY_COST_DEFAULTS.maxCost);
  });

  it("leaves room for the dashboard's queries and one full page of misclassified texts", () => {
    const dashboard = [
      `query Runs { evalRuns(first: 100) { ${RUN_FIELDS} } }`,
      `query Run($id: ID!) { evalRun(id: $id) { ${RUN_DETAIL} } }`,
      `query Errors($id: ID!) { evalRun(id: $id) { misclassified(first: 25) { edges { node { index text score gold { name } predicted { name } } } pageInfo { hasNextPage endCursor } } } }`,
      "query Compare($a: ID!, $b: ID!) { compareEvalRuns(a: $a, b: $b) { accuracyDelta f1MacroDelta intents { intent { name } f1A f1B delta support } } }",
    ].map((q) => cost(q, { id: "r", a: "r", b: "s" }));
    expect(dashboard.slice(0, 2)).toEqual([2_801, 4_135]); // the figures use-query-cost.ts quotes
    expect(Math.max(...dashboard)).toBe(4_135);
    const fullPage = cost(`query ($n: Int) { evalRun(id: "r") { ${PAGE} } }`, { n: 500 });
    expect(fullPage).toBe(6_002); // the figure use-query-cost.ts quotes
    expect(4 * fullPage).toBeLessThanOrEqual(maxCost);
    // 256 texts, each with its top intents and their descriptions
    const texts = Array.from({ length: 256 }, (_, i) => `text ${i}`);
    expect(
      cost(
        "query ($t: [String!]!) { classify(texts: $t, topK: 5) { intent { name description examples } topK { intent { name } score } score outOfScope } }",
        { t: texts },
      ),
    ).toBeLessThan(maxCost);
  });

  it("refuses an operation over the limit whole, whatever form its page sizes take", async () => {
    const forms: [string, Record<string, unknown>?][] = [
      ["{ evalRuns(first: 500) { misclassified(first: 500) { edges { node { text } } } } }"],
      [
        "query ($n: Int) { evalRuns(first: $n) { misclassified(first: $n) { edges { node { text } } } } }",
        { n: 500 },
      ],
      [
        "query ($n: Int) { ...R } fragment R on Query { evalRuns(first: $n) { misclassified(first: $n) { edges { node { text } } } } }",
        { n: 500 },
      ],
      // 20 aliases of a page within the limit alone: refused together
      [
        `query ($n: Int) { ${Array.from({ length: 20 }, (_, i) => `a${i}: evalRun(id: "r") { ${PAGE} }`).join(" ")} }`,
        { n: 500 },
      ],
      // defaults: 50 runs × 20 texts, in 20 aliases
      [
        `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: evalRuns { misclassified { edges { node { text gold { name description examples } } } } }`).join(" ")} }`,
      ],
      // scalar lists are priced by their values: 16 aliases of 500 runs' confusion matrices (57 MB
      // of JSON when each cost one field), and one alias of them
      [
        `query ($n: Int) { ${Array.from({ length: 16 }, (_, i) => `a${i}: evalRuns(first: $n) { metrics { confusion { counts } } }`).join(" ")} }`,
        { n: 500 },
      ],
      ["{ evalRuns(first: 500) { metrics { confusion { labels counts } } } }"],
      // each listed run is read whole, whatever is selected: 20 aliases of 500 ids, and of their datasets
      [
        `query ($n: Int) { ${Array.from({ length: 20 }, (_, i) => `a${i}: evalRuns(first: $n) { id }`).join(" ")} }`,
        { n: 500 },
      ],
      [
        `query ($n: Int) { ${Array.from({ length: 20 }, (_, i) => `a${i}: evalRuns(first: $n) { dataset { id } }`).join(" ")} }`,
        { n: 500 },
      ],
      // explicit nulls, which skip the defaults (the resolvers then use them)
      [
        `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: evalRuns(first: null) { misclassified(first: null) { edges { node { text } } } }`).join(" ")} }`,
      ],
    ];
    for (const [query, variables] of forms) {
      const { status, body } = await t.gql(query, variables);
      expect(codes(body), query).toEqual(["QUERY_TOO_COSTLY"]);
      expect(body.data ?? null, query).toBeNull();
      expect(status).toBeLessThan(500);
    }
    // the same page alone passes the check (and reaches the resolver, which has no eval runner here)
    const one = await t.gql(`query ($n: Int) { evalRun(id: "r") { ${PAGE} } }`, { n: 500 });
    expect(codes(one.body)).not.toContain("QUERY_TOO_COSTLY");
    // as do one run's confusion matrix and a full page of run ids
    expect(cost('{ evalRun(id: "r") { metrics { confusion { labels counts } } } }')).toBe(3_663);
    expect(cost("{ evalRuns(first: 500) { id dataset { name } } }")).toBe(6_501);
  });

  it("checks subscriptions too", async () => {
    const { body } = await t.gql(
      `subscription ($n: Int) { evalRunProgress(id: "r") { ${Array.from({ length: 20 }, (_, i) => `m${i}: ${PAGE}`).join(" ")} } }`,
      { n: 500 },
    );
    expect(codes(body)).toContain("QUERY_TOO_COSTLY");
  });
});
