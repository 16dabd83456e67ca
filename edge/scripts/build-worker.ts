/**
 * Builds the edge Worker the way `wrangler deploy` would, without deploying:
 * `wrangler deploy --dry-run --outdir <dir>`, then folds Text modules (vocab.txt) into the entry
 * module so the result is one self-contained ES module, and writes `worker-manifest.json` (entry
 * module, sha256, sizes, compatibility settings and [vars] from edge/wrangler.toml). `npm test` uses
 * it to hold the Worker under Cloudflare's size limit; production deploys go through
 * edge/scripts/deploy-worker.ts (`wrangler deploy`).
 *
 * usage: node --import tsx edge/scripts/build-worker.ts [--outdir dist/worker]
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";
import { gzipSync } from "node:zlib";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
export const WRANGLER_CONFIG = join(ROOT, "edge/wrangler.toml");

/** Cloudflare's Worker size limits, after gzip compression. */
export const SIZE_LIMITS = { free: 3 * 1024 * 1024, paid: 10 * 1024 * 1024 } as const;

export interface WorkerManifest {
  main_module: string;
  sha256: string;
  bytes: number;
  gzip_bytes: number;
  compatibility_date: string;
  compatibility_flags: string[];
  vars: Record<string, string>;
  /** Text modules (vocab.txt, dashboard.html) folded into the entry module. */
  inlined_modules: string[];
}

/** Replaces `import x from "./file.txt";` with a string constant at the top of the module. */
export function inlineTextModules(
  source: string,
  modules: ReadonlyMap<string, string>,
): { code: string; inlined: string[] } {
  const inlined: string[] = [];
  const constants: string[] = [];
  const code = source.replace(
    /^import\s+([A-Za-z_$][\w$]*)\s+from\s+"\.\/([^"]+)";?\s*$/gm,
    (statement, name: string, file: string) => {
      const text = modules.get(file);
      if (text === undefined) return statement;
      inlined.push(file);
      constants.push(`const ${name} = ${JSON.stringify(text)};`);
      return "";
    },
  );
  return { code: `${constants.join("\n")}\n${code}`, inlined };
}

export async function buildWorker(outdir: string, config = WRANGLER_CONFIG): Promise<WorkerManifest> {
  const raw = join(outdir, "wrangler-out");
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
  const wrangler = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
  await run(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", raw, "--config", config], {
    cwd: ROOT,
    env,
    maxBuffer: 16 * 1024 * 1024,
  });

  const files = (await readdir(raw)).filter((f) => f !== "README.md" && !f.endsWith(".map"));
  const entry = files.find((f) => f === "worker.js") ?? files.find((f) => f.endsWith(".js"));
  if (!entry) throw new Error(`wrangler wrote no .js module to ${raw}: ${files.join(", ")}`);
  const others = files.filter((f) => f !== entry);
  // Text modules (wrangler.toml `rules`): the vocab and the dashboard page.
  const unsupported = others.filter((f) => !f.endsWith(".txt") && !f.endsWith(".html"));
  if (unsupported.length > 0)
    throw new Error(
      `the Worker has non-text extra modules (${unsupported.join(", ")}); cloudflare_workers_script uploads one module: deploy with wrangler instead`,
    );
  const texts = new Map<string, string>();
  for (const f of others) texts.set(f, await readFile(join(raw, f), "utf8"));
  const { code, inlined } = inlineTextModules(await readFile(join(raw, entry), "utf8"), texts);
  const missing = others.filter((f) => !inlined.includes(f));
  if (missing.length > 0) throw new Error(`could not inline module(s) ${missing.join(", ")} into ${entry}`);

  const bytes = Buffer.from(code, "utf8");
  await writeFile(join(outdir, entry), bytes);

  const { unstable_readConfig } = await import("wrangler");
  const parsed = unstable_readConfig({ config });
  const manifest: WorkerManifest = {
    main_module: entry,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    bytes: bytes.byteLength,
    gzip_bytes: gzipSync(bytes, { level: 9 }).byteLength,
    compatibility_date: parsed.compatibility_date ?? "",
    compatibility_flags: parsed.compatibility_flags ?? [],
    vars: Object.fromEntries(Object.entries(parsed.vars ?? {}).map(([k, v]) => [k, String(v)])),
    inlined_modules: inlined,
  };
  if (manifest.compatibility_date === "") throw new Error(`${config} has no compatibility_date`);
  await writeFile(join(outdir, "worker-manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({ options: { outdir: { type: "string", default: "dist/worker" } } });
  const outdir = resolve(values.outdir ?? "dist/worker");
  const m = await buildWorker(outdir);
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(
    `${join(outdir, m.main_module)}: ${kib(m.bytes)}, gzip ${kib(m.gzip_bytes)} (free-plan limit ${kib(SIZE_LIMITS.free)})`,
  );
  if (m.gzip_bytes >= SIZE_LIMITS.free) process.exitCode = 1;
}
