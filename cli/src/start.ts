/**
 * `npm start [-- --new-key]`: the local stack. gpu-service on CPU serving the model repository
 * `models/` (the default bundle, and any bundle `intentql train` wrote there; GPU_PORT, default 8500) and the edge under `wrangler dev` (EDGE_PORT, default 8787) in development mode
 * (GraphiQL at /graphql, error details) with its local D1 migrated. Prints the URLs and the local
 * API key (start-options.ts `keyLines`: whole, with a logged-in dashboard link, only when it is new);
 * Ctrl-C or SIGTERM stops both, and so does the end of the process that started it (npm's script
 * shell `exec`s this one, so npm's signals reach it; a parent that dies without passing one on
 * leaves it orphaned, which it notices within a second).
 *
 * Local secrets live in edge/.dev.vars (git-ignored, mode 0600), created on first start: a random
 * API_KEY_PEPPER and UPSTREAM_TOKEN (gpu-service gets the same token) and LOCAL_API_KEY, the local
 * key, reused across restarts and stored hashed in D1 like any key; `--new-key` rotates it (the old
 * one is revoked). The Worker reads LOCAL_API_KEY only in development, to prefill GraphiQL's
 * Authorization header. A key in INTENTQL_API_KEY is stored hashed in D1 for this run as well (and
 * revoked by the next start without it), so the CLI in the same shell works; it may be a production
 * key, so it never reaches edge/.dev.vars, the terminal, GraphiQL or the dashboard link.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { generateApiKey, parseApiKey } from "@intentql/edge";
import { applyLocalMigrations, EDGE_DIR, storeLocalKeys, WRANGLER_ENV } from "@intentql/edge/local-d1";
import { UsageError } from "./args.ts";
import { keyLines, nextSteps, type StartOptions, startOptions, USAGE } from "./start-options.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** The names npm start gives the keys it stores (`intentql keys list` shows them). */
const LOCAL_KEY_NAME = "npm start";
const ENV_KEY_NAME = "npm start (INTENTQL_API_KEY)";
const DEV_VARS = resolve(EDGE_DIR, ".dev.vars");

function readDevVars(): Record<string, string> {
  const vars: Record<string, string> = {};
  if (existsSync(DEV_VARS))
    for (const line of readFileSync(DEV_VARS, "utf8").split("\n")) {
      const m = /^\s*([A-Z_][A-Z0-9_]*)\s*=\s*"?(.*?)"?\s*$/.exec(line);
      if (m) vars[m[1]!] = m[2]!;
    }
  return vars;
}

function writeDevVars(vars: Record<string, string>): void {
  writeFileSync(
    DEV_VARS,
    `# Local secrets for wrangler dev, made by npm start. Never commit.\n${Object.entries(vars)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n")}\n`,
    { mode: 0o600 },
  );
  chmodSync(DEV_VARS, 0o600); // `mode` applies only when the file is created
}

/** The local secrets, created where missing; `newKey` says whether the local key is new. */
function devVars(rotateKey: boolean): { vars: Record<string, string>; newKey: boolean } {
  const vars = readDevVars();
  const before = JSON.stringify(vars);
  for (const name of ["API_KEY_PEPPER", "UPSTREAM_TOKEN"])
    if (!vars[name]) vars[name] = randomBytes(24).toString("base64url");
  const newKey = rotateKey || !vars.LOCAL_API_KEY || !parseApiKey(vars.LOCAL_API_KEY);
  if (newKey) vars.LOCAL_API_KEY = generateApiKey();
  if (JSON.stringify(vars) !== before) writeDevVars(vars);
  else chmodSync(DEV_VARS, 0o600); // a file made by hand or an older npm start may be readable by others
  return { vars, newKey };
}

function waitFor(url: string, child: ChildProcess, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolvePromise, reject) => {
    const tick = async (): Promise<void> => {
      if (child.exitCode !== null) return reject(new Error(`${what} exited with ${child.exitCode}`));
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        if (r.ok) return resolvePromise();
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) return reject(new Error(`${what} not ready after ${timeoutMs} ms`));
      setTimeout(tick, 300);
    };
    void tick();
  });
}

