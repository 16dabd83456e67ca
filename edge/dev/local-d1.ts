/**
 * Node-only helpers for the local stack (`npm start`, integration tests, benchmarks): apply the D1
 * migrations to wrangler's local state and store API keys there, through the wrangler CLI so the
 * state is exactly what `wrangler dev` reads.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { insertApiKeyStatement } from "../src/auth/api-keys.ts";
import type { Scope } from "../src/graphql/builder.ts";

const run = promisify(execFile);
export const EDGE_DIR = resolve(import.meta.dirname, "..");
const WRANGLER = resolve(EDGE_DIR, "../node_modules/wrangler/bin/wrangler.js");

/** Keeps wrangler from phoning home, as everywhere in this repo. */
export const WRANGLER_ENV = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "1" };

/** Runs the repo's wrangler; `signal` ends it (SIGTERM) when aborted. */
export async function wrangler(args: string[], signal?: AbortSignal): Promise<string> {
  const { stdout } = await run(process.execPath, [WRANGLER, ...args], {
    cwd: EDGE_DIR,
    env: { ...process.env, ...WRANGLER_ENV },
    maxBuffer: 16 * 1024 * 1024,
    ...(signal ? { signal } : {}),
  });
  return stdout;
}

function persistArgs(persistTo: string | undefined): string[] {
  return persistTo ? ["--persist-to", persistTo] : [];
}

/** `wrangler d1 migrations apply DB --local`: idempotent, records what it applied. */
export async function applyLocalMigrations(persistTo?: string, signal?: AbortSignal): Promise<void> {
  await wrangler(["d1", "migrations", "apply", "DB", "--local", ...persistArgs(persistTo)], signal);
}

function sqlLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export interface KeyToStore {
  key: string;
  scopes: Scope[];
  name?: string;
  revoked?: boolean;
}

/** SQL statements (values inlined, quoted) that store these keys hashed with `pepper`. */
export async function keySql(pepper: string, keys: readonly KeyToStore[]): Promise<string[]> {
  const out: string[] = [];
  for (const k of keys) {
    const { sql, values } = await insertApiKeyStatement(pepper, k.key, k.scopes, k.name ?? "local");
    let i = 0;
    out.push(`${sql.replace(/\?/g, () => sqlLiteral(values[i++]!))};`);
    if (k.revoked)
      out.push(
        `UPDATE api_keys SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ${sqlLiteral(k.key.split("_")[1]!)};`,
      );
  }
  return out;
}

/**
 * Stores (or re-scopes) API keys in the local D1 (migrations must be applied). `revokeNamed` first
 * revokes every other active key with one of those names (npm start rotating its local key).
 */
export async function storeLocalKeys(
  pepper: string,
  keys: readonly KeyToStore[],
  persistTo?: string,
  revokeNamed: readonly string[] = [],
): Promise<void> {
  const keep = keys.map((k) => sqlLiteral(k.key.split("_")[1]!)).join(", ");
  const revoke =
    revokeNamed.length > 0
      ? [
          `UPDATE api_keys SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE name IN (${revokeNamed.map(sqlLiteral).join(", ")}) AND revoked_at IS NULL AND id NOT IN (${keep || "''"});`,
        ]
      : [];
  await executeLocalSql([...revoke, ...(await keySql(pepper, keys))].join("\n"), persistTo);
}

/**
 * For tests: a fresh local D1 with every migration and the given keys, in ONE wrangler run (each
 * costs seconds). Unlike `migrations apply`, it does not record the migrations as applied.
 */
export async function seedFreshLocalD1(
  persistTo: string,
  pepper: string,
  keys: readonly KeyToStore[],
): Promise<void> {
  const migrations = readdirSync(join(EDGE_DIR, "migrations"))
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((f) => readFileSync(join(EDGE_DIR, "migrations", f), "utf8"));
  await executeLocalSql([...migrations, ...(await keySql(pepper, keys))].join("\n"), persistTo);
}

async function executeLocalSql(sql: string, persistTo?: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "intentql-sql-"));
  try {
    const file = join(dir, "statements.sql");
    writeFileSync(file, sql);
    await wrangler(["d1", "execute", "DB", "--local", ...persistArgs(persistTo), "--file", file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
