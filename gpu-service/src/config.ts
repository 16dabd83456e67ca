import { parseArgs } from "node:util";
import { VARIANTS, type Variant } from "@intentql/schema";
import type { Device } from "./backends/onnx.ts";
import type { ShapeBucketsMode } from "./core/shape-buckets.ts";
import type { Level } from "./log.ts";

export interface Config {
  host: string;
  port: number;
  bundles: string[];
  /**
   * A folder of bundle folders, each named after its model: all are served at start, and
   * `POST /v2/repository/models/{name}/load|unload` loads, reloads and unloads them at runtime.
   */
  modelRepository: string | undefined;
  device: Device;
  /** Undefined: each bundle's defaultVariant for the chosen provider (cuda → fp16, cpu → int8). */
  variant: Variant | undefined;
  maxBatchSize: number;
  maxBatchTokens: number;
  maxQueueDelayUs: number;
  maxQueueRows: number;
  /** Rows one infer request may carry; more is a 400. */
  maxRequestRows: number;
  /** Runs in flight per model (= session threads); 0: 2 on CUDA, 1 on CPU. */
  maxInFlight: number;
  /**
   * Threads that parse HTTP, sharing the port through SO_REUSEPORT and feeding the main thread's
   * batchers; 0: the main thread parses HTTP itself.
   */
  httpThreads: number;
  requestTimeoutMs: number;
  /**
   * Bearer tokens accepted on every /v2 route but /v2 itself: the current one and, during a rotation,
   * the next one. Empty only with --insecure-no-auth (refused when NODE_ENV=production).
   */
  authTokens: string[];
  bodyLimitBytes: number;
  intraOpThreads: number;
  /**
   * A session thread polls for its next message this long after a run (µs) before it sleeps; 0:
   * never; auto (the default): 2000 on CUDA, 0 on CPU (backends/session-thread.ts spinWaitFor).
   */
  spinWaitUs: number | "auto";
  padMultiple: 1 | 8;
  /**
   * Split a run of at least twice this many rows in two by length when that saves ≥ 10 % of its
   * padded tokens (core/length-split.ts); 0: never; auto (the default): 64 on CPU, where a run
   * costs what its tokens cost, 0 on CUDA, where a small model's run costs mostly its launches
   * (splitRowsFor).
   */
  minSplitRows: number | "auto";
  /** Pad runs to a few warmed-up shapes (core/shape-buckets.ts); auto: on CUDA only. */
  shapeBuckets: ShapeBucketsMode;
  logLevel: Level;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** `--help`: not an error; main prints the message (USAGE) to stdout and exits 0. */
export class HelpRequested extends ConfigError {}

interface IntSpec {
  flag: string;
  env: string;
  def: number;
  min: number;
  max: number;
}

/** Every flag, its env var and default; README.md's table is this list. */
export const INT_FLAGS = {
  port: { flag: "port", env: "GPU_PORT", def: 8500, min: 0, max: 65535 },
  maxBatchSize: { flag: "max-batch-size", env: "GPU_MAX_BATCH_SIZE", def: 256, min: 1, max: 65536 },
  maxBatchTokens: { flag: "max-batch-tokens", env: "GPU_MAX_BATCH_TOKENS", def: 16384, min: 8, max: 1 << 24 },
  maxQueueDelayUs: {
    flag: "max-queue-delay-us",
    env: "GPU_MAX_QUEUE_DELAY_US",
    def: 0,
    min: 0,
    max: 1_000_000,
  },
  maxQueueRows: { flag: "max-queue-rows", env: "GPU_MAX_QUEUE_ROWS", def: 16384, min: 1, max: 1 << 24 },
  maxRequestRows: { flag: "max-request-rows", env: "GPU_MAX_REQUEST_ROWS", def: 1024, min: 1, max: 1 << 24 },
  maxInFlight: { flag: "max-in-flight", env: "GPU_MAX_IN_FLIGHT", def: 0, min: 0, max: 64 },
  httpThreads: { flag: "http-threads", env: "GPU_HTTP_THREADS", def: 0, min: 0, max: 64 },
  requestTimeoutMs: {
    flag: "request-timeout-ms",
    env: "GPU_REQUEST_TIMEOUT_MS",
    def: 10_000,
    min: 1,
    max: 600_000,
  },
  bodyLimitBytes: {
    flag: "body-limit-bytes",
    env: "GPU_BODY_LIMIT_BYTES",
    def: 8 * 1024 * 1024,
    min: 1024,
    max: 1 << 30,
  },
  intraOpThreads: { flag: "intra-op-threads", env: "GPU_INTRA_OP_THREADS", def: 0, min: 0, max: 1024 },
  padMultiple: { flag: "pad-multiple", env: "GPU_PAD_MULTIPLE", def: 1, min: 1, max: 8 },
} satisfies Record<string, IntSpec>;

export const DEFAULT_BUNDLE = "models/massive-scratch";

const USAGE = `usage: gpu-service [--host H] [--port N] [--bundle DIR]... [--model-repository DIR] [--device auto|cpu|cuda]
  [--variant fp32|fp16|int8] [--max-batch-size N] [--max-batch-tokens N] [--max-queue-delay-us N]
  [--max-queue-rows N] [--max-request-rows N] [--max-in-flight N] [--http-threads N] [--request-timeout-ms N] [--auth-token T] [--auth-token-next T]
  [--insecure-no-auth] [--body-limit-bytes N] [--intra-op-threads N] [--spin-wait-us auto|N] [--pad-multiple 1|8] [--min-split-rows auto|N] [--shape-buckets auto|on|off]
  [--log-level debug|info|warn|error]
(every flag also reads an env var: see gpu-service/README.md)`;

function parseInt10(name: string, raw: string, spec: IntSpec): number {
  if (!/^\d+$/.test(raw.trim()))
    throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw.trim());
  if (n < spec.min || n > spec.max)
    throw new ConfigError(`${name} must be between ${spec.min} and ${spec.max}, got ${n}`);
  return n;
}

