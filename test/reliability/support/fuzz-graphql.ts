/**
 * fast-check arbitraries for the GraphQL API: well-formed queries with hostile variables (huge,
 * empty, unicode, lone surrogates, wrong types), token soup, deep nesting, random bodies, content
 * types, methods and URLs; and hostile documents, one kind each (fragment bombs and cycles,
 * fragments on wrong types, unused fragments, nested inline fragments, alias and directive floods,
 * literal texts, escapes, topK and model names, several operations, mutations, subscriptions,
 * introspection, ~100 KB padded documents), sent by POST or GET to /graphql and paths next to it.
 * Each case becomes a Request for `yoga.fetch`; every one is determined by the fast-check seed.
 */

import fc from "fast-check";
import { getIntrospectionQuery } from "graphql";
import { mulberry32 } from "../../support/prng.ts";

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

// ---------------------------------------------------------------------------------------------
// Hostile documents: what an attacker writes in the query itself (fragment bombs and cycles,
// alias and directive floods, literal arguments, many operations, introspection, padding). Each
// is a kind of its own; sizes come from fast-check integers and the big strings are built with
// repeat/join (and a seeded PRNG for variety), so every case is deterministic given the seed and
// generating one costs little even at ~100 KB.
// ---------------------------------------------------------------------------------------------

/** A document of one hostile kind, before it is put on the wire. */
interface HostileDocument {
  kind: string;
  query: string;
  variables?: unknown;
  operationName?: unknown;
}

/** Upper bound on a generated document, in UTF-8 bytes (its JSON body is larger where it escapes). */
const MAX_DOCUMENT = 100_000;

const utf8 = (s: string): number => Buffer.byteLength(s, "utf8");

/** How many units (a length in bytes, or the string repeated) fit in a document next to `reserve` bytes. */
const fit = (wanted: number, unit: number | string, reserve = 400): number => {
  const size = typeof unit === "string" ? utf8(unit) : unit;
  return Math.max(1, Math.min(wanted, Math.floor((MAX_DOCUMENT - reserve) / Math.max(1, size))));
};

/** `f(0) … f(n - 1)` joined by `sep`, stopping (after at least one) before the document would pass the cap. */
function upTo(n: number, f: (i: number) => string, sep = " ", reserve = 400): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; i < n; i++) {
    const part = f(i);
    size += utf8(part) + sep.length;
    if (size > MAX_DOCUMENT - reserve && i > 0) break;
    parts.push(part);
  }
  return parts.join(sep);
}

/** A GraphQL string literal (JSON's string syntax is GraphQL's). */
const lit = (s: string): string => JSON.stringify(s);

/** A seeded PRNG scaled to [0, n), for variety inside big strings (fast-check draws only the seed). */
function prng(seed: number): (n: number) => number {
  const next = mulberry32(seed);
  return (n) => next() * n;
}
const seed = fc.integer({ min: 0, max: 0x7fffffff });
const pick = <T>(r: (n: number) => number, items: readonly T[]): T => items[Math.floor(r(items.length))]!;
const times = (n: number, f: (i: number) => string, sep = " "): string =>
  Array.from({ length: n }, (_, i) => f(i)).join(sep);

const UTTERANCES = [
  "wake me up at seven",
  "what's the weather",
  "",
  " ",
  "play jazz",
  "réveille-moi à sept heures",
  "今日の天気は",
  "\u{1F600}\u{1F600}",
  "[CLS] [SEP]",
  "a".repeat(2001),
];

/** N fragments, each spreading the next k times: k^N fields once expanded. */
const fragmentBomb = fc
  .record({
    n: fc.integer({ min: 1, max: 40 }),
    k: fc.integer({ min: 2, max: 4 }),
    shape: fc.constantFrom("spread", "inline", "directive", "list", "classify", "variable", "aliased"),
    fragmentsFirst: fc.boolean(),
  })
  .map(({ n, k, shape, fragmentsFirst }): HostileDocument => {
    const on = shape === "list" ? "Intent" : "Query";
    const leaf =
      shape === "list"
        ? "name scenario"
        : shape === "classify"
          ? 'classify(texts: ["bomb"]) { score }'
          : shape === "variable"
            ? "classify(texts: $t, topK: 3) { score }"
            : shape === "aliased"
              ? "a: __typename b: intents { name }"
              : "__typename";
    const spread = (i: number): string =>
      shape === "inline"
        ? `... on ${on} { ...F${i} }`
        : shape === "directive"
          ? `...F${i} @include(if: true)`
          : `...F${i}`;
    const fragments = times(
      n,
      (i) => `fragment F${i} on ${on} { ${i === n - 1 ? leaf : times(k, () => spread(i + 1))} }`,
      "\n",
    );
    const operation =
      shape === "list"
        ? "query { intents { ...F0 } }"
        : shape === "variable"
          ? "query ($t: [String!]!) { ...F0 }"
          : "query { ...F0 }";
    return {
      kind: "fragment-bomb",
      query: fragmentsFirst ? `${fragments}\n${operation}` : `${operation}\n${fragments}`,
      ...(shape === "variable" ? { variables: { t: ["wake me up"] } } : {}),
    };
  });

