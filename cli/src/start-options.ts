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
  /** GPU_VARIANT: the weights gpu-service serves (default fp32; see start.ts). */
  gpuVariant: GpuVariant;
  /** `--help` / `-h`: print USAGE and start nothing. */
  help?: true;
}

export const GPU_VARIANTS = ["fp32", "fp16", "int8"] as const;
export type GpuVariant = (typeof GPU_VARIANTS)[number];

export const USAGE = `npm start [-- --new-key]: the local stack (gpu-service on CPU, the Worker under wrangler dev).
  --new-key        replace the local API key in edge/.dev.vars (the old one is revoked)
  --help, -h       this text
Settings (environment): EDGE_PORT (8787), GPU_PORT (8500), GPU_VARIANT (fp32 | fp16 | int8; fp32),
INTENTQL_API_KEY (also accept this key for this run). README.md, "Set up", has the details.`;

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
    if (!["--new-key", "--help", "-h"].includes(arg))
      throw new UsageError(`unknown option ${arg} (npm start [-- --new-key]; npm start -- --help)`);
  const gpuVariant = env.GPU_VARIANT || "fp32";
  if (!(GPU_VARIANTS as readonly string[]).includes(gpuVariant))
    throw new UsageError(
      `GPU_VARIANT must be one of ${GPU_VARIANTS.join(", ")}, got ${JSON.stringify(gpuVariant)}`,
    );
  const envKey = env.INTENTQL_API_KEY || undefined;
  // The message never repeats the value: it may be a production key.
  if (envKey !== undefined && !parseApiKey(envKey))
    throw new UsageError("INTENTQL_API_KEY is set but is not an IntentQL key (iql_<12 hex>_<43 chars>)");
  const gpuPort = port(env, "GPU_PORT", DEFAULT_GPU_PORT);
  const edgePort = port(env, "EDGE_PORT", DEFAULT_EDGE_PORT);
  if (gpuPort === edgePort)
    throw new UsageError(`EDGE_PORT and GPU_PORT are both ${gpuPort}; give them two ports`);
  return {
    gpuPort,
    edgePort,
    rotateKey: argv.includes("--new-key"),
    ...(envKey === undefined ? {} : { envKey }),
    gpuVariant: gpuVariant as GpuVariant,
    ...(argv.includes("--help") || argv.includes("-h") ? { help: true as const } : {}),
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
