/**
 * Requests per API key, before parsing: a flood of cheap queries is refused with 429 RATE_LIMITED
 * and Retry-After at the cost of one limiter call. Texts per key are limited separately, once per
 * operation, when the classify batch is about to go upstream (app.ts, limits/text-budget.ts);
 * key-less callers are limited by IP in use-api-keys.ts.
 *
 * The limiter decides the scope: in the Worker, Cloudflare's Rate Limiting binding (shared by every
 * isolate of a location); in-process, token buckets in memory.
 */
import type { Plugin } from "graphql-yoga";
import type { RateLimiter } from "../limits/rate-limiter.ts";
import { rateLimited } from "./error-response.ts";
import { requestAuth } from "./use-api-keys.ts";

export interface UseRateLimitOptions {
  /** Requests per key. */
  limiter: RateLimiter;
}

export function useRateLimit(options: UseRateLimitOptions): Plugin {
  return {
    async onRequest({ request, endResponse }) {
      const auth = requestAuth(request);
      if (!auth) return;
      const decision = await options.limiter.limit(`key:${auth.keyId}`);
      if (!decision.ok) endResponse(rateLimited(decision.retryAfterSeconds, "requests for this API key"));
    },
  };
}
