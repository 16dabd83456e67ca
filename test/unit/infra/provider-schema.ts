/**
 * Checks parsed HCL (the @cdktf/hcl2json shape) against the provider schemas recorded in
 * infra/terraform/schema/providers.json: resource and data source types, arguments, nested blocks and
 * nested object attributes, required arguments, `lifecycle.ignore_changes` names, provider blocks, and
 * the first attribute of every `type.name.attr` / `data.type.name.attr` reference. Pure functions.
 */

/** 1 settable, 0 computed-only, object nested block / object attribute ({"*": node}: map of objects). */
export type SchemaNode = { [name: string]: SchemaNode | 0 | 1 | string[] | undefined; $required?: string[] };

export interface ProviderSchema {
  providers: Record<string, { source: string; version: string; npm: string }>;
  provider_config: Record<string, SchemaNode>;
  resources: Record<string, SchemaNode | null>;
  data_sources: Record<string, SchemaNode | null>;
}

type Body = Record<string, unknown>;

const REGENERATE =
  "regenerate infra/terraform/schema/providers.json (node infra/terraform/schema/generate.mjs)";

const RESOURCE_META = new Set([
  "count",
  "for_each",
  "depends_on",
  "provider",
  "lifecycle",
  "provisioner",
  "connection",
]);
const DATA_META = new Set(["count", "for_each", "depends_on", "provider", "lifecycle"]);
const LIFECYCLE: SchemaNode = {
  create_before_destroy: 1,
  prevent_destroy: 1,
  ignore_changes: 1,
  replace_triggered_by: 1,
  precondition: { condition: 1, error_message: 1, $required: ["condition", "error_message"] },
  postcondition: { condition: 1, error_message: 1, $required: ["condition", "error_message"] },
};
const DATA_LIFECYCLE: SchemaNode = {
  precondition: LIFECYCLE.precondition,
  postcondition: LIFECYCLE.postcondition,
};
const DYNAMIC_KEYS = new Set(["for_each", "iterator", "labels", "content"]);

const isObject = (v: unknown): v is Body => typeof v === "object" && v !== null && !Array.isArray(v);
const isNode = (v: unknown): v is SchemaNode => isObject(v);
const children = (node: SchemaNode) => Object.keys(node).filter((k) => !k.startsWith("$"));

/** `a.b` is a block when it was written as one: hcl2json gives blocks as arrays of objects. */
const looksLikeBlock = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every(isObject);

/** Problems of one body (a block's or an object value's contents) against its schema node. */
function bodyProblems(body: Body, node: SchemaNode, path: string, meta: Set<string>): string[] {
  const problems: string[] = [];
  const at = (k: string) => (path === "" ? k : `${path}.${k}`);
  const present = new Set(Object.keys(body));
  for (const [key, value] of Object.entries(body)) {
    if (meta.has(key)) continue;
    if (key === "dynamic" && isObject(value) && !("dynamic" in node)) {
      for (const [name, entries] of Object.entries(value)) {
        present.add(name);
        const child = node[name];
        if (!isNode(child)) {
          problems.push(
            child === undefined
              ? `unknown block "${at(name)}" (dynamic)`
              : `"${at(name)}" is not a block (dynamic)`,
          );
          continue;
        }
        for (const entry of Array.isArray(entries) ? entries : [entries]) {
          if (!isObject(entry)) continue;
          for (const k of Object.keys(entry))
            if (!DYNAMIC_KEYS.has(k)) problems.push(`unknown argument "${k}" in dynamic "${at(name)}"`);
          for (const content of [entry.content].flat())
            if (isObject(content)) problems.push(...bodyProblems(content, child, at(name), new Set()));
        }
      }
      continue;
    }
    const child = node[key];
    if (child === undefined || key.startsWith("$")) {
      problems.push(`unknown ${looksLikeBlock(value) ? "block" : "argument"} "${at(key)}"`);
    } else if (child === 0) {
      problems.push(`"${at(key)}" is computed-only: it cannot be set`);
    } else if (isNode(child)) {
      problems.push(...valueProblems(value, child, at(key)));
    }
  }
  for (const name of node.$required ?? [])
    if (!present.has(name)) problems.push(`missing required argument "${at(name)}"`);
  return problems;
}

// --- literal lists and objects inside expressions: concat([{…}, {…}], local.more) ---