/** Fragments spreading each other in a cycle (self-spreads, through inline fragments, unused ones). */
const fragmentCycle = fc
  .record({
    n: fc.integer({ min: 1, max: 30 }),
    k: fc.integer({ min: 1, max: 3 }),
    shape: fc.constantFrom("direct", "inline", "list", "unused", "skipped", "tail"),
    entry: fc.nat(),
  })
  .map(({ n, k, shape, entry }): HostileDocument => {
    const on = shape === "list" ? "Intent" : "Query";
    const next = (i: number): string => {
      const j = shape === "tail" && i === n - 1 ? Math.floor(n / 2) : (i + 1) % n;
      return shape === "inline"
        ? `... on Query { ...C${j} }`
        : shape === "skipped"
          ? `...C${j} @skip(if: true)`
          : `...C${j}`;
    };
    const fragments = times(
      n,
      (i) =>
        `fragment C${i} on ${on} { ${on === "Intent" ? "name" : "__typename"} ${times(k, () => next(i))} }`,
      "\n",
    );
    const start = `C${entry % n}`;
    const operation =
      shape === "list"
        ? `{ intents { ...${start} } }`
        : shape === "unused"
          ? "{ __typename }"
          : `{ ...${start} }`;
    return { kind: "fragment-cycle", query: `${operation}\n${fragments}` };
  });

const TYPE_NAMES = [
  "Query",
  "Intent",
  "Model",
  "Classification",
  "IntentScore",
  "Mutation",
  "Subscription",
  "String",
  "Int",
  "Boolean",
  "ID",
  "EvalRunStatus",
  "ImportDatasetInput",
  "StartEvalRunInput",
  "__Schema",
  "__Type",
  "Nope",
  "query",
  "Query!",
  "[Query]",
  "",
];

/** Fragments and inline fragments whose type condition cannot apply where they are spread. */
const fragmentWrongType = fc
  .record({
    type: fc.constantFrom(...TYPE_NAMES),
    where: fc.constantFrom("root", "root-inline", "list", "list-inline", "fields", "many"),
    count: fc.integer({ min: 1, max: 500 }),
  })
  .map(({ type, where, count }): HostileDocument => {
    let query: string;
    switch (where) {
      case "root":
        query = `{ ...W } fragment W on ${type} { __typename }`;
        break;
      case "root-inline":
        query = `{ ... on ${type} { __typename } }`;
        break;
      case "list":
        query = `{ intents { ...W } } fragment W on ${type} { __typename }`;
        break;
      case "list-inline":
        query = `{ intents { name ... on ${type} { __typename name } } }`;
        break;
      case "fields":
        // Right type condition, fields of another type.
        query =
          '{ ...Q intents { ...I } } fragment Q on Query { name scenario } fragment I on Intent { intents { name } classify(texts: ["x"]) { score } }';
        break;
      default: {
        const types = TYPE_NAMES.filter((t) => /^[A-Za-z_]\w*$/.test(t));
        const n = fit(count, 40);
        query = `{ intents { ${times(n, (i) => `... on ${types[i % types.length]} { __typename }`)} } }`;
      }
    }
    return { kind: "fragment-wrong-type", query };
  });

/** Hundreds of fragments nobody spreads, duplicate names, spreads of fragments that do not exist. */
const fragmentUnused = fc
  .record({
    n: fc.integer({ min: 1, max: 2_500 }),
    shape: fc.constantFrom("unused", "duplicate", "undefined-spread", "only-fragments", "chained-unused"),
  })
  .map(({ n, shape }): HostileDocument => {
    let query: string;
    switch (shape) {
      case "unused":
        query = `{ __typename }\n${upTo(n, (i) => `fragment U${i} on Query { __typename }`, "\n")}`;
        break;
      case "duplicate":
        query = `{ ...U }\n${upTo(n, (i) => `fragment U on Query { a${i}: __typename }`, "\n")}`;
        break;
      case "undefined-spread":
        query = `{ ${upTo(n, (i) => `...Missing${i}`)} }`;
        break;
      case "only-fragments":
        query = upTo(n, (i) => `fragment U${i} on Query { __typename }`, "\n");
        break;
      default:
        query = `{ __typename }\n${upTo(n, (i) => `fragment U${i} on Query { ...U${i + 1} }`, "\n")}`;
    }
    return { kind: "fragment-unused", query };
  });