/** Shortest bearer token accepted: 32 characters, the Worker's own floor for UPSTREAM_TOKEN. */
export const MIN_TOKEN_LENGTH = 32;

/**
 * Fail closed: gpu-service answers inference only to callers holding a token, unless it is started
 * with --insecure-no-auth (no env var on purpose: an inherited variable must never turn auth off),
 * which production refuses. A rotation runs with the next token accepted alongside the current one.
 */
function authTokens(
  current: string | undefined,
  next: string | undefined,
  insecure: boolean,
  nodeEnv: string | undefined,
): string[] {
  const tokens = [current, next].filter((t): t is string => t !== undefined && t !== "");
  if (insecure) {
    if (tokens.length > 0)
      throw new ConfigError("--insecure-no-auth contradicts the auth token that is set: drop one of them");
    if (nodeEnv === "production")
      throw new ConfigError(
        "--insecure-no-auth is refused when NODE_ENV=production: set INTENTQL_UPSTREAM_TOKEN",
      );
    return [];
  }
  if ((current ?? "") === "")
    throw new ConfigError(
      "no auth token: set INTENTQL_UPSTREAM_TOKEN (or --auth-token) to a secret of at least " +
        `${MIN_TOKEN_LENGTH} characters, or pass --insecure-no-auth for a local, trusted network only`,
    );
  for (const [name, token] of [
    ["INTENTQL_UPSTREAM_TOKEN / --auth-token", current],
    ["INTENTQL_UPSTREAM_TOKEN_NEXT / --auth-token-next", next],
  ] as const) {
    if (token === undefined || token === "") continue;
    if (token.length < MIN_TOKEN_LENGTH)
      throw new ConfigError(`${name} must be at least ${MIN_TOKEN_LENGTH} characters, got ${token.length}`);
    if (!/^[\x21-\x7e]+$/.test(token))
      throw new ConfigError(`${name} must be printable ASCII without spaces (it travels in a header)`);
  }
  return tokens;
}

