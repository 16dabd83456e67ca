/**
 * `intentql keys create|list|revoke`: API key administration through the running API (the admin
 * key comes from INTENTQL_API_KEY, like every API command).
 *
 *   keys create --name NAME --scopes classify[,eval,admin] [--json]   the secret alone on stdout
 *   keys list [--all] [--json]                                        table (or JSON), no secrets
 *   keys revoke ID|KEY [--json]                                       the revoked record
 *   keys bootstrap --sql FILE [--name N]                              the first admin key, offline
 */

import { writeFileSync } from "node:fs";
import { generateApiKey, parseApiKey, SCOPES, type Scope } from "@intentql/edge";
import { keySql } from "@intentql/edge/local-d1";
import { apiClient, ENDPOINT_FLAG } from "../api-client.ts";
import { UsageError } from "../args.ts";
import { type CommandGroup, defineCommand } from "../command.ts";

interface ApiKey {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
  revokedAt: string | null;
}

const FIELDS = "id name scopes createdAt revokedAt";

const JSON_FLAG = { name: "json", description: "print JSON instead" } as const;

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

const create = defineCommand(
  {
    name: "keys create",
    summary: "create an API key and print it (shown this once)",
    description: [
      "Prints the whole key alone on its own line: it is shown this once (KEY=$(intentql keys create …)",
      "keeps it). --json prints {key, apiKey{id,name,scopes,createdAt,revokedAt}} instead.",
    ],
    flags: [
      {
        name: "name",
        value: "NAME",
        description: "a label for the key (who or what uses it)",
        required: 'a label for the key, e.g. --name "mobile app"',
      },
      {
        name: "scopes",
        value: "SCOPE[,SCOPE…]",
        description: `what the key may do: ${SCOPES.join(", ")}, comma-separated`,
        required: `one or more of ${SCOPES.join(", ")}, comma-separated, e.g. --scopes classify,eval`,
      },
      { ...JSON_FLAG, description: "print {key, apiKey} as JSON instead of the key alone" },
      ENDPOINT_FLAG,
    ],
  },
  async (args) => {
    const name = args.required("name");
    const scopes = parseScopeList(args.required("scopes"));
    const { createApiKey } = await apiClient(args.required("endpoint")).request<{
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
    process.stdout.write(args.boolean("json") ? `${JSON.stringify(createApiKey)}\n` : `${key}\n`);
    return 0;
  },
);

const list = defineCommand(
  {
    name: "keys list",
    summary: "list API keys, newest first, without their secrets",
    description: [
      "Columns: id, name, scopes, created, revoked. Secrets are never shown (the server keeps only",
      "their HMAC).",
    ],
    flags: [
      { name: "all", description: "include revoked keys" },
      {
        name: "first",
        value: "N",
        description: "list the newest N keys (the API gives at most 1000 a request)",
        default: "100",
        integer: { min: 1, max: 1000 },
      },
      { ...JSON_FLAG, description: "print the keys as a JSON array instead of a table" },
      ENDPOINT_FLAG,
    ],
  },
  async (args) => {
    const { apiKeys } = await apiClient(args.required("endpoint")).request<{ apiKeys: ApiKey[] }>(
      `query ApiKeys($includeRevoked: Boolean, $first: Int) { apiKeys(includeRevoked: $includeRevoked, first: $first) { ${FIELDS} } }`,
      { includeRevoked: args.boolean("all"), first: args.integer("first") },
    );
    process.stdout.write(args.boolean("json") ? `${JSON.stringify(apiKeys)}\n` : `${formatTable(apiKeys)}\n`);
    return 0;
  },
);

const revoke = defineCommand(
  {
    name: "keys revoke",
    summary: "revoke an API key and print its record",
    description: [
      "The edge isolate that answers refuses the key at once; others within API_KEY_CACHE_TTL_MS",
      "(30 s by default).",
    ],
    positionals: {
      name: "ID|KEY",
      description: "the key's id (12 hex digits, from keys list) or the whole key iql_<id>_<secret>",
      min: 1,
      max: 1,
    },
    flags: [
      { ...JSON_FLAG, description: "print the revoked record as JSON instead of a table" },
      ENDPOINT_FLAG,
    ],
  },
  async (args) => {
    const id = keyIdFrom(args.positionals[0]!);
    const { revokeApiKey } = await apiClient(args.required("endpoint")).request<{ revokeApiKey: ApiKey }>(
      `mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) { ${FIELDS} } }`,
      { id },
    );
    process.stderr.write(
      `revoked key ${revokeApiKey.id}: refused at once by the edge isolate that answered; by other isolates within API_KEY_CACHE_TTL_MS (30 s by default)\n`,
    );
    process.stdout.write(
      args.boolean("json") ? `${JSON.stringify(revokeApiKey)}\n` : `${formatTable([revokeApiKey])}\n`,
    );
    return 0;
  },
);

/**
 * A new deployment has no key to call createApiKey with: this makes the first admin key offline,
 * hashed with the Worker's pepper (API_KEY_PEPPER in the environment, the same secret the Worker
 * holds), and writes the SQL that stores it, for `wrangler d1 execute` on the production D1 through
 * `npm run deploy:edge` (which takes its database ID from Terraform).
 * The key is printed once; the file holds only its hash.
 */
const bootstrap = defineCommand(
  {
    name: "keys bootstrap",
    summary: "make the first admin key of a new deployment, offline (API_KEY_PEPPER in the environment)",
    description: [
      "Prints the key alone on stdout and writes the SQL that stores its hash to --sql FILE; then store it",
      "in the production D1 (its ID comes from Terraform; edge/wrangler.toml holds a placeholder):",
      "`npm run deploy:edge -- --terraform-dir infra/terraform/envs/prod -- d1 execute intentql --remote --file FILE`",
      "(docs/DEPLOY.md, 7.6).",
    ],
    flags: [
      {
        name: "sql",
        value: "FILE",
        description: "where to write the SQL statement (it holds the key's HMAC, not the key)",
        required: "a file to write the SQL to, e.g. --sql /tmp/first-key.sql",
      },
      { name: "name", value: "NAME", description: "a label for the key", default: "bootstrap admin" },
    ],
  },
  async (args) => {
    const pepper = process.env.API_KEY_PEPPER;
    if (!pepper || pepper.length < 32)
      throw new UsageError(
        "API_KEY_PEPPER must be set to the Worker's pepper secret (at least 32 characters), e.g. from your secret store",
      );
    const key = generateApiKey();
    const statements = await keySql(pepper, [
      { key, scopes: ["admin", "eval", "classify"], name: args.required("name") },
    ]);
    writeFileSync(args.required("sql"), `${statements.join("\n")}\n`, { mode: 0o600 });
    process.stderr.write(
      `wrote ${args.required("sql")}: store it with npm run deploy:edge -- --terraform-dir DIR -- d1 execute intentql --remote --file ${args.required("sql")} (docs/DEPLOY.md); the key is shown this once\n`,
    );
    process.stdout.write(`${key}\n`);
    return 0;
  },
);

export const command: CommandGroup = {
  name: "keys",
  summary: "API key administration (admin key: INTENTQL_API_KEY)",
  description: [
    "create, list and revoke talk to the running API (--endpoint) with an admin key in INTENTQL_API_KEY;",
    "bootstrap makes the first admin key offline, from the Worker's API_KEY_PEPPER.",
  ],
  subcommands: [create, list, revoke, bootstrap],
};