/** Inline fragments nested thousands deep, or thousands side by side. */
const inlineFragmentNest = fc
  .record({
    n: fc.integer({ min: 1, max: 6_000 }),
    shape: fc.constantFrom("bare", "typed", "directive", "wide", "list", "wide-classify"),
  })
  .map(({ n, shape }): HostileDocument => {
    let query: string;
    if (shape === "wide") query = `{ ${upTo(n, () => "... on Query { __typename }")} }`;
    else if (shape === "wide-classify")
      query = `{ ${upTo(n, (i) => `... { c${i}: classify(texts: ["x"]) { score } }`)} }`;
    else if (shape === "list") {
      const d = fit(n, 18);
      query = `{ intents { ${"... on Intent { ".repeat(d)}name${" }".repeat(d)} } }`;
    } else {
      const open =
        shape === "bare" ? "... { " : shape === "typed" ? "... on Query { " : "... @include(if: true) { ";
      const d = fit(n, open.length + 2);
      query = `{ ${open.repeat(d)}__typename${" }".repeat(d)} }`;
    }
    return { kind: "inline-fragment-nest", query };
  });

const ALIASED_FIELDS = [
  "__typename",
  "intents { name }",
  'intents(scenario: "alarm") { name }',
  "classify(texts: $t) { score }",
  'classify(texts: ["wake me up"]) { score intent { name } }',
  'intent(name: "alarm_set") { name }',
  "models { name }",
];

/** Hundreds to thousands of aliases in one selection set (distinct, identical or conflicting). */
const aliasFlood = fc
  .record({
    n: fc.integer({ min: 100, max: 5_000 }),
    field: fc.constantFrom(...ALIASED_FIELDS, "mixed"),
    names: fc.constantFrom("distinct", "same", "conflicting", "long", "dunder", "field-names", "nested"),
  })
  .map(({ n, field, names }): HostileDocument => {
    const fieldAt = (i: number): string =>
      field === "mixed" ? ALIASED_FIELDS[i % ALIASED_FIELDS.length]! : field;
    const aliasAt = (i: number): string => {
      switch (names) {
        case "same":
          return "a";
        case "conflicting":
          return "a";
        case "long":
          return `${"a".repeat(200)}${i}`;
        case "dunder":
          return `__a${i}`;
        case "field-names":
          return ["intents", "classify", "__typename", "models", "__schema"][i % 5]!;
        default:
          return `a${i}`;
      }
    };
    let query: string;
    if (names === "nested") {
      query = `{ intents { ${upTo(n, (i) => `n${i}: name`)} } }`;
    } else {
      // "conflicting": the same response name for different fields or arguments (the overlap check
      // compares every pair).
      const at = (i: number): string =>
        names === "conflicting"
          ? i % 2 === 0
            ? `intents(scenario: "s${i}") { name }`
            : fieldAt(i)
          : fieldAt(i);
      query = `query ($t: [String!]) { ${upTo(n, (i) => `${aliasAt(i)}: ${at(i)}`)} }`;
    }
    return { kind: "alias-flood", query, variables: { t: ["wake me up"] } };
  });

const DIRECTIVES = [
  "@include(if: true)",
  "@skip(if: false)",
  "@include(if: false)",
  "@skip(if: true)",
  "@foo",
  "@foo(bar: 1)",
  "@deprecated",
  '@deprecated(reason: "x")',
  '@specifiedBy(url: "x")',
  "@oneOf",
  "@include",
  '@include(if: "true")',
  "@include(if: $b)",
  "@include(if: $undefined)",
  "@skip(if: null)",
  "@include(if: true, if: false)",
  "@defer",
  "@stream(initialCount: 1)",
];

/** A directive (or many distinct ones) repeated hundreds to thousands of times, anywhere one fits. */
const directiveFlood = fc
  .record({
    n: fc.integer({ min: 100, max: 5_000 }),
    directive: fc.constantFrom(...DIRECTIVES, "mixed", "distinct-unknown"),
    where: fc.constantFrom(
      "field",
      "classify",
      "operation",
      "spread",
      "fragment",
      "inline",
      "variable",
      "many-fields",
    ),
    b: fc.oneof(fc.boolean(), jsonish),
  })
  .map(({ n, directive, where, b }): HostileDocument => {
    const dirAt = (i: number): string =>
      directive === "mixed"
        ? DIRECTIVES[i % DIRECTIVES.length]!
        : directive === "distinct-unknown"
          ? `@d${i}(x: ${i})`
          : directive;
    const dirs = (m: number): string => upTo(m, dirAt);
    let query: string;
    switch (where) {
      case "field":
        query = `query ($b: Boolean) { __typename ${dirs(n)} }`;
        break;
      case "classify":
        query = `query ($b: Boolean) { classify(texts: ["x"]) ${dirs(n)} { score } }`;
        break;
      case "operation":
        query = `query Op($b: Boolean) ${dirs(n)} { __typename }`;
        break;
      case "spread":
        query = `query ($b: Boolean) { ...F ${dirs(n)} } fragment F on Query { __typename }`;
        break;
      case "fragment":
        query = `query ($b: Boolean) { ...F } fragment F on Query ${dirs(n)} { __typename }`;
        break;
      case "inline":
        query = `query ($b: Boolean) { ... ${dirs(n)} { __typename } }`;
        break;
      case "variable":
        query = `query ($b: Boolean ${dirs(n)}) { __typename @include(if: $b) }`;
        break;
      default: {
        query = `query ($b: Boolean) { ${upTo(n, (i) => `a${i}: __typename ${dirAt(i)}`)} }`;
      }
    }
    return { kind: "directive-flood", query, variables: { b } };
  });

