/**
 * `intentql keys create|list|revoke`: API key administration through the running API (the admin
 * key comes from INTENTQL_API_KEY, like every API command).
 *
 *   keys create --name NAME --scopes classify[,eval,admin] [--json]   the secret alone on stdout
 *   keys list [--all] [--json]                                        table (or JSON), no secrets
 *   keys revoke ID|KEY [--json]                                       the revoked record
 */

import { parseApiKey, SCOPES } from "../../../edge/src/auth/api-keys.ts";
import type { Scope } from "../../../schema/src/graphql/builder.ts";
import { apiClient } from "../api-client.ts";
import { parseArgs, rejectUnknownFlags, requireFlag, UsageError } from "../args.ts";

interface ApiKey {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
  revokedAt: string | null;
}

const FIELDS = "id name scopes createdAt revokedAt";

const USAGE: Record<string, string> = {
  create: [
    "usage: intentql keys create --name NAME --scopes SCOPE[,SCOPE…] [--json] [--endpoint URL]",
    "",
    `  Creates a key with the given scopes (${SCOPES.join(", ")}) and prints the whole key on its own`,
    "  line: it is shown this once (KEY=$(intentql keys create …) keeps it). --json prints",
    "  {key, apiKey{id,name,scopes,createdAt,revokedAt}} instead.",
  ].join("\n"),
  list: [
    "usage: intentql keys list [--all] [--json] [--endpoint URL]",
    "",
    "  Lists keys, newest first: id, name, scopes, created, revoked. Secrets are never shown (the",
    "  server keeps only their HMAC). --all includes revoked keys.",
  ].join("\n"),
  revoke: [
    "usage: intentql keys revoke ID|KEY [--json] [--endpoint URL]",
    "",
    "  Revokes a key, given its id or the whole key iql_<id>_<secret>, and prints its record. The edge",
    "  isolate that answers refuses it at once; others within API_KEY_CACHE_TTL_MS (30 s by default).",
  ].join("\n"),
};

const OVERVIEW = [
  "usage: intentql keys <create|list|revoke> [options]",
  "",
  "  keys create --name NAME --scopes classify[,eval,admin] [--json]   prints the new key (shown once)",
  "  keys list [--all] [--json]                                        keys without their secrets",
  "  keys revoke ID|KEY [--json]                                       revokes a key",
  "",
  "  Every subcommand takes --endpoint URL (default: the local edge) and needs an admin key in",
  "  INTENTQL_API_KEY. `intentql keys <subcommand> --help` for details.",
].join("\n");

/** `--help`/`-h` before any `--` (args.ts knows no help flag, and would take it for a value flag). */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

export function parseScopeList(raw: string): Scope[] {
  const scopes = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (scopes.length === 0) throw new UsageError(`--scopes needs at least one of ${SCOPES.join(", ")}`);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new UsageError(
      `--scopes: unknown scope${unknown.length > 1 ? "s" : ""} ${unknown.map((s) => `"${s}"`).join(", ")} (use ${SCOPES.join(", ")})`,
    );
  return [...new Set(scopes)] as Scope[];
}

/** The id a revoke targets: a key id (12 hex) as-is, or the id part of a whole key. */
export function keyIdFrom(arg: string): string {
  const id = parseApiKey(arg)?.id ?? arg;
  if (!/^[0-9a-f]{12}$/.test(id))
    throw new UsageError(`"${arg}" is neither a key id (12 hex digits) nor a whole key iql_<id>_<secret>`);
  return id;
}

/** Names are free text: keep control characters (tabs, newlines, escapes) out of the table. */
function cell(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
}

export function formatTable(keys: readonly ApiKey[]): string {
  const rows = [
    ["ID", "NAME", "SCOPES", "CREATED", "REVOKED"],
    ...keys.map((k) => [k.id, cell(k.name), k.scopes.join(","), k.createdAt, k.revokedAt ?? "-"]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function create(argv: string[]): Promise<number> {
  const args = parseArgs(argv, new Set(["json"]));
  rejectUnknownFlags(args, ["name", "scopes", "json", "endpoint"]);
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const name = requireFlag(args, "name");
  const scopes = parseScopeList(requireFlag(args, "scopes"));
  const { createApiKey } = await apiClient(args.flags.get("endpoint")).request<{
    createApiKey: { key: string; apiKey: ApiKey };
  }>(
    `mutation CreateApiKey($name: String!, $scopes: [ApiKeyScope!]!) {
      createApiKey(name: $name, scopes: $scopes) { key apiKey { ${FIELDS} } } }`,
    { name, scopes },
  );
  const { key, apiKey } = createApiKey;
  process.stderr.write(
    `created key ${apiKey.id} (${cell(apiKey.name)}: ${apiKey.scopes.join(",")}); the key is shown this once, store it now\n`,
  );
  process.stdout.write(args.flags.has("json") ? `${JSON.stringify(createApiKey)}\n` : `${key}\n`);
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const args = parseArgs(argv, new Set(["all", "json"]));
  rejectUnknownFlags(args, ["all", "json", "endpoint"]);
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const { apiKeys } = await apiClient(args.flags.get("endpoint")).request<{ apiKeys: ApiKey[] }>(
    `query ApiKeys($includeRevoked: Boolean) { apiKeys(includeRevoked: $includeRevoked) { ${FIELDS} } }`,
    { includeRevoked: args.flags.has("all") },
  );
  process.stdout.write(args.flags.has("json") ? `${JSON.stringify(apiKeys)}\n` : `${formatTable(apiKeys)}\n`);
  return 0;
}

async function revoke(argv: string[]): Promise<number> {
  const args = parseArgs(argv, new Set(["json"]));
  rejectUnknownFlags(args, ["json", "endpoint"]);
  if (args.positionals.length !== 1) throw new UsageError("give exactly one key ID (or whole key) to revoke");
  const id = keyIdFrom(args.positionals[0]!);
  const { revokeApiKey } = await apiClient(args.flags.get("endpoint")).request<{ revokeApiKey: ApiKey }>(
    `mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) { ${FIELDS} } }`,
    { id },
  );
  process.stderr.write(
    `revoked key ${revokeApiKey.id}: refused at once by the edge isolate that answered; by other isolates within API_KEY_CACHE_TTL_MS (30 s by default)\n`,
  );
  process.stdout.write(
    args.flags.has("json") ? `${JSON.stringify(revokeApiKey)}\n` : `${formatTable([revokeApiKey])}\n`,
  );
  return 0;
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = { create, list, revoke };

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) throw new UsageError(`a subcommand is needed\n${OVERVIEW}`);
  if (sub === "--help" || sub === "-h" || sub === "help") {
    const topic = sub === "help" ? rest[0] : undefined;
    process.stdout.write(`${(topic && USAGE[topic]) || OVERVIEW}\n`);
    return 0;
  }
  const command = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (!command) throw new UsageError(`unknown subcommand "${sub}"\n${OVERVIEW}`);
  if (wantsHelp(rest)) {
    process.stdout.write(`${USAGE[sub]}\n`);
    return 0;
  }
  return command(rest);
}
