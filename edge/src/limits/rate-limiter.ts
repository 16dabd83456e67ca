/**
 * Rate limiters behind one small interface, so the edge runs the same code in the Worker (Cloudflare's
 * bindings, shared by every isolate of a location; a Durable Object per key for texts) and in-process
 * (token buckets in memory, for tests and other hosts).
 */

export interface RateDecision {
  ok: boolean;
  /** Seconds until a retry can succeed (a whole number ≥ 1 when refused; 0 when allowed). */
  retryAfterSeconds: number;
}

/** Takes `cost` units from the bucket named `key`. */
export interface RateLimiter {
  limit(key: string, cost?: number): Promise<RateDecision>;
}

const ALLOWED: RateDecision = { ok: true, retryAfterSeconds: 0 };

/** Cloudflare's Rate Limiting binding (`[[ratelimits]]` in wrangler.toml). */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/**
 * A Rate Limiting binding counts calls, one per request; its window is `periodSeconds` (10 or 60),
 * which is also the honest Retry-After (it does not say when its window rolls over).
 */
export function bindingRateLimiter(binding: RateLimitBinding, periodSeconds: number): RateLimiter {
  return {
    async limit(key) {
      const { success } = await binding.limit({ key });
      return success ? ALLOWED : { ok: false, retryAfterSeconds: periodSeconds };
    },
  };
}

interface Bucket {
  tokens: number;
  updated: number;
}

/** Token buckets in memory: `perSecond` refill, `burst` capacity, at most `maxKeys` buckets (LRU). */
export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  constructor(
    readonly perSecond: number,
    readonly burst: number,
    readonly maxKeys = 10_000,
    readonly now: () => number = () => Date.now(),
  ) {}

  /** Takes `cost` tokens; returns 0 when allowed, else the seconds until that many are available. */
  take(key: string, cost = 1): number {
    const now = this.now();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key); // re-inserted below: Map order is then least recently used first
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updated) / 1000) * this.perSecond);
      bucket.updated = now;
    } else {
      bucket = { tokens: this.burst, updated: now };
      if (this.#buckets.size >= this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    this.#buckets.set(key, bucket);
    if (cost > this.burst) return Number.POSITIVE_INFINITY;
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return 0;
    }
    return (cost - bucket.tokens) / this.perSecond;
  }
}

/** TokenBuckets.take's answer as a decision; a cost above the burst can never pass (retry in 60 s). */
export function decisionFromWait(wait: number): RateDecision {
  if (wait === 0) return ALLOWED;
  return { ok: false, retryAfterSeconds: Number.isFinite(wait) ? Math.max(1, Math.ceil(wait)) : 60 };
}

export function memoryRateLimiter(buckets: TokenBuckets): RateLimiter {
  return {
    async limit(key, cost = 1) {
      return decisionFromWait(buckets.take(key, cost));
    },
  };
}

/** Texts per API key: sustained per second and burst (TEXT_QUOTA_PER_SECOND, TEXT_QUOTA_BURST). */
export const TEXT_QUOTA_DEFAULTS = { perSecond: 200, burst: 2_000 } as const;