/** `classify(texts: [...])` with up to 5,000 literal texts, or odd literal values for `texts`. */
const literalTexts = fc
  .record({
    n: fc.integer({ min: 0, max: 5_000 }),
    aliases: fc.integer({ min: 1, max: 50 }),
    shape: fc.constantFrom("strings", "strings", "strings", "sampled", "odd"),
    sampled: fc.array(text, { minLength: 1, maxLength: 20 }),
    r: seed,
  })
  .map(({ n, aliases, shape, sampled, r: s }): HostileDocument => {
    const r = prng(s);
    if (shape === "odd") {
      const value = pick(r, [
        "null",
        "[null]",
        '"single"',
        "[1, 2]",
        '[["x"]]',
        '[[["x"]]]',
        "{}",
        '{ text: "x" }',
        '[true, "x", 3.5, ENUM]',
        "[$v]",
        "$v",
        "[]",
        `[${'"x", '.repeat(fit(n, 5))}]`,
        `[${"null, ".repeat(fit(n, 6))}]`,
      ]);
      return { kind: "literal-texts", query: `{ classify(texts: ${value}) { score } }` };
    }
    const item = (i: number): string =>
      shape === "sampled"
        ? lit(sampled[i % sampled.length]!)
        : lit(`${pick(r, UTTERANCES).slice(0, 40)} ${i}`);
    // Keep the document under the cap: stop at the text that would cross it.
    const all: string[] = [];
    let size = 0;
    for (let i = 0; i < n; i++) {
      const next = item(i);
      size += utf8(next) + 2;
      if (size > MAX_DOCUMENT - 100 * aliases - 200) break;
      all.push(next);
    }
    const kept = all.length;
    const per = Math.max(1, Math.ceil(kept / aliases));
    const fields = times(Math.max(1, Math.ceil(kept / per)), (a) => {
      const slice = all.slice(a * per, Math.min(kept, (a + 1) * per));
      return `c${a}: classify(texts: [${slice.join(", ")}]) { score }`;
    });
    return { kind: "literal-texts", query: `{ ${fields} }` };
  });

/** One text of up to 100,000 characters written into the query: plain, escaped or a block string. */
const literalLongText = fc
  .record({
    n: fc.integer({ min: 1, max: 100_000 }),
    unit: fc.constantFrom("a", "word ", "\u{1F600}", "\\n", "\\u0041", "é", '\\"', "\\\\"),
    form: fc.constantFrom("string", "string", "block", "block-lines", "unterminated", "unterminated-block"),
    where: fc.constantFrom("classify", "classify", "model", "intent", "scenario", "unknown-arg"),
  })
  .map(({ n, unit, form, where }): HostileDocument => {
    const count = fit(n, unit, 200);
    const body = form === "block-lines" ? "\n    line".repeat(fit(n, 9, 200)) : unit.repeat(count);
    let value: string;
    if (form === "string") value = `"${body}"`;
    else if (form === "unterminated") value = `"${body}`;
    else if (form === "unterminated-block") value = `"""${body}`;
    else value = `"""${body.replaceAll('"""', '\\"""')}"""`;
    const arg =
      where === "classify"
        ? `classify(texts: [${value}]) { score tokens truncated }`
        : where === "model"
          ? `classify(texts: ["x"], model: ${value}) { score }`
          : where === "intent"
            ? `intent(name: ${value}) { name }`
            : where === "scenario"
              ? `intents(scenario: ${value}) { name }`
              : `intents(nope: ${value}) { name }`;
    return { kind: "literal-long-text", query: `{ ${arg} }` };
  });

/** Escapes and characters that are valid inside a GraphQL string. */
const ESCAPES = [
  "\\u0000",
  "\\u0001",
  "\\uD83D\\uDE00",
  "\\u{1F600}",
  "\\u{10FFFF}",
  "\\u{0041}",
  "\\/",
  "\\b\\f\\n\\r\\t",
  '\\"',
  "\\\\",
  "\u2028",
  "\uFEFF",
  "\t",
  "a",
  "\u{1F600}",
];

