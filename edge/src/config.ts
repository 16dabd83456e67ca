/**
 * The composition root: the Worker's bindings (Env) become the edge's options here and nowhere
 * else. The fetch handler (index.ts) and the Durable Objects (eval runs) both build from this
 * module, once per isolate or object, so neither imports the other.
 */

import type { BundleManifest, Label } from "@intentql/schema";
import manifest from "../../models/massive-scratch/bundle.json";
import labels from "../../models/massive-scratch/labels.json";
import vocabText from "../../models/massive-scratch/vocab.txt";
import type { ClassifierOptions, EdgeOptions } from "./app.ts";
import type { Env } from "./env.ts";
import { bindingRateLimiter } from "./limits/rate-limiter.ts";
import { SUBSCRIPTION_LIMIT_DEFAULTS } from "./limits/subscription-gate.ts";
import { durableSubscriptionLeases, SUBSCRIPTION_LEASE_DEFAULTS } from "./limits/subscription-leases.ts";
import { durableTextQuota } from "./limits/text-quota-client.ts";
import { positiveNumber } from "./settings.ts";

/** A setting or binding the edge cannot run without is missing or wrong: HTTP 500 INTERNAL. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const assets = { vocabText, labels: labels as Label[], manifest: manifest as unknown as BundleManifest };

export function classifierOptionsFromEnv(env: Env): ClassifierOptions {
  if (!env.UPSTREAM_URL) throw new ConfigError("UPSTREAM_URL is not set");
  const mtls = env.UPSTREAM_MTLS;
  // A deploy that has the variable but lost its binding would otherwise call the fleet without a
  // certificate, and every request would fail at the ALB's handshake with a less clear error.
  if (env.UPSTREAM_MTLS_REQUIRED === "on" && !mtls)
    throw new ConfigError(
      "UPSTREAM_MTLS_REQUIRED is on but the UPSTREAM_MTLS binding is missing (wrangler.toml)",
    );
  return {
    assets,
    upstream: {
      url: env.UPSTREAM_URL,
      token: env.UPSTREAM_TOKEN,
      model: env.MODEL,
      timeoutMs: positiveNumber(env.UPSTREAM_TIMEOUT_MS, 10_000),
      maxBatch: positiveNumber(env.UPSTREAM_MAX_BATCH, 256),
      ...(mtls ? { fetch: (input: RequestInfo | URL, init?: RequestInit) => mtls.fetch(input, init) } : {}),
    },
  };
}

export function edgeOptionsFromEnv(env: Env): EdgeOptions {
  if (!env.API_KEY_PEPPER)
    throw new ConfigError("API_KEY_PEPPER is not set (wrangler secret, or .dev.vars locally)");
  for (const binding of [
    "KEY_REQUESTS",
    "ANON_REQUESTS",
    "TEXT_QUOTA",
    "SUBSCRIPTION_LEASES",
    "DB",
    "EVAL_RUNNER",
  ] as const)
    if (!env[binding]) throw new ConfigError(`the ${binding} binding is missing (wrangler.toml)`);
  const period = positiveNumber(env.RATE_LIMIT_PERIOD_S, 10);
  const development = env.ENVIRONMENT === "development";
  // at least 4 s: a stream polls (and may renew) once a second, and renews at a quarter of the TTL
  const leaseTtlMs = Math.max(
    4_000,
    positiveNumber(env.SUBSCRIPTION_LEASE_TTL_MS, SUBSCRIPTION_LEASE_DEFAULTS.ttlMs),
  );
  return {
    ...classifierOptionsFromEnv(env),
    db: env.DB,
    pepper: env.API_KEY_PEPPER,
    apiKeyCacheTtlMs: positiveNumber(env.API_KEY_CACHE_TTL_MS, 30_000),
    limiters: {
      requestsPerKey: bindingRateLimiter(env.KEY_REQUESTS, period),
      requestsPerIp: bindingRateLimiter(env.ANON_REQUESTS, period),
      textsPerKey: durableTextQuota(env.TEXT_QUOTA),
    },
    subscriptionLimits: {
      maxPerKey: positiveNumber(env.SUBSCRIPTION_MAX_PER_KEY, SUBSCRIPTION_LIMIT_DEFAULTS.maxPerKey),
      maxTotal: positiveNumber(env.SUBSCRIPTION_MAX_PER_ISOLATE, SUBSCRIPTION_LIMIT_DEFAULTS.maxTotal),
    },
    subscriptionLeases: durableSubscriptionLeases(env.SUBSCRIPTION_LEASES, {
      ttlMs: leaseTtlMs,
      renewEveryMs: leaseTtlMs / 4,
    }),
    development,
    ...(development && env.LOCAL_API_KEY ? { graphiqlApiKey: env.LOCAL_API_KEY } : {}),
    corsOrigins:
      env.CORS_ORIGINS === undefined || env.CORS_ORIGINS.trim() === "*"
        ? "*"
        : env.CORS_ORIGINS.split(",").map((s) => s.trim()),
    introspection: env.INTROSPECTION !== "off",
    evalStaleAfterMs: positiveNumber(env.EVAL_STALE_AFTER_MS, 30_000),
    evalRunner: {
      async start(runId) {
        await env.EVAL_RUNNER.get(env.EVAL_RUNNER.idFromName(runId)).start(runId);
      },
    },
  };
}
