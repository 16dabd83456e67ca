import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { D1Database } from "@cloudflare/workers-types";
import { Miniflare } from "miniflare";

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

/** A real D1 (SQLite in workerd, through Miniflare) with the project's migrations applied. */
export async function startD1(): Promise<{ db: D1Database; dispose(): Promise<void> }> {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response(null, { status: 404 }); } }",
    d1Databases: ["DB"],
  });
  const db = (await mf.getD1Database("DB")) as unknown as D1Database;
  await applyMigrations(db);
  return { db, dispose: () => mf.dispose() };
}
