/**
 * Texts per API key across every isolate and location: one TextQuotaObject per key (named by the
 * key id) holds a token bucket of texts. Requests are limited by Cloudflare's Rate Limiting binding,
 * which counts calls; texts need a counter that takes a cost, and a Durable Object is the one place
 * where a key's count is exact. Isolates reach it through text-quota-client.ts, which leases texts.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { positiveNumber } from "../settings.ts";
import { type RateDecision, TokenBuckets } from "./rate-limiter.ts";

/** Defaults: 200 texts/s sustained, bursts of 2,000 (TEXT_QUOTA_PER_SECOND, TEXT_QUOTA_BURST). */
export const TEXT_QUOTA_DEFAULTS = { perSecond: 200, burst: 2_000 } as const;

export class TextQuotaObject extends DurableObject<Env> {
  // In memory: a restart of the object refills the bucket, which errs toward letting a key through.
  readonly #bucket = new TokenBuckets(
    positiveNumber(this.env.TEXT_QUOTA_PER_SECOND, TEXT_QUOTA_DEFAULTS.perSecond),
    positiveNumber(this.env.TEXT_QUOTA_BURST, TEXT_QUOTA_DEFAULTS.burst),
    1,
  );

  take(texts: number): RateDecision {
    const wait = this.#bucket.take("key", texts);
    if (wait === 0) return { ok: true, retryAfterSeconds: 0 };
    return { ok: false, retryAfterSeconds: Number.isFinite(wait) ? Math.max(1, Math.ceil(wait)) : 60 };
  }
}