type Token = { kind: "punct" | "string" | "word" | "newline"; text: string };

/** End of the string literal or template starting at src[i] === '"' (index after the closing quote). */
function stringEnd(src: string, i: number): number {
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === "\\") j++;
    else if (src[j] === '"') return j + 1;
    else if ((src[j] === "$" || src[j] === "%") && src[j + 1] === "{" && src[j - 1] !== src[j]) {
      j = codeEnd(src, j + 2) - 1;
    }
  }
  throw new Error("unterminated string");
}

/** Index after the `}` closing template code that starts at src[i]. */
function codeEnd(src: string, i: number): number {
  let depth = 0;
  for (let j = i; j < src.length; j++) {
    const c = src[j]!;
    if (c === '"') j = stringEnd(src, j) - 1;
    else if ("([{".includes(c)) depth++;
    else if (")]".includes(c)) depth--;
    else if (c === "}") {
      if (depth === 0) return j + 1;
      depth--;
    }
  }
  throw new Error("unterminated template");
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const two = src.slice(i, i + 2);
    if (c === "#" || two === "//") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (two === "/*") {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) throw new Error("unterminated comment");
      i = end + 2;
    } else if (two === "<<") {
      throw new Error("heredoc"); // not walked: the caller treats the expression as opaque
    } else if (c === "\n") {
      tokens.push({ kind: "newline", text: c });
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      const end = stringEnd(src, i);
      tokens.push({ kind: "string", text: src.slice(i, end) });
      i = end;
    } else if (["==", "!=", "<=", ">=", "=>"].includes(two)) {
      tokens.push({ kind: "word", text: two }); // operators, not assignments
      i += 2;
    } else if ("{}[](),=:?".includes(c)) {
      tokens.push({ kind: "punct", text: c });
      i++;
    } else {
      let j = i;
      while (j < src.length && !/[\s"#{}[\](),=:?!<>]/.test(src[j]!) && src.slice(j, j + 2) !== "//") j++;
      if (j === i) j++;
      tokens.push({ kind: "word", text: src.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

/** Stands for an expression that is not a literal list or object. */
const OPAQUE = "<expression>";
const CLOSERS: Record<string, string> = { "(": ")", "[": "]", "{": "}" };

class LiteralParser {
  i = 0;
  constructor(readonly t: Token[]) {}
  skipNewlines() {
    while (this.t[this.i]?.kind === "newline") this.i++;
  }
  /** One value; stops before `,` / closing bracket (and before a newline when `newlineEnds`). */
  value(newlineEnds: boolean): unknown {
    this.skipNewlines();
    const start = this.i;
    const first = this.t[this.i];
    let literal: unknown = OPAQUE;
    let isLiteral = false;
    if (first?.kind === "punct" && (first.text === "[" || first.text === "{")) {
      if (this.peekAfter(this.i + 1)?.text !== "for") {
        literal = first.text === "[" ? this.list() : this.object(); // undefined: not a plain literal
        isLiteral = literal !== undefined;
      }
    } else if (first?.kind === "string") {
      this.i++;
      literal = first.text;
      isLiteral = true;
    }
    const next = newlineEnds ? this.t[this.i] : this.peekAfter(this.i);
    const ends =
      !next ||
      (next.kind === "punct" && ",)]}".includes(next.text)) ||
      (newlineEnds && next.kind === "newline");
    if (isLiteral && ends) return literal;
    this.i = start;
    this.skipOpaque(newlineEnds);
    return OPAQUE;
  }
  peekAfter(j: number): Token | undefined {
    while (this.t[j]?.kind === "newline") j++;
    return this.t[j];
  }
  skipOpaque(newlineEnds: boolean) {
    const stack: string[] = [];
    while (this.i < this.t.length) {
      const tok = this.t[this.i]!;
      if (stack.length === 0) {
        if (tok.kind === "punct" && ",)]}".includes(tok.text)) return;
        if (newlineEnds && tok.kind === "newline") return;
      }
      if (tok.kind === "punct" && tok.text in CLOSERS) stack.push(CLOSERS[tok.text]!);
      else if (tok.kind === "punct" && tok.text === stack[stack.length - 1]) stack.pop();
      this.i++;
    }
  }
  list(): unknown[] | undefined {
    this.i++; // [
    const out: unknown[] = [];
    for (;;) {
      this.skipNewlines();
      const tok = this.t[this.i];
      if (!tok) return undefined;
      if (tok.text === "]") {
        this.i++;
        return out;
      }
      out.push(this.value(false));
      this.skipNewlines();
      if (this.t[this.i]?.text === ",") this.i++;
      else if (this.t[this.i]?.text !== "]") return undefined;
    }
  }
  object(): Body | undefined {
    this.i++; // {
    const out: Body = {};
    for (;;) {
      this.skipNewlines();
      const key = this.t[this.i];
      if (!key) return undefined;
      if (key.text === "}") {
        this.i++;
        return out;
      }
      const sep = this.t[this.i + 1];
      if (sep?.kind !== "punct" || (sep.text !== "=" && sep.text !== ":")) return undefined;
      let name: string | undefined;
      if (key.kind === "word" && /^[A-Za-z_][\w-]*$/.test(key.text)) name = key.text;
      else if (key.kind === "string" && !key.text.includes("${")) name = JSON.parse(key.text) as string;
      else return undefined; // (computed) keys: not a literal we can check
      this.i += 2;
      out[name] = this.value(true);
      const tok = this.t[this.i];
      if (tok?.text === "," || tok?.kind === "newline") this.i++;
      else if (tok?.text !== "}") return undefined;
    }
  }
}

/** Functions whose literal list / object arguments end up (whole) in the attribute's value. */
const PASS_THROUGH = new Set(["concat", "merge", "flatten", "tolist", "toset", "coalescelist"]);

/**
 * The literal list and object arguments of `${concat([…], local.x)}`-style expressions (other
 * arguments are dropped); [] for any other expression, or one that cannot be read.
 */
export function literalArguments(expr: string): unknown[] {
  const m = expr.match(/^\$\{\s*(\w+)\(([\s\S]*)\)\s*\}$/);
  if (!m || !PASS_THROUGH.has(m[1]!)) return [];
  try {
    const p = new LiteralParser(tokenize(m[2]!));
    const args: unknown[] = [];
    for (;;) {
      args.push(p.value(false));
      p.skipNewlines();
      if (p.i >= p.t.length) break;
      if (p.t[p.i]?.text !== ",") return [];
      p.i++;
      p.skipNewlines();
      if (p.i >= p.t.length) break;
    }
    return args.filter((a) => typeof a === "object" && a !== null);
  } catch {
    return [];
  }
}

/** A nested value: walk literal objects (alone, in lists, in maps of objects); expressions are skipped. */
function valueProblems(value: unknown, node: SchemaNode, path: string): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => valueProblems(v, node, path));
  if (typeof value === "string") return literalArguments(value).flatMap((v) => valueProblems(v, node, path));
  if (!isObject(value)) return []; // other expressions, null: nothing to walk
  const each = node["*"];
  if (isNode(each) && children(node).length === 1)
    return Object.entries(value).flatMap(([k, v]) => valueProblems(v, each, `${path}.${k}`));
  return bodyProblems(value, node, path, new Set());
}

/** `lifecycle { ignore_changes = [a, b.c] }`: each must name an argument of the resource. */
function ignoreChangesProblems(lifecycle: unknown, node: SchemaNode): string[] {
  const problems: string[] = [];
  for (const block of [lifecycle].flat()) {
    if (!isObject(block)) continue;
    for (const item of [block.ignore_changes ?? []].flat()) {
      if (typeof item !== "string") continue;
      const name = item.replace(/^\$\{(.*)\}$/s, "$1").split(/[.[]/)[0]!;
      if (name !== "all" && !(name in node))
        problems.push(`lifecycle.ignore_changes: unknown argument "${name}"`);
    }
  }
  return problems;
}

function schemaFor(section: Record<string, SchemaNode | null>, type: string, what: string) {
  if (!(type in section)) return { problem: `unknown ${what} type "${type}"` };
  const node = section[type];
  if (!node) return { problem: `no argument schema recorded for ${what} type "${type}": ${REGENERATE}` };
  return { node };
}

function blockProblems(
  label: string,
  bodies: unknown,
  node: SchemaNode,
  meta: Set<string>,
  lifecycle: SchemaNode,
): string[] {
  return [bodies].flat().flatMap((body) => {
    if (!isObject(body)) return [];
    return [
      ...bodyProblems(body, node, "", meta),
      ...bodyProblems({ lifecycle: body.lifecycle ?? [] }, { lifecycle }, "", new Set()),
      ...ignoreChangesProblems(body.lifecycle, node),
    ].map((p) => `${label}: ${p}`);
  });
}

const PROVIDER_META = new Set(["alias", "version"]);

/** `type.name.attr` and `data.type.name.attr` references (after an optional index or splat). */
const REFERENCE =
  /(?<![\w.])(data\.)?((?:aws|cloudflare)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])*\.([A-Za-z_]\w*)/g;

function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (isObject(value)) return Object.values(value).flatMap(strings);
  return [];
}

function referenceProblems(parsed: Body, schema: ProviderSchema): string[] {
  const problems = new Set<string>();
  for (const text of strings(parsed))
    for (const m of text.matchAll(REFERENCE)) {
      const [ref, data, type, , attr] = m;
      const node = (data ? schema.data_sources : schema.resources)[type!];
      if (!node || attr! in node) continue; // unknown types are reported where they are declared
      problems.add(`reference ${ref}: "${type}" has no attribute "${attr}"`);
    }
  return [...problems];
}

/** Every problem of one parsed .tf file, each prefixed with `file: ` and the block it is in. */
export function providerSchemaProblems(file: string, parsed: Body, schema: ProviderSchema): string[] {
  const problems: string[] = [];
  const sections = [
    ["resource", schema.resources, RESOURCE_META, LIFECYCLE, ""],
    ["data", schema.data_sources, DATA_META, DATA_LIFECYCLE, "data."],
  ] as const;
  for (const [key, section, meta, lifecycle, prefix] of sections) {
    const blocks = (parsed[key] ?? {}) as Record<string, Record<string, unknown>>;
    for (const [type, byName] of Object.entries(blocks)) {
      const { node, problem } = schemaFor(section, type, key === "data" ? "data source" : "resource");
      for (const [name, bodies] of Object.entries(byName)) {
        const label = `${prefix}${type}.${name}`;
        if (problem) problems.push(`${label}: ${problem}`);
        else problems.push(...blockProblems(label, bodies, node!, meta, lifecycle));
      }
    }
  }
  for (const [name, bodies] of Object.entries((parsed.provider ?? {}) as Record<string, unknown>)) {
    const node = schema.provider_config[name];
    if (!node) problems.push(`provider "${name}": not one of the recorded providers`);
    else
      for (const body of [bodies].flat())
        if (isObject(body))
          problems.push(
            ...bodyProblems(body, node, "", PROVIDER_META).map((p) => `provider "${name}": ${p}`),
          );
  }
  problems.push(...referenceProblems(parsed, schema));
  return [...new Set(problems)].map((p) => `${file}: ${p}`); // one line for the same slip in list elements
}

/** `required_providers` of a parsed versions.tf: local name => { source, version }. */
export function requiredProviders(parsed: Body): Record<string, { source?: string; version?: string }> {
  const out: Record<string, { source?: string; version?: string }> = {};
  for (const tf of [parsed.terraform ?? []].flat())
    for (const rp of [isObject(tf) ? (tf.required_providers ?? []) : []].flat())
      if (isObject(rp)) for (const [name, req] of Object.entries(rp)) if (isObject(req)) out[name] = req;
  return out;
}

/**
 * Problems of one file's required_providers against the recorded versions: each must be an exact pin
 * ("6.25.0" or "= 6.25.0") of the version the schema was generated from.
 */
export function pinProblems(file: string, parsed: Body, schema: ProviderSchema): string[] {
  const problems: string[] = [];
  for (const [name, req] of Object.entries(requiredProviders(parsed))) {
    const recorded = Object.values(schema.providers).find((p) => p.source === req.source);
    if (!recorded) {
      problems.push(`${file}: provider "${name}" (${req.source}) has no recorded schema: ${REGENERATE}`);
      continue;
    }
    const pinned = String(req.version ?? "").replace(/^\s*=\s*/, "");
    if (pinned !== recorded.version)
      problems.push(
        `${file}: ${req.source} version "${req.version}" is not the recorded ${recorded.version}: ${REGENERATE}`,
      );
  }
  return problems;
}
