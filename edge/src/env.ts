import type { D1Database } from "@cloudflare/workers-types";
import type { RateLimitBinding } from "./limits/rate-limiter.ts";
import type { SubscriptionLeaseNamespace } from "./limits/subscription-leases.ts";
import type { TextQuotaNamespace } from "./limits/text-quota-client.ts";

/** The Worker's bindings (wrangler.toml `[vars]`, `[[d1_databases]]`, secrets). Numbers arrive as strings. */
/** The EvalRunner Durable Object namespace (RPC stub: `start(runId)`). */
export interface EvalRunnerNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { start(runId: string): Promise<void> };
}

export interface Env {
  DB: D1Database;
  EVAL_RUNNER: EvalRunnerNamespace;
  /** Rate Limiting binding: requests per API key (wrangler.toml `[[ratelimits]]`). */
  KEY_REQUESTS: RateLimitBinding;
  /** Rate Limiting binding: key-less requests and key-cache misses per client IP. */
  ANON_REQUESTS: RateLimitBinding;
  /** Durable Objects, one per key: texts per key. */
  TEXT_QUOTA: TextQuotaNamespace;
  /** Durable Objects, one per key: its open subscriptions across isolates (SubscriptionLeaseObject). */
  SUBSCRIPTION_LEASES: SubscriptionLeaseNamespace;
  /** Open Inference Protocol server (gpu-service or Triton). */
  UPSTREAM_URL: string;
  /** Upstream model used when a query names none. */
  MODEL: string;
  /** Secret: HMAC key for API key hashes, so a leaked D1 table cannot be brute-forced offline. */
  API_KEY_PEPPER?: string;
  /** Secret: bearer token the upstream expects (gpu-service --auth-token / INTENTQL_UPSTREAM_TOKEN). */
  UPSTREAM_TOKEN?: string;
  /**
   * mTLS certificate binding (`[[mtls_certificates]]`, written by npm run deploy:edge): its fetch
   * presents the Worker's client certificate, which the GPU fleet's load balancer requires when it
   * has a trust store (docs/DEPLOY.md, "Mutual TLS"). Absent: the global fetch.
   */
  UPSTREAM_MTLS?: { fetch: typeof fetch };
  /** "on" (the deploy sets it with the binding): without UPSTREAM_MTLS the edge refuses to start. */
  UPSTREAM_MTLS_REQUIRED?: string;
  /** "development": error details, GraphiQL, key-less catalog reads; anything else is production. */
  ENVIRONMENT?: string;
  /** Local only (edge/.dev.vars, written by npm start): prefills GraphiQL's key in development. */
  LOCAL_API_KEY?: string;
  UPSTREAM_TIMEOUT_MS?: string;
  UPSTREAM_MAX_BATCH?: string;
  /** Comma-separated allowed origins, or "*". */
  CORS_ORIGINS?: string;
  /** "on" (default) or "off". */
  INTROSPECTION?: string;
  /** The `period` of both `[[ratelimits]]` bindings (10 or 60), the Retry-After of their refusals. Default 10. */
  RATE_LIMIT_PERIOD_S?: string;
  /** Texts per API key: sustained per second and burst (TextQuotaObject). Defaults 200 and 2,000. */
  TEXT_QUOTA_PER_SECOND?: string;
  TEXT_QUOTA_BURST?: string;
  /** Subscriptions one API key holds open at once, every isolate together (SUBSCRIPTION_LEASES). Default 8. */
  SUBSCRIPTION_MAX_PER_KEY?: string;
  /** Subscriptions one isolate holds open at once, every key together. Default 256. */
  SUBSCRIPTION_MAX_PER_ISOLATE?: string;
  /** A subscription's place lapses this long after its last renewal (every quarter of it). Default 60000, at least 4000. */
  SUBSCRIPTION_LEASE_TTL_MS?: string;
  /** How long an isolate trusts a verified API key; revocation reaches other isolates within it. Default 30000, max 60000. */
  API_KEY_CACHE_TTL_MS?: string;
  /** Eval runs: texts per upstream call, ms of work per alarm, and after how long a silent run is restarted. */
  EVAL_CHUNK_TEXTS?: string;
  EVAL_SLICE_MS?: string;
  EVAL_STALE_AFTER_MS?: string;
}
