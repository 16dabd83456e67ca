/**
 * What `npm start` (start.ts) reads from its arguments and environment, and the next steps it
 * prints. Pure, apart from the values passed in, so that tests can check them without starting the
 * stack.
 */
import { UsageError } from "./args.ts";

/** The Worker's port when EDGE_PORT is unset; the CLI's default endpoint (api-client.ts) uses it too. */
export const DEFAULT_EDGE_PORT = 8787;
export const DEFAULT_GPU_PORT = 8500;

export interface StartOptions {
  gpuPort: number;
  edgePort: number;
  /** `--new-key`: replace the local key in edge/.dev.vars (the old one is revoked). */
  rotateKey: boolean;
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
  const rotateKey = argv.includes("--new-key");
  // INTENTQL_API_KEY wins over the local key, so a rotation would make a key nobody uses.
  if (rotateKey && env.INTENTQL_API_KEY)
    throw new UsageError(
      "--new-key rotates the local key in edge/.dev.vars, but INTENTQL_API_KEY is set and npm start would use it instead: unset INTENTQL_API_KEY first (env -u INTENTQL_API_KEY npm start -- --new-key)",
    );
  return {
    gpuPort: port(env, "GPU_PORT", DEFAULT_GPU_PORT),
    edgePort: port(env, "EDGE_PORT", DEFAULT_EDGE_PORT),
    rotateKey,
  };
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
