import type { D1Database } from "./d1.ts";

/** The Worker's bindings (wrangler.toml `[vars]`, `[[d1_databases]]`, secrets). Numbers arrive as strings. */
/** The EvalRunner Durable Object namespace (RPC stub: `start(runId)`). */
export interface EvalRunnerNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { start(runId: string): Promise<void> };
}

export interface Env {
  DB: D1Database;
  EVAL_RUNNER: EvalRunnerNamespace;
  /** Open Inference Protocol server (gpu-service or Triton). */
  UPSTREAM_URL: string;
  /** Upstream model used when a query names none. */
  MODEL: string;
  /** Secret: HMAC key for API key hashes, so a leaked D1 table cannot be brute-forced offline. */
  API_KEY_PEPPER?: string;
  /** Secret: bearer token the upstream expects (gpu-service --auth-token / INTENTQL_UPSTREAM_TOKEN). */
  UPSTREAM_TOKEN?: string;
  /** "development" shows error details; anything else masks them. */
  ENVIRONMENT?: string;
  UPSTREAM_TIMEOUT_MS?: string;
  UPSTREAM_MAX_BATCH?: string;
  /** Comma-separated allowed origins, or "*". */
  CORS_ORIGINS?: string;
  /** "on" (default) or "off". */
  INTROSPECTION?: string;
  RATE_LIMIT_PER_SECOND?: string;
  RATE_LIMIT_BURST?: string;
  /** Eval runs: texts per upstream call, ms of work per alarm, and after how long a silent run is restarted. */
  EVAL_CHUNK_TEXTS?: string;
  EVAL_SLICE_MS?: string;
  EVAL_STALE_AFTER_MS?: string;
}
