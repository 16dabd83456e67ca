/**
 * fast-check arbitraries for the GraphQL API: well-formed queries with hostile variables (huge,
 * empty, unicode, lone surrogates, wrong types), token soup, deep nesting, random bodies, content
 * types, methods and URLs. Each case becomes a Request for `yoga.fetch`.
 */
import fc from "fast-check";

export interface FuzzRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constant(""),
  fc.array(loneSurrogate, { maxLength: 8 }).map((a) => a.join("")),
  fc.integer({ min: 1990, max: 2010 }).map((n) => "a".repeat(n)),
  fc.integer({ min: 1, max: 1200 }).map((n) => "\u{1F600}".repeat(n)),
  fc.integer({ min: 1, max: 400 }).map((n) => "supercalifragilistic ".repeat(n)),
  fc.constantFrom(
    "\u0000",
    "\u200b\u200b",
    "e\u0301",
    "\uFEFF",
    "İ",
    "ß",
    "\r\n\t",
    "[CLS] [SEP] [UNK] [PAD]",
  ),
);

const OPERATIONS = [
  "query ($t: [String!]!) { classify(texts: $t) { intent { name } score outOfScope topK { score } } }",
  "query ($t: [String!]!, $k: Int) { classify(texts: $t, topK: $k) { intent { name } topK { intent { name } score } } }",
  "query ($t: [String!]!, $m: String) { classify(texts: $t, model: $m) { model { name } intent { name } } }",
  "query ($n: String!) { intent(name: $n) { name scenario } }",
  "query { intents { name } }",
  "query { models { name version } }",
];

const TOKENS = [
  "{",
  "}",
  "(",
  ")",
  "[",
  "]",
  ":",
  "!",
  "=",
  "$t",
  "$x",
  "...",
  "@include(if: true)",
  "@skip",
  "#c\n",
  "query",
  "mutation",
  "subscription",
  "fragment",
  "on",
  "Query",
  "classify",
  "texts",
  "topK",
  "model",
  "intent",
  "intents",
  "name",
  "score",
  "__schema",
  "__type",
  "__typename",
  '"a"',
  '"""b"""',
  "1",
  "-1",
  "1e999",
  "null",
  "true",
  "String!",
  "[String!]!",
  ",",
  "\u0000",
  "\uD800",
  "\\u0041",
];

const jsonish = fc.jsonValue({ maxDepth: 4 });

const variables = fc.oneof(
  fc.record({ t: fc.array(text, { maxLength: 300 }), k: fc.option(fc.integer(), { nil: undefined }) }),
  fc.record({ t: fc.array(text, { maxLength: 8 }), m: fc.option(fc.string(), { nil: undefined }) }),
  fc.record({ t: jsonish, k: jsonish, m: jsonish, n: jsonish }, { requiredKeys: [] }),
  fc.record({ n: fc.oneof(text, fc.string({ unit: "binary" })) }),
  jsonish,
);

const query = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...OPERATIONS) },
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((t) => t.join(" ")),
  fc.string({ maxLength: 200 }),
  fc.integer({ min: 1, max: 20_000 }).map((n) => `{${" intents {".repeat(n)} name${" }".repeat(n)} }`),
  fc.integer({ min: 1, max: 100_000 }).map((n) => `${"{".repeat(n)}${"}".repeat(n)}`),
  fc.integer({ min: 1, max: 5_000 }).map((n) => `{ ${"a: __typename ".repeat(n)} }`),
  fc
    .integer({ min: 1, max: 3_000 })
    .map(
      (n) =>
        `query ($t: [String!]!) { ${Array.from({ length: n }, (_, i) => `c${i}: classify(texts: $t) { score }`).join(" ")} }`,
    ),
  fc
    .integer({ min: 1, max: 50_000 })
    .map((n) => `query { intents { name${" @include(if: true)".repeat(n)} } }`),
  fc.constant("fragment A on Query { ...B } fragment B on Query { ...A } query { ...A }"),
);

