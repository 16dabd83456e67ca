/**
 * Per-key rate limit: a token bucket per API key, in memory per isolate. Cloudflare runs many
 * isolates, so the global rate a key gets is this limit times the isolates serving it; a Durable
 * Object per key would make it exact at the price of a round trip per request (not needed for
 * abuse protection, which is what this is for). Refusals are fast 429 RATE_LIMITED with Retry-After.
 */
import type { Plugin } from "graphql-yoga";
import { ErrorCode } from "../../../schema/src/graphql/errors.ts";
import { errorResponse } from "./error-response.ts";
import { requestAuth } from "./use-api-keys.ts";

export interface UseRateLimitOptions {
  /** Sustained requests per second per key. Default 50. */
  perSecond?: number;
  /** Bucket size: requests a key may burst above the sustained rate. Default 100. */
  burst?: number;
  /** Buckets kept per isolate; the least recently refilled are dropped beyond it. Default 10,000. */
  maxKeys?: number;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  constructor(
    readonly perSecond: number,
    readonly burst: number,
    readonly maxKeys: number,
    readonly now: () => number,
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key); // re-insert below: Map order is then least recently used first
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updated) / 1000) * this.perSecond);
      bucket.updated = now;
    } else {
      bucket = { tokens: this.burst, updated: now };
      if (this.#buckets.size >= this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.perSecond;
  }
}

export function useRateLimit(options: UseRateLimitOptions = {}): Plugin {
  const buckets = new TokenBuckets(
    options.perSecond ?? 50,
    options.burst ?? 100,
    options.maxKeys ?? 10_000,
    options.now ?? (() => Date.now()),
  );
  return {
    onRequest({ request, endResponse }) {
      const auth = requestAuth(request);
      if (!auth) return;
      const wait = buckets.take(auth.keyId);
      if (wait > 0) {
        const retryAfter = String(Math.max(1, Math.ceil(wait)));
        endResponse(
          errorResponse(429, ErrorCode.RATE_LIMITED, `rate limit exceeded; retry in ${retryAfter} s`, {
            "retry-after": retryAfter,
          }),
        );
      }
    },
  };
}
