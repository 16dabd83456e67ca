/**
 * The packages' boundaries (docs/ARCHITECTURE.md): each top-level part is an npm workspace with a
 * public entry point, a package reaches another only through it (Biome's noRestrictedImports, wired
 * in biome.json: proven here on probe sources), and no package's modules import each other in a cycle.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");
const rootPkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { workspaces: string[] };
const WORKSPACES = rootPkg.workspaces;
const manifest = (folder: string) =>
  JSON.parse(readFileSync(join(ROOT, folder, "package.json"), "utf8")) as {
    name: string;
    exports: Record<string, string>;
    dependencies?: Record<string, string>;
  };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mjs)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Value imports (static, re-exports and dynamic); `import type` / `export type` make no runtime edge. */
function valueImports(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gm))
    if (!m[2]) specs.push(m[3]!);
  for (const m of source.matchAll(/^\s*import\s+"([^"]+)"/gm)) specs.push(m[1]!);
  for (const m of source.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) specs.push(m[1]!);
  return specs;
}

const entryOf = new Map<string, string>();
for (const folder of WORKSPACES) {
  const { name, exports } = manifest(folder);
  for (const [sub, target] of Object.entries(exports))
    entryOf.set(sub === "." ? name : `${name}/${sub.slice(2)}`, join(ROOT, folder, target));
}

function resolveImport(from: string, spec: string): string | null {
  if (spec.startsWith(".")) {
    const path = resolve(dirname(from), spec);
    return /\.(ts|mjs)$/.test(path) && existsSync(path) ? path : null;
  }
  return entryOf.get(spec) ?? null;
}

describe("workspaces", () => {
  it("each workspace is a package named @intentql/<folder> whose exports exist", () => {
    expect(WORKSPACES).toEqual(["schema", "tokenizer", "eval-metrics", "edge", "gpu-service", "cli"]);
    for (const folder of WORKSPACES) {
      const { name, exports } = manifest(folder);
      expect(name).toBe(`@intentql/${folder}`);
      for (const target of Object.values(exports))
        expect(existsSync(join(ROOT, folder, target)), target).toBe(true);
    }
  });

  it("a package imports another only if it declares it as a dependency", () => {
    for (const folder of WORKSPACES) {
      const declared = new Set(Object.keys(manifest(folder).dependencies ?? {}));
      for (const file of sourceFiles(join(ROOT, folder)))
        for (const spec of valueImports(readFileSync(file, "utf8")).concat(typeImports(file))) {
          const pkg = /^@intentql\/[^/]+/.exec(spec)?.[0];
          if (pkg) expect(declared.has(pkg), `${relative(ROOT, file)} imports ${spec}`).toBe(true);
        }
    }
  });
});

function typeImports(file: string): string[] {
  return [
    ...readFileSync(file, "utf8").matchAll(/^\s*(?:import|export)\s+type\s[^;]*?from\s+"([^"]+)"/gm),
  ].map((m) => m[1]!);
}

describe("public entry points (biome.json noRestrictedImports)", () => {
  // Biome's --stdin-file-path mode prints no diagnostics: lint each probe as a file in a scratch
  // folder holding the repository's own biome.json (less the git integration, which needs a repo).
  const config = JSON.parse(readFileSync(join(ROOT, "biome.json"), "utf8"));
  delete config.$schema;
  delete config.vcs;
  const lint = (path: string, source: string) => {
    const dir = mkdtempSync(join(tmpdir(), "boundaries-"));
    try {
      writeFileSync(join(dir, "biome.json"), JSON.stringify(config));
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), source);
      return spawnSync(join(ROOT, "node_modules/.bin/biome"), ["lint", path], { cwd: dir, encoding: "utf8" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it.each([
    [
      "cli/src/probe.ts",
      'import { parseApiKey } from "../../edge/src/auth/api-keys.ts";\nexport { parseApiKey };\n',
    ],
    [
      "edge/src/probe.ts",
      'import { loadBundle } from "../../gpu-service/src/bundle/load-bundle.ts";\nexport { loadBundle };\n',
    ],
    ["gpu-service/src/probe.ts", 'const m = await import("../../tokenizer/src/vocab.ts");\nexport { m };\n'],
    ["schema/src/probe.ts", 'export { computeMetrics } from "../../eval-metrics/src/index.ts";\n'],
    ["tokenizer/src/probe.ts", 'import { x } from "../../test/support/prng.ts";\nexport { x };\n'],
    ["bench/probe.ts", 'import { createEdge } from "../edge/src/app.ts";\nexport { createEdge };\n'],
  ])("refuses a relative import of another part's internals in %s", (path, source) => {
    const result = lint(path, source);
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toContain("noRestrictedImports");
  });

  it("accepts the public entries and a package's own modules", () => {
    const source =
      'import { parseApiKey } from "@intentql/edge";\nimport { keySql } from "@intentql/edge/local-d1";\n' +
      'import { command } from "./commands/keys.ts";\nexport { command, keySql, parseApiKey };\n';
    const result = lint("cli/src/probe.ts", source);
    expect(result.stdout + result.stderr).not.toContain("noRestrictedImports");
  });
});

describe("import graph", () => {
  it("has no cycle of value imports, within or across packages", () => {
    const files = WORKSPACES.flatMap((folder) => sourceFiles(join(ROOT, folder)));
    const edges = new Map(
      files.map((file) => [
        file,
        valueImports(readFileSync(file, "utf8"))
          .map((spec) => resolveImport(file, spec))
          .filter((t): t is string => t !== null),
      ]),
    );
    const state = new Map<string, "open" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      state.set(file, "open");
      for (const next of edges.get(file) ?? []) {
        if (state.get(next) === "open")
          cycles.push([...path.slice(path.indexOf(next)), next].map((f) => relative(ROOT, f)).join(" → "));
        else if (!state.has(next)) visit(next, [...path, next]);
      }
      state.set(file, "done");
    };
    for (const file of files) if (!state.has(file)) visit(file, [file]);
    expect(cycles).toEqual([]);
  });
});