/** Escapes graphql-js refuses and raw characters a string may not hold. */
const BAD_ESCAPES = [
  "\\uD800",
  "\\uDFFF",
  "\\uDC00\\uD800",
  "\\u{110000}",
  "\\u{}",
  "\\u{0000000041}",
  "\\uZZZZ",
  "\\u00",
  "\\x41",
  "\\0",
  "\\a",
  "\u0000",
  "\u0001",
  "\uD800",
  "\r",
  "\n",
];

/** Texts built of escape sequences (and, when `bad`, one the lexer refuses), in strings and block strings. */
const literalEscapes = fc
  .record({
    pieces: fc.array(fc.integer({ min: 0, max: ESCAPES.length - 1 }), { minLength: 1, maxLength: 40 }),
    bad: fc.option(fc.integer({ min: 0, max: BAD_ESCAPES.length - 1 }), { nil: undefined }),
    repeat: fc.integer({ min: 1, max: 2_000 }),
    texts: fc.integer({ min: 1, max: 20 }),
    block: fc.boolean(),
  })
  .map(({ pieces, bad, repeat, texts, block }): HostileDocument => {
    const one = pieces.map((i) => ESCAPES[i]!).join("");
    const body = `${one.repeat(fit(repeat, utf8(one) * texts + 4))}${bad === undefined ? "" : BAD_ESCAPES[bad]!}`;
    const value = block ? `"""${body.replaceAll('"""', '\\"""')}"""` : `"${body}"`;
    return {
      kind: "literal-escapes",
      query: `{ classify(texts: [${Array(texts).fill(value).join(", ")}]) { text score } }`,
    };
  });

const TEXT_SOURCES = ["$t", "[$s]", '["lit"]', '[$s, "lit"]', "$u", "[$u]", "$s", '"single"', "[$k]", "$m"];

/** Literals and variables mixed across aliases (declared and not, of the right type and not). */
const literalMixed = fc
  .record({
    n: fc.integer({ min: 2, max: 300 }),
    r: seed,
    declarations: fc.constantFrom(
      "$t: [String!]!, $s: String!, $k: Int, $m: String",
      "$t: [String], $s: String, $k: Int!, $m: ID",
      "$t: [String!]!, $s: Int, $k: String, $m: [String]",
      "$t: String!, $t: [String!]!, $s: String!",
      "",
    ),
    t: fc.oneof(fc.array(text, { maxLength: 20 }), jsonish),
    s: fc.oneof(text, jsonish),
    k: fc.oneof(fc.integer(), jsonish),
    m: fc.oneof(fc.constantFrom("massive-scratch", "nope", "", "../x"), jsonish),
  })
  .map(({ n, r: sd, declarations, t, s, k, m }): HostileDocument => {
    const r = prng(sd);
    const fields = upTo(n, (i) => {
      const args = [`texts: ${pick(r, TEXT_SOURCES)}`];
      if (r(3) < 1) args.push(`topK: ${pick(r, ["$k", "2", "-1", "$m", "$s"])}`);
      if (r(3) < 1) args.push(`model: ${pick(r, ["$m", '"massive-scratch"', "$s", '"x"', "$k"])}`);
      return `a${i}: classify(${args.join(", ")}) { score }`;
    });
    return {
      kind: "literal-mixed",
      query: `query ${declarations ? `(${declarations})` : ""} { ${fields} }`,
      variables: { t, s, k, m },
    };
  });

const TOPK_LITERALS = [
  "2147483647",
  "2147483648",
  "-2147483648",
  "-2147483649",
  "0",
  "-1",
  "-0",
  "1e999",
  "1.5",
  "99999999999999999999999999",
  "0x10",
  "1_000",
  '"3"',
  "null",
  "true",
  "TEN",
  "[1]",
  "{ k: 1 }",
  "$k",
  "1".repeat(5_000),
  `-${"9".repeat(5_000)}`,
];

/** `topK` literals: huge, negative, out of Int range, of the wrong type, different per alias. */
const literalTopK = fc
  .record({
    aliases: fc.integer({ min: 1, max: 200 }),
    values: fc.array(fc.constantFrom(...TOPK_LITERALS), { minLength: 1, maxLength: 5 }),
  })
  .map(({ aliases, values }): HostileDocument => {
    return {
      kind: "literal-topk",
      query: `{ ${upTo(aliases, (i) => `a${i}: classify(texts: ["wake me up"], topK: ${values[i % values.length]}) { score topK { score intent { name } } }`)} }`,
    };
  });

const MODEL_NAMES = [
  (i: number) => `m${i}`,
  (i: number) => `massive-scratch-${i}`,
  (i: number) => `../../m${i}`,
  (i: number) => `http://169.254.169.254/${i}`,
  (i: number) => `m%2f${i}`,
  (i: number) => `${"m".repeat(300)}${i}`,
  (i: number) => `m\\u0000${i}`,
  (i: number) => `模型${i}`,
  (i: number) => `m ${i}?x=1#`,
  () => "massive-scratch",
  () => "",
];