const graphqlJson = fc
  .record(
    {
      query: fc.oneof({ weight: 5, arbitrary: query }, jsonish),
      variables: fc.oneof({ weight: 5, arbitrary: variables }, fc.constant(null)),
      operationName: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 10 }), jsonish),
      extensions: fc.oneof(fc.constant(undefined), jsonish),
    },
    { requiredKeys: ["query"] },
  )
  .map(
    (body): FuzzRequest => ({
      kind: "json",
      method: "POST",
      path: "/graphql",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );

const deepVariables = fc.integer({ min: 1, max: 50_000 }).map(
  (n): FuzzRequest => ({
    kind: "deep-variables",
    method: "POST",
    path: "/graphql",
    headers: { "content-type": "application/json" },
    body: `{"query":"query ($t: [String!]!) { classify(texts: $t) { score } }","variables":{"t":${"[".repeat(n)}${"]".repeat(n)}}}`,
  }),
);

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-16",
  "application/graphql",
  "application/graphql-response+json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "",
];

const rawBody = fc
  .record({
    method: fc.constantFrom("POST", "POST", "GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"),
    contentType: fc.constantFrom(...CONTENT_TYPES),
    body: fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }),
      jsonish.map((v) => JSON.stringify(v)),
      fc.constant(""),
      fc.constant('{"query":'),
      fc.constant("[]"),
      fc.constant('[{"query":"{ intents { name } }"}]'),
    ),
    path: fc.oneof(
      fc.constant("/graphql"),
      fc.constantFrom("/", "/graphql/", "/GRAPHQL", "/graphql?query=%7B__typename%7D", "/graphiql", "/..%2f"),
      fc.webPath().map((p) => p || "/"),
    ),
    query: fc.option(fc.webQueryParameters(), { nil: undefined }),
  })
  .map(
    ({ method, contentType, body, path, query }): FuzzRequest => ({
      kind: "raw",
      method,
      path: query === undefined || path.includes("?") ? path : `${path}?${query}`,
      headers: contentType === "" ? {} : { "content-type": contentType },
      body: method === "GET" || method === "HEAD" ? null : body,
    }),
  );

const getQuery = fc
  .record({ q: query, v: fc.option(variables, { nil: undefined }) })
  .map(({ q, v }): FuzzRequest => {
    const params = new URLSearchParams({ query: q });
    if (v !== undefined) params.set("variables", JSON.stringify(v));
    return { kind: "get", method: "GET", path: `/graphql?${params}`, headers: {}, body: null };
  });

export const graphqlRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 6, arbitrary: graphqlJson },
  { weight: 1, arbitrary: deepVariables },
  { weight: 2, arbitrary: rawBody },
  { weight: 1, arbitrary: getQuery },
);

export interface Verdict {
  ok: boolean;
  /** "data", an error code, or what is wrong with the answer. */
  outcome: string;
  problem?: string;
}

const INTERNALS = [
  /\bat .*\(.*:\d+:\d+\)/,
  /\.ts:\d+/,
  /node_modules/,
  /\/work\//,
  /127\.0\.0\.1/,
  /file:\/\//,
];

/** Every answer must be < 500, JSON, and either data or errors that each carry a message and a code. */
export function judgeGraphqlAnswer(
  method: string,
  status: number,
  text: string,
  upstreamUrl: string,
): Verdict {
  if (status >= 500)
    return { ok: false, outcome: `HTTP_${status}`, problem: `status ${status}: ${text.slice(0, 300)}` };
  for (const pattern of [...INTERNALS, new RegExp(upstreamUrl.replace(/[.:/]/g, "\\$&"))])
    if (pattern.test(text))
      return { ok: false, outcome: "LEAK", problem: `answer reveals ${pattern}: ${text.slice(0, 300)}` };
  if (method === "HEAD" || (method === "OPTIONS" && text === ""))
    return { ok: true, outcome: `HTTP_${status}` };
  if (status === 404 && text === "") return { ok: true, outcome: "HTTP_404" };
  let body: { data?: unknown; errors?: { message?: unknown; extensions?: { code?: unknown } }[] };
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, outcome: "NOT_JSON", problem: `status ${status}, not JSON: ${text.slice(0, 300)}` };
  }
  if (body === null || typeof body !== "object")
    return { ok: false, outcome: "NOT_OBJECT", problem: text.slice(0, 300) };
  if (body.errors === undefined) {
    if (status === 200 && body.data !== undefined && body.data !== null) return { ok: true, outcome: "data" };
    return {
      ok: false,
      outcome: "NO_ERRORS",
      problem: `status ${status} without data or errors: ${text.slice(0, 300)}`,
    };
  }
  if (!Array.isArray(body.errors) || body.errors.length === 0)
    return { ok: false, outcome: "BAD_ERRORS", problem: text.slice(0, 300) };
  for (const e of body.errors) {
    if (typeof e.message !== "string" || typeof e.extensions?.code !== "string")
      return {
        ok: false,
        outcome: "NO_CODE",
        problem: `an error without message or extensions.code: ${text.slice(0, 300)}`,
      };
  }
  return { ok: true, outcome: String(body.errors[0]!.extensions!.code) };
}
