/**
 * @intentql/edge's public entry, for the other packages and the tests: the edge in-process
 * (`createEdge`, what the Worker serves every request through) and the API-key helpers the CLI mints
 * and stores keys with. The Worker module itself is worker.ts (wrangler's `main`); the local D1 helpers
 * for development are the package's "./local-d1" entry.
 */

export type { D1Database } from "@cloudflare/workers-types";
export { createEdge, type Edge, type EdgeLimiters, type EdgeOptions } from "./app.ts";
export { generateApiKey, hashApiKey, parseApiKey, SCOPES } from "./auth/api-keys.ts";
export type { Scope } from "./graphql/builder.ts";
export { memoryRateLimiter, TokenBuckets } from "./limits/rate-limiter.ts";