/** `server.listen({ reusePort })` arrived in Node 22.12 and 23.1. */
export function supportsReusePort(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** Flags win over env vars, env vars over defaults. Throws ConfigError naming the bad value. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const options = {
    host: { type: "string" },
    bundle: { type: "string", multiple: true },
    "model-repository": { type: "string" },
    device: { type: "string" },
    variant: { type: "string" },
    "auth-token": { type: "string" },
    "auth-token-next": { type: "string" },
    "insecure-no-auth": { type: "boolean" },
    "log-level": { type: "string" },
    "shape-buckets": { type: "string" },
    "min-split-rows": { type: "string" },
    "spin-wait-us": { type: "string" },
    help: { type: "boolean" },
    ...Object.fromEntries(Object.values(INT_FLAGS).map((s) => [s.flag, { type: "string" }])),
  } as const;
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, allowPositionals: false, strict: true })
      .values as typeof values;
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) throw new HelpRequested(USAGE);
  const str = (flag: string, envName: string | undefined): string | undefined => {
    const v = values[flag];
    if (typeof v === "string") return v;
    return envName !== undefined ? env[envName] : undefined;
  };
  const ints = Object.fromEntries(
    Object.entries(INT_FLAGS).map(([key, spec]) => {
      const fromFlag = values[spec.flag];
      const raw = typeof fromFlag === "string" ? fromFlag : env[spec.env];
      const name = typeof fromFlag === "string" ? `--${spec.flag}` : spec.env;
      return [key, raw === undefined || raw === "" ? spec.def : parseInt10(name, raw, spec)];
    }),
  ) as Record<keyof typeof INT_FLAGS, number>;

  const device = str("device", "GPU_DEVICE") ?? "auto";
  if (device !== "auto" && device !== "cpu" && device !== "cuda")
    throw new ConfigError(`--device must be auto, cpu or cuda, got ${JSON.stringify(device)}`);
  const variant = str("variant", "GPU_VARIANT");
  if (variant !== undefined && variant !== "" && !(VARIANTS as readonly string[]).includes(variant))
    throw new ConfigError(`--variant must be one of ${VARIANTS.join(", ")}, got ${JSON.stringify(variant)}`);
  if (ints.padMultiple !== 1 && ints.padMultiple !== 8)
    throw new ConfigError(`--pad-multiple must be 1 or 8, got ${ints.padMultiple}`);
  const shapeBuckets = str("shape-buckets", "GPU_SHAPE_BUCKETS") || "auto";
  if (shapeBuckets !== "auto" && shapeBuckets !== "on" && shapeBuckets !== "off")
    throw new ConfigError(`--shape-buckets must be auto, on or off, got ${JSON.stringify(shapeBuckets)}`);
  // "auto" (the default) or a count: the count is resolved per provider where the model opens.
  const autoOrInt = (flag: string, envName: string, max: number): number | "auto" => {
    const raw = str(flag, envName) || "auto";
    return raw === "auto"
      ? "auto"
      : parseInt10(`--${flag}`, raw, { flag, env: envName, def: 0, min: 0, max });
  };
  const minSplitRows = autoOrInt("min-split-rows", "GPU_MIN_SPLIT_ROWS", 1 << 20);
  const spinWaitUs = autoOrInt("spin-wait-us", "GPU_SPIN_WAIT_US", 10_000);
  const logLevel = str("log-level", "GPU_LOG_LEVEL") ?? "info";
  if (!["debug", "info", "warn", "error"].includes(logLevel))
    throw new ConfigError(`--log-level must be debug, info, warn or error, got ${JSON.stringify(logLevel)}`);
  const flagBundles = values.bundle as string[] | undefined;
  const bundles =
    flagBundles && flagBundles.length > 0
      ? flagBundles
      : (env.INTENTQL_BUNDLES ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "");
  const modelRepository = str("model-repository", "GPU_MODEL_REPOSITORY") || undefined;
  // With a model repository, its folders are the models; without one, the default bundle.
  if (bundles.length === 0 && modelRepository === undefined) bundles.push(DEFAULT_BUNDLE);
  if (ints.httpThreads > 0 && !supportsReusePort(process.versions.node))
    throw new ConfigError(
      `--http-threads needs Node ≥ 22.12 (SO_REUSEPORT for servers); this is Node ${process.versions.node}`,
    );
  const host = str("host", "GPU_HOST") ?? "127.0.0.1";
  if (host === "") throw new ConfigError("--host must not be empty");
  // Whether one row of the bundle's maxLength fits max-batch-tokens is checked per bundle at start.

  return {
    host,
    port: ints.port,
    bundles,
    modelRepository,
    device,
    variant: variant === undefined || variant === "" ? undefined : (variant as Variant),
    maxBatchSize: ints.maxBatchSize,
    maxBatchTokens: ints.maxBatchTokens,
    maxQueueDelayUs: ints.maxQueueDelayUs,
    maxQueueRows: ints.maxQueueRows,
    maxRequestRows: ints.maxRequestRows,
    maxInFlight: ints.maxInFlight,
    httpThreads: ints.httpThreads,
    requestTimeoutMs: ints.requestTimeoutMs,
    authTokens: authTokens(
      str("auth-token", "INTENTQL_UPSTREAM_TOKEN"),
      str("auth-token-next", "INTENTQL_UPSTREAM_TOKEN_NEXT"),
      values["insecure-no-auth"] === true,
      env.NODE_ENV,
    ),
    bodyLimitBytes: ints.bodyLimitBytes,
    intraOpThreads: ints.intraOpThreads,
    spinWaitUs,
    padMultiple: ints.padMultiple as 1 | 8,
    minSplitRows,
    shapeBuckets,
    logLevel: logLevel as Level,
  };
}

/**
 * --min-split-rows auto: measured on the 2-core dev box (CPU, default bundle, runs of 256 rows), 64
 * gave 1.29× the texts/s of no split; on an H100 the default bundle lost throughput with a split at
 * 128 (docs/BENCHMARKS.md), while a DistilBERT-size model gained 8 %: there, set it by hand.
 */
export function splitRowsFor(setting: number | "auto", provider: string): number {
  if (setting !== "auto") return setting;
  return provider === "cpu" ? 64 : 0;
}