/** Whether 127.0.0.1:`port` can be listened on now (nothing else holds it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const probe = createServer();
    probe.once("error", () => resolvePromise(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolvePromise(true)));
  });
}

async function main({ gpuPort, edgePort, rotateKey, envKey, gpuVariant }: StartOptions): Promise<number> {
  // Both ports first, named by their settings: else gpu-service's EADDRINUSE or wrangler's "--port"
  // advice is all a user sees, and neither names what to change.
  for (const [name, port] of [
    ["GPU_PORT", gpuPort],
    ["EDGE_PORT", edgePort],
  ] as const)
    if (!(await portFree(port)))
      throw new UsageError(
        `port ${port} (${name}) is in use: stop what holds it, or set ${name} to a free port`,
      );
  const { vars, newKey } = devVars(rotateKey);
  const key = vars.LOCAL_API_KEY!;

  const children: ChildProcess[] = [];
  const migrating = new AbortController();
  let migrations: Promise<unknown> = Promise.resolve();
  let stopping = false;
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write("\nstopping…\n");
    migrating.abort(); // a wrangler still migrating D1 ends too, not orphaned
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
    const force = setTimeout(() => {
      for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    }, 10_000);
    force.unref();
    Promise.all([
      migrations.catch(() => undefined),
      ...children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r)))),
    ]).then(() => process.exit(code));
  };
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));
  // Orphaned (the parent ended without passing a signal on): stop rather than hold both ports.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop(0);
  }, 1_000).unref();

  const gpu = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "gpu-service/src/main.ts",
      "--device",
      "cpu",
      "--host",
      "127.0.0.1",
      "--port",
      String(gpuPort),
      "--model-repository",
      "models",
    ],
    {
      cwd: ROOT,
      // fp32 by default: int8's dynamic quantisation scales activations per batch, so its answers can
      // shift with batch mates, and a local eval run should agree with `intentql predict` to the
      // prediction. GPU_VARIANT=int8 is ~1.4× faster on CPU (docs/BENCHMARKS.md).
      env: {
        ...process.env,
        GPU_VARIANT: gpuVariant,
        INTENTQL_UPSTREAM_TOKEN: vars.UPSTREAM_TOKEN,
      },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  children.push(gpu);
  gpu.once("exit", (code) => {
    if (!stopping) {
      process.stderr.write(`gpu-service exited (${code})\n`);
      stop(1);
    }
  });

  process.stderr.write("applying local D1 migrations…\n");
  migrations = applyLocalMigrations(undefined, migrating.signal);
  await migrations;
  // The local key and INTENTQL_API_KEY's, stored hashed; any other key npm start stored before (a
  // rotated local key, a key of an earlier run's INTENTQL_API_KEY) is revoked.
  const scopes = ["classify", "eval", "admin"] as const;
  await storeLocalKeys(
    vars.API_KEY_PEPPER!,
    [
      { key, scopes: [...scopes], name: LOCAL_KEY_NAME },
      ...(envKey !== undefined && envKey !== key
        ? [{ key: envKey, scopes: [...scopes], name: ENV_KEY_NAME }]
        : []),
    ],
    undefined,
    [LOCAL_KEY_NAME, ENV_KEY_NAME],
  );

  const edge = spawn(
    process.execPath,
    [
      resolve(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(edgePort),
      "--var",
      `UPSTREAM_URL:http://127.0.0.1:${gpuPort}`,
      "--var",
      "ENVIRONMENT:development",
      "--show-interactive-dev-session=false",
    ],
    { cwd: EDGE_DIR, env: { ...process.env, ...WRANGLER_ENV }, stdio: ["ignore", "inherit", "inherit"] },
  );
  children.push(edge);
  edge.once("exit", (code) => {
    if (!stopping) {
      process.stderr.write(`wrangler dev exited (${code})\n`);
      stop(1);
    }
  });

  await Promise.all([
    waitFor(`http://127.0.0.1:${gpuPort}/v2/health/ready`, gpu, "gpu-service"),
    waitFor(`http://127.0.0.1:${edgePort}/health`, edge, "wrangler dev"),
  ]);
  const base = `http://127.0.0.1:${edgePort}`;
  process.stdout.write(
    [
      "",
      "IntentQL is running (development mode).",
      `  GraphQL    ${base}/graphql   (GraphiQL in a browser, the local key already in its headers)`,
      `  Model      http://127.0.0.1:${gpuPort}/v2/models (gpu-service, CPU)`,
      ...keyLines(base, { local: key, localIsNew: newKey, envKey }),
      "",
      ...nextSteps(edgePort),
      "",
      "Ctrl-C stops both.",
      "",
    ].join("\n"),
  );
  return 0;
}

let options: StartOptions;
try {
  options = startOptions(process.argv.slice(2), process.env);
} catch (error) {
  // Nothing started yet: a usage error exits 2, as the intentql command's do.
  process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
}
if (options.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
main(options).catch((error: unknown) => {
  if ((error as Error).name === "AbortError") return; // the migrations, ended by a stop already under way
  process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)}\n`);
  if (error instanceof UsageError) process.exit(2); // found before anything started
  process.kill(process.pid, "SIGTERM");
  process.exitCode = 1;
});
