/**
 * What `npm start` (start.ts) reads from its arguments and environment, and the next steps it
 * prints. Pure, apart from the values passed in, so that tests can check them without starting the
 * stack.
 */
import { parseApiKey } from "@intentql/edge";
import { UsageError } from "./args.ts";

/** The Worker's port when EDGE_PORT is unset; the CLI's default endpoint (api-client.ts) uses it too. */
export const DEFAULT_EDGE_PORT = 8787;
export const DEFAULT_GPU_PORT = 8500;

export interface StartOptions {
  gpuPort: number;
  edgePort: number;
  /** `--new-key`: replace the local key in edge/.dev.vars (the old one is revoked). */
  rotateKey: boolean;
  /**
   * INTENTQL_API_KEY, when set: accepted by the local stack for this run too, beside the local key.
   * It may be a production key (docs/DEPLOY.md has operators export one), so npm start never writes
   * it to disk, never prints it, and never hands it to GraphiQL or the dashboard link.
   */
  envKey?: string;
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new UsageError(`${name} must be a port number, got "${raw}"`);
  return n;
}

/** `npm start [-- --new-key]` with GPU_PORT, EDGE_PORT and INTENTQL_API_KEY; a UsageError says what is wrong. */
export function startOptions(argv: readonly string[], env: NodeJS.ProcessEnv): StartOptions {
  for (const arg of argv)
    if (arg !== "--new-key") throw new UsageError(`unknown option ${arg} (npm start [-- --new-key])`);
  const envKey = env.INTENTQL_API_KEY || undefined;
  // The message never repeats the value: it may be a production key.
  if (envKey !== undefined && !parseApiKey(envKey))
    throw new UsageError("INTENTQL_API_KEY is set but is not an IntentQL key (iql_<12 hex>_<43 chars>)");
  return {
    gpuPort: port(env, "GPU_PORT", DEFAULT_GPU_PORT),
    edgePort: port(env, "EDGE_PORT", DEFAULT_EDGE_PORT),
    rotateKey: argv.includes("--new-key"),
    ...(envKey === undefined ? {} : { envKey }),
  };
}

/** A key as npm start may print it when it is not new: its public id (`iql_<12 hex>_`) and no secret. */
export function keyId(key: string): string {
  return `${key.slice(0, 17)}…`;
}

/**
 * The banner's dashboard and key lines. The local key (edge/.dev.vars) opens the dashboard and is
 * printed whole only when it is new; INTENTQL_API_KEY is named by its id alone.
 */
export function keyLines(
  base: string,
  keys: { local: string; localIsNew: boolean; envKey?: string | undefined },
): string[] {
  const local = keys.localIsNew
    ? `${keys.local} (new; kept in edge/.dev.vars and reused by the next npm start; npm start -- --new-key rotates it)`
    : `${keyId(keys.local)} (the local key in edge/.dev.vars; npm start -- --new-key rotates it)`;
  return [
    keys.localIsNew
      ? `  Dashboard  ${base}/dashboard#key=${keys.local}   (opens logged in)`
      : `  Dashboard  ${base}/dashboard   (log in with the local key: grep ^LOCAL_API_KEY= edge/.dev.vars)`,
    `  API key    ${local}`,
    ...(keys.envKey !== undefined && keys.envKey !== keys.local
      ? [
          `             ${keyId(keys.envKey)} (INTENTQL_API_KEY) works too; kept only hashed, in the local D1, until a start without it`,
        ]
      : []),
  ];
}

/**
 * The commands to paste into a second terminal to use the stack. The CLI finds the API through
 * EDGE_PORT, so a port other than the default is exported first.
 */
export function nextSteps(edgePort: number): string[] {
  return [
    "  In another terminal:",
    ...(edgePort === DEFAULT_EDGE_PORT ? [] : [`  export EDGE_PORT=${edgePort}`]),
    "  export INTENTQL_API_KEY=$(grep ^LOCAL_API_KEY= edge/.dev.vars | cut -d= -f2)",
    `  npx intentql classify "please cancel my alarm"`,
  ];
}
