/** Static checks on infra/terraform, without Terraform or providers (pure functions over parsed HCL). */

export interface HclVariable {
  type?: string;
  description?: string;
  default?: unknown;
  sensitive?: boolean;
}

/** `variable` blocks of one parsed file (hcl2json shape: { variable: { name: [ {…} ] } }). */
export function variablesOf(parsed: Record<string, unknown>): Map<string, HclVariable> {
  const out = new Map<string, HclVariable>();
  const block = (parsed.variable ?? {}) as Record<string, HclVariable[]>;
  for (const [name, bodies] of Object.entries(block)) out.set(name, bodies[0] ?? {});
  return out;
}

/** Problems with a variable's declaration: missing type or description. */
export function variableProblems(name: string, v: HclVariable): string[] {
  const problems: string[] = [];
  if (typeof v.type !== "string" || v.type.trim() === "") problems.push(`variable "${name}" has no type`);
  if (typeof v.description !== "string" || v.description.trim().length < 10)
    problems.push(`variable "${name}" has no (meaningful) description`);
  return problems;
}

export const isRequired = (v: HclVariable) => !Object.hasOwn(v, "default");

const SECRET_NAME =
  "[A-Za-z0-9_]*(?:password|passwd|secret|token|api_?key|pepper|private_?key|access_?key)[A-Za-z0-9_]*";
const ASSIGNMENT = new RegExp(String.raw`^\s*"?(${SECRET_NAME})"?\s*[=:]\s*"([^"]*)"`, "gim");

/** Attributes whose names look secret but are not (IMDS mode, secret names and ARNs). */
const NOT_SECRET_NAMES = /^(http_tokens|.*_secret_(arn|name|id))$/i;

/** Values that are clearly not secrets: empty, references, interpolations, ARNs, names, placeholders. */
function harmless(value: string): boolean {
  return (
    value === "" ||
    value.includes("${") ||
    value.startsWith("$(") || // a shell command substitution: the value is fetched at run time
    value.startsWith("arn:") ||
    /^[a-z0-9-]+\/[a-z0-9/_-]+$/.test(value) || // a secret's *name*, e.g. intentql/upstream-token
    /^(change-?me|<[^>]+>|x+|\*+)$/i.test(value)
  );
}

/** Secret-looking literals: `token = "…"`, AWS access keys, PEM private keys, Cloudflare-style tokens. */
export function findSecretLiterals(text: string): string[] {
  const hits: string[] = [];
  for (const m of text.matchAll(ASSIGNMENT)) {
    const [, name, value] = m;
    if (!NOT_SECRET_NAMES.test(name!) && !harmless(value!)) hits.push(`${name} = "${value}"`);
  }
  for (const m of text.matchAll(/\b(AKIA|ASIA)[0-9A-Z]{16}\b/g)) hits.push(`AWS access key ${m[0]}`);
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) hits.push("PEM private key");
  return hits;
}