/** Hundreds of aliases of classify, each asking for another model by name. */
const modelFlood = fc
  .record({
    n: fc.integer({ min: 100, max: 2_000 }),
    style: fc.constantFrom(...MODEL_NAMES.map((_, i) => i), -1),
  })
  .map(({ n, style }): HostileDocument => {
    const nameAt = (i: number): string => MODEL_NAMES[style < 0 ? i % MODEL_NAMES.length : style]!(i);
    return {
      kind: "model-flood",
      query: `{ ${upTo(n, (i) => `c${i}: classify(texts: ["x"], model: "${nameAt(i)}") { model score }`)} }`,
    };
  });

const OPERATION_BODIES = {
  query: (i: number) => `{ a${i}: __typename intents { name } }`,
  mutation: (i: number) => `{ cancelEvalRun(id: "${i}") { id status } }`,
  subscription: (i: number) => `{ evalRunProgress(id: "${i}") { id progress } }`,
} as const;

/** Several operations in one document: named, anonymous, duplicated, of every operation type. */
const multiOperation = fc
  .record({
    n: fc.integer({ min: 2, max: 300 }),
    types: fc.constantFrom("query", "mixed", "mutation", "subscription"),
    names: fc.constantFrom("named", "anonymous-too", "duplicate", "all-anonymous"),
    choose: fc.constantFrom(
      "first",
      "last",
      "mutation",
      "subscription",
      "unknown",
      "null",
      "number",
      "empty",
      "array",
      "absent",
    ),
    r: seed,
  })
  .map(({ n, types, names, choose, r: s }): HostileDocument => {
    const r = prng(s);
    const m = fit(n, 70);
    const kinds = ["query", "mutation", "subscription"] as const;
    const ops = Array.from({ length: m }, (_, i) => {
      const type = types === "mixed" ? pick(r, kinds) : types;
      const anonymous = names === "all-anonymous" || (names === "anonymous-too" && i === 0);
      const name = anonymous ? "" : names === "duplicate" ? "Op" : `Op${i}`;
      return { type, name, text: `${type} ${name} ${OPERATION_BODIES[type](i)}` };
    });
    const operationName: unknown = {
      first: ops[0]!.name,
      last: ops[ops.length - 1]!.name,
      mutation: ops.find((o) => o.type === "mutation")?.name ?? "Nope",
      subscription: ops.find((o) => o.type === "subscription")?.name ?? "Nope",
      unknown: "Nope",
      null: null,
      number: 1,
      empty: "",
      array: [ops[0]!.name],
      absent: undefined,
    }[choose];
    return {
      kind: "multi-operation",
      query: ops.map((o) => o.text).join("\n"),
      ...(operationName === undefined ? {} : { operationName }),
    };
  });

/** Mutations: the real ones with bad or huge input, aliases of them, fields that are not there. */
const mutation = fc
  .record({
    shape: fc.constantFrom("cancel", "cancel-flood", "import", "import-variables", "start", "bad", "empty"),
    n: fc.integer({ min: 1, max: 1_000 }),
    input: jsonish,
  })
  .map(({ shape, n, input }): HostileDocument => {
    let query: string;
    let variables: unknown;
    switch (shape) {
      case "cancel":
        query = 'mutation { cancelEvalRun(id: "1") { id status } }';
        break;
      case "cancel-flood":
        query = `mutation { ${upTo(n, (i) => `c${i}: cancelEvalRun(id: "${i}") { id }`)} }`;
        break;
      case "import": {
        const row = '{"utt":"wake me up at seven","intent":"alarm_set","partition":"test"}\n';
        const content = lit(row.repeat(fit(n, lit(row).length)));
        query = `mutation { importDataset(input: { name: "fuzz", content: ${content} }) { created dataset { id rowCount } } }`;
        break;
      }
      case "import-variables":
        query = "mutation ($input: ImportDatasetInput!) { importDataset(input: $input) { created } }";
        variables = { input };
        break;
      case "start":
        query =
          'mutation { a: startEvalRun(input: { dataset: "x", split: "test", bogus: 1 }) { id } b: startEvalRun(input: { dataset: 1 }) { id } c: startEvalRun { id } }';
        break;
      case "bad":
        query = 'mutation { classify(texts: ["x"]) { score } __typename intents { name } }';
        break;
      default:
        query = "mutation { }";
    }
    return { kind: "mutation", query, ...(variables === undefined ? {} : { variables }) };
  });

