/**
 * The npm tarball of the GraphiQL package that development GraphiQL's page pins
 * (edge/src/graphiql-page.ts), unpacked once per machine under the OS temp folder: the bytes unpkg
 * serves for those URLs. Fetched with `npm pack` from the registry `npm ci` uses, so a fresh
 * machine needs nothing more than the install did.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GRAPHIQL_PACKAGE, GRAPHIQL_VERSION } from "../../edge/src/graphiql-page.ts";

/** The unpacked package folder (its package.json, dist/…). */
export function graphiqlPackageDir(): string {
  const dir = join(tmpdir(), `intentql-graphiql-${GRAPHIQL_VERSION}`);
  if (existsSync(join(dir, "package.json"))) return dir;
  // Unpacked elsewhere and renamed into place, so test files that start together never read half a folder.
  const work = mkdtempSync(join(tmpdir(), "intentql-graphiql-pack-"));
  try {
    const tarball = execFileSync(
      "npm",
      ["pack", `${GRAPHIQL_PACKAGE}@${GRAPHIQL_VERSION}`, "--pack-destination", work, "--silent"],
      { cwd: work, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    )
      .trim()
      .split("\n")
      .at(-1)!;
    execFileSync("tar", ["xzf", join(work, tarball), "-C", work]);
    try {
      renameSync(join(work, "package"), dir);
    } catch (error) {
      if (!existsSync(join(dir, "package.json"))) throw error; // another file won the race
    }
    return dir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
