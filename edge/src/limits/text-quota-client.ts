/**
 * The isolate's side of the texts-per-key quota (TextQuotaObject, one per key).
 *
 * A Durable Object lives in one location, so asking it on every request would put a round trip to
 * that location back on every classify, which the key cache just took off. Isolates lease texts
 * instead: a classify takes from its isolate's lease for the key, and only an empty or expired lease
 * asks the object, for `leaseTexts` at once. A key can therefore exceed its quota by at most the
 * unused leases of the isolates serving it, and an unused lease is dropped after `leaseTtlMs`.
 */
import type { RateDecision, RateLimiter } from "./rate-limiter.ts";

/** The Durable Object namespace binding (RPC stub: `take(texts)`). */
export interface TextQuotaNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { take(texts: number): Promise<RateDecision> };
}

export interface TextLeaseOptions {
  /** Texts an isolate takes from a key's object at once. Default 64. */
  leaseTexts?: number;
  /** A lease not used up within this is dropped. Default 10,000 ms. */
  leaseTtlMs?: number;
  /** Keys with a lease kept per isolate (least recently used dropped). Default 10,000. */
  maxKeys?: number;
  now?: () => number;
}

export function durableTextQuota(namespace: TextQuotaNamespace, options: TextLeaseOptions = {}): RateLimiter {
  const leaseTexts = options.leaseTexts ?? 64;
  const leaseTtlMs = options.leaseTtlMs ?? 10_000;
  const maxKeys = options.maxKeys ?? 10_000;
  const now = options.now ?? (() => Date.now());
  const leases = new Map<string, { remaining: number; expires: number }>();
  const take = (key: string, texts: number) => namespace.get(namespace.idFromName(key)).take(texts);
  return {
    async limit(key, cost = 1) {
      const lease = leases.get(key);
      if (lease && lease.expires > now() && lease.remaining >= cost) {
        lease.remaining -= cost;
        return { ok: true, retryAfterSeconds: 0 };
      }
      leases.delete(key);
      // A fresh lease covering this request, or, near the quota, exactly this request's texts.
      const want = Math.max(cost, leaseTexts);
      let decision = await take(key, want);
      if (decision.ok) {
        if (leases.size >= maxKeys) leases.delete(leases.keys().next().value!);
        leases.set(key, { remaining: want - cost, expires: now() + leaseTtlMs });
        return decision;
      }
      if (want > cost) decision = await take(key, cost);
      return decision;
    },
  };
}
