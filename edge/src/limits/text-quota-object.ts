/**
 * Texts per API key across every isolate and location: one TextQuotaObject per key (named by the
 * key id) holds a token bucket of texts. Requests are limited by Cloudflare's Rate Limiting binding,
 * which counts calls; texts need a counter that takes a cost, and a Durable Object is the one place
 * where a key's count is exact. Isolates reach it through text-quota-client.ts, which leases texts.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { positiveNumber } from "../settings.ts";
import { decisionFromWait, type RateDecision, TEXT_QUOTA_DEFAULTS, TokenBuckets } from "./rate-limiter.ts";

export class TextQuotaObject extends DurableObject<Env> {
  // In memory: a restart of the object refills the bucket, which errs toward letting a key through.
  readonly #bucket = new TokenBuckets(
    positiveNumber(this.env.TEXT_QUOTA_PER_SECOND, TEXT_QUOTA_DEFAULTS.perSecond),
    positiveNumber(this.env.TEXT_QUOTA_BURST, TEXT_QUOTA_DEFAULTS.burst),
    1,
  );

  take(texts: number): RateDecision {
    return decisionFromWait(this.#bucket.take("key", texts));
  }
}