/** Subscriptions: single and several root fields, introspection roots, fragments, aliases. */
const subscription = fc
  .record({
    shape: fc.constantFrom("one", "two-roots", "typename", "fragment", "alias-flood", "variable", "skipped"),
    n: fc.integer({ min: 2, max: 1_000 }),
    id: jsonish,
  })
  .map(({ shape, n, id }): HostileDocument => {
    const field = (i: number): string => `e${i}: evalRunProgress(id: "${i}") { id status progress }`;
    const query = {
      one: 'subscription { evalRunProgress(id: "1") { id status } }',
      "two-roots": `subscription { ${field(0)} ${field(1)} }`,
      typename: "subscription { __typename }",
      fragment:
        'subscription { ...S } fragment S on Subscription { evalRunProgress(id: "1") { id } b: evalRunProgress(id: "2") { id } }',
      "alias-flood": `subscription { ${upTo(n, field)} }`,
      variable: "subscription ($id: ID!) { evalRunProgress(id: $id) { id status } }",
      skipped:
        'subscription { __typename @skip(if: true) evalRunProgress(id: "1") @include(if: false) { id } }',
    }[shape];
    return { kind: "subscription", query, ...(shape === "variable" ? { variables: { id } } : {}) };
  });

/** Introspection: deep `ofType`/`fields` chains, the standard query, floods of `__schema`. */
const introspection = fc
  .record({
    shape: fc.constantFrom(
      "of-type",
      "type-fields",
      "possible-types",
      "standard",
      "flood",
      "type-name",
      "misplaced",
    ),
    d: fc.integer({ min: 1, max: 60 }),
    n: fc.integer({ min: 10, max: 2_000 }),
    name: fc.oneof(fc.constantFrom("Query", "Intent", "", "\\u0000", "__Type", "x".repeat(10_000)), text),
    standard: fc.record({
      descriptions: fc.boolean(),
      specifiedByUrl: fc.boolean(),
      directiveIsRepeatable: fc.boolean(),
      schemaDescription: fc.boolean(),
      inputValueDeprecation: fc.boolean(),
    }),
  })
  .map(({ shape, d, n, name, standard }): HostileDocument => {
    let query: string;
    switch (shape) {
      case "of-type":
        query = `{ __schema { types { name fields { type ${"{ ofType ".repeat(d)}{ name }${" }".repeat(d)} } } } }`;
        break;
      case "type-fields":
        query = `{ __type(name: "Query") { ${"fields { type { ".repeat(d)}name${" } }".repeat(d)} } }`;
        break;
      case "possible-types":
        query = `{ __schema { types { ${"interfaces { possibleTypes { ".repeat(d)}name${" } }".repeat(d)} } } }`;
        break;
      case "standard":
        query = getIntrospectionQuery(standard);
        break;
      case "flood":
        query = `{ ${upTo(n, (i) => `s${i}: __schema { types { name fields { name } } }`)} }`;
        break;
      case "type-name":
        query = `query ($n: String!) { a: __type(name: ${lit(name)}) { name kind } b: __type(name: $n) { name } c: __type { name } d: __type(name: "Query", name: "Intent") { name } }`;
        break;
      default:
        query =
          '{ intents { __schema { types { name } } __type(name: "Query") { name } } __typename { name } }';
    }
    return { kind: "introspection", query, ...(shape === "type-name" ? { variables: { n: name } } : {}) };
  });

/** ~100 KB documents: ignored tokens as padding, enormous names and numbers, thousands of variables. */
const paddedDocument = fc
  .record({
    n: fc.integer({ min: 1, max: 100_000 }),
    shape: fc.constantFrom(
      "comments",
      "commas",
      "whitespace",
      "bom",
      "long-field",
      "long-alias",
      "long-operation-name",
      "long-fragment-name",
      "long-variable",
      "long-number",
      "many-variables",
      "many-arguments",
      "duplicate-arguments",
      "deep-list",
      "deep-object",
    ),
  })
  .map(({ n, shape }): HostileDocument => {
    const q = "{ intents { name } }";
    const long = (unit: string): string => unit.repeat(fit(n, unit));
    let query: string;
    switch (shape) {
      case "comments":
        query = `${long("# padding padding padding\n")}${q}`;
        break;
      case "commas":
        query = `{ intents ${long(",")} { name } }`;
        break;
      case "whitespace":
        query = `${long(" \t\r\n")}${q}`;
        break;
      case "bom":
        query = `{ ${long("\uFEFF")} intents { name } }`;
        break;
      case "long-field":
        query = `{ ${long("a")} }`;
        break;
      case "long-alias":
        query = `{ ${long("a")}: __typename }`;
        break;
      case "long-operation-name":
        query = `query ${long("Q")} ${q}`;
        break;
      case "long-fragment-name": {
        const name = "F".repeat(fit(n, 2));
        query = `{ ...${name} } fragment ${name} on Query { __typename }`;
        break;
      }
      case "long-variable": {
        const name = "v".repeat(fit(n, 3));
        query = `query ($${name}: [String!]!) { classify(texts: $${name}) { score } }`;
        break;
      }
      case "long-number":
        query = `{ classify(texts: ["x"], topK: ${long("9")}) { score } }`;
        break;
      case "many-variables":
        query = `query (${upTo(n, (i) => `$v${i}: Int`)}) { __typename }`;
        break;
      case "many-arguments":
        query = `{ intents(${upTo(n, (i) => `a${i}: ${i}`)}) { name } }`;
        break;
      case "duplicate-arguments":
        query = `{ intents(${long('scenario: "alarm" ')}) { name } }`;
        break;
      case "deep-list": {
        const d = fit(n, 2);
        query = `{ classify(texts: ${"[".repeat(d)}"x"${"]".repeat(d)}) { score } }`;
        break;
      }
      default: {
        const d = fit(n, 7);
        query = `mutation { importDataset(input: ${"{ a: ".repeat(d)}1${" }".repeat(d)}) { created } }`;
      }
    }
    return { kind: "padded-document", query };
  });

