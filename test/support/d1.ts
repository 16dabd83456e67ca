import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { D1Database, D1PreparedStatement } from "@cloudflare/workers-types";
import { getPlatformProxy } from "wrangler";

const MIGRATIONS = "edge/migrations";

/** Splits a migration file into statements: `;` at a line end ends one; `--` comments are dropped. */
export function migrationStatements(sql: string): string[] {
  const withoutComments = sql
    .split("\n")
    .map((line) => line.replace(/--.*$/, ""))
    .join("\n");
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export async function applyMigrations(db: D1Database): Promise<void> {
  const files = readdirSync(MIGRATIONS)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  for (const file of files) {
    for (const statement of migrationStatements(readFileSync(join(MIGRATIONS, file), "utf8"))) {
      await db.prepare(statement).run();
    }
  }
}

/**
 * A real D1 (SQLite in workerd) with the project's migrations applied, from wrangler's public
 * `getPlatformProxy` (the same local D1 `wrangler dev` runs) on a throwaway config with only a D1
 * binding, in memory: each call gets an empty database.
 */
export async function startD1(): Promise<{ db: D1Database; dispose(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "intentql-d1-"));
  const configPath = join(dir, "wrangler.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      name: "intentql-test-d1",
      compatibility_date: "2026-04-01",
      d1_databases: [
        { binding: "DB", database_name: "test", database_id: "00000000-0000-0000-0000-000000000000" },
      ],
    }),
  );
  const proxy = await getPlatformProxy<{ DB: D1Database }>({ configPath, persist: false, envFiles: [] });
  await applyMigrations(proxy.env.DB);
  return {
    db: proxy.env.DB,
    async dispose() {
      await proxy.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A D1 that counts the statements whose SQL contains `match` and, while `fail` is set, makes exactly
 * those fail as a broken D1 would (a fake for counting and faults only; everything runs on `db`).
 */
export function instrumentD1(
  db: D1Database,
  match: string,
): { db: D1Database; state: { count: number; fail: boolean } } {
  const state = { count: 0, fail: false };
  const failing = (): D1PreparedStatement => {
    const refuse = () => Promise.reject(new Error("D1_ERROR: injected"));
    // A fake statement with the methods the edge calls on one.
    return {
      bind: () => failing(),
      first: refuse,
      all: refuse,
      run: refuse,
      raw: refuse,
    } as unknown as D1PreparedStatement;
  };
  const instrumented = new Proxy(db, {
    get(target, property) {
      if (property === "prepare")
        return (sql: string) => {
          if (!sql.includes(match)) return target.prepare(sql);
          state.count++;
          return state.fail ? failing() : target.prepare(sql);
        };
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: instrumented, state };
}