const hostileDocument: fc.Arbitrary<HostileDocument> = fc.oneof(
  fragmentBomb,
  fragmentCycle,
  fragmentWrongType,
  fragmentUnused,
  inlineFragmentNest,
  aliasFlood,
  directiveFlood,
  literalTexts,
  literalLongText,
  literalEscapes,
  literalMixed,
  literalTopK,
  modelFlood,
  multiOperation,
  mutation,
  subscription,
  introspection,
  paddedDocument,
);

/** Paths next to /graphql: yoga's endpoint matching and the key check must agree on them. */
const ODD_PATHS = [
  "/graphql/",
  "/GraphQL",
  "/GRAPHQL",
  "/graphql/x",
  "/x/graphql",
  "//graphql",
  "/graphql//",
  "/%67raphql",
  "/graphql%2F",
  "/graphql;x",
  "/./graphql",
  "/x/../graphql",
  "/graphql/..",
  "/graphql.json",
];

/** Accept headers other than none; text/html is refused (406) before the document is read. */
const ACCEPTS = [
  "application/json",
  "application/graphql-response+json",
  "application/graphql-response+json, application/json;q=0.9",
  "*/*",
  "text/html",
];

/**
 * How a document goes on the wire: mostly POSTed as JSON to /graphql, also GET with the document
 * in the query string, POST as application/graphql, and odd paths with either method. The suite
 * adds `authorization: Bearer <key>` to every kind but "raw", so these kinds cannot go without
 * it; `auth` adds a second, bogus `Authorization` header next to it (whether the two combine into
 * a malformed value or the lowercase one wins is up to the Headers in use: in yoga.fetch in-process
 * the suite's lowercase key wins).
 */
const wire = fc.record({
  how: fc.oneof(
    { weight: 10, arbitrary: fc.constant("post-json" as const) },
    { weight: 3, arbitrary: fc.constant("get" as const) },
    { weight: 1, arbitrary: fc.constant("post-graphql" as const) },
    { weight: 3, arbitrary: fc.constant("odd-path" as const) },
  ),
  path: fc.constantFrom(...ODD_PATHS),
  method: fc.constantFrom("GET", "POST"),
  accept: fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom(...ACCEPTS) },
  ),
  auth: fc.oneof(
    { weight: 9, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom("Bearer not-a-key", "", "Basic Zm9vOmJhcg==", "Bearer") },
  ),
});

function queryString(doc: HostileDocument): string {
  const params = new URLSearchParams({ query: doc.query });
  if (doc.variables !== undefined) params.set("variables", JSON.stringify(doc.variables));
  if (doc.operationName !== undefined)
    params.set(
      "operationName",
      typeof doc.operationName === "string" ? doc.operationName : JSON.stringify(doc.operationName),
    );
  return params.toString();
}

const hostileRequest = fc.record({ doc: hostileDocument, wire }).map(({ doc, wire: w }): FuzzRequest => {
  const headers: Record<string, string> = {};
  if (w.accept !== undefined) headers.accept = w.accept;
  if (w.auth !== undefined) headers.Authorization = w.auth;
  const method = w.how === "get" ? "GET" : w.how === "odd-path" ? w.method : "POST";
  const path = w.how === "odd-path" ? w.path : "/graphql";
  if (method === "GET")
    return { kind: doc.kind, method, path: `${path}?${queryString(doc)}`, headers, body: null };
  if (w.how === "post-graphql") {
    headers["content-type"] = "application/graphql";
    return { kind: doc.kind, method, path, headers, body: doc.query };
  }
  headers["content-type"] = "application/json";
  const body = JSON.stringify({
    query: doc.query,
    ...(doc.variables === undefined ? {} : { variables: doc.variables }),
    ...(doc.operationName === undefined ? {} : { operationName: doc.operationName }),
  });
  return { kind: doc.kind, method, path, headers, body };
});

export const graphqlRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 6, arbitrary: graphqlJson },
  { weight: 1, arbitrary: deepVariables },
  { weight: 2, arbitrary: rawBody },
  { weight: 1, arbitrary: getQuery },
  { weight: 10, arbitrary: hostileRequest },
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
