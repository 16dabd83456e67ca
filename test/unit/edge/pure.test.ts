import { calibratedProbabilities, isOutOfScope, topIndices } from "@intentql/schema";
import { describe, expect, it } from "vitest";
import {
  generateApiKey,
  hashApiKey,
  parseApiKey,
  parseScopes,
  timingSafeEqualText,
} from "../../../edge/src/auth/api-keys.ts";
import { calibrationOf, MIN_TEMPERATURE } from "../../../edge/src/classifier/edge-model.ts";
import { TokenBuckets } from "../../../edge/src/limits/rate-limiter.ts";
import { durableTextQuota } from "../../../edge/src/limits/text-quota-client.ts";
import { describeMismatch } from "../../../edge/src/upstream/verify-model.ts";

describe("calibration", () => {
  it("is softmax(logits / T)", () => {
    const p = calibratedProbabilities([2, 0, -1], 0.5);
    const e = [Math.exp(4), 1, Math.exp(-2)];
    const s = e[0]! + e[1]! + e[2]!;
    expect(Array.from(p)).toEqual(e.map((x) => expect.closeTo(x / s, 12)));
  });
  it("is stable for large logits and sums to 1", () => {
    const p = calibratedProbabilities([1000, 999, -1000], 0.74);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(Number.isFinite(p[0]!)).toBe(true);
  });
  it("ranks best first, ties by index", () => {
    expect(topIndices([0.1, 0.5, 0.5, 0.2], 3)).toEqual([1, 2, 3]);
    expect(topIndices([0.1, 0.9], 5)).toEqual([1, 0]);
  });
  it("flags out-of-scope strictly below the threshold", () => {
    expect(isOutOfScope(0.4, { temperature: 1, outOfScopeThreshold: 0.45 })).toBe(true);
    expect(isOutOfScope(0.45, { temperature: 1, outOfScopeThreshold: 0.45 })).toBe(false);
  });
});

describe("api keys", () => {
  it("generates keys that parse, with distinct ids", () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(parseApiKey(a)?.id).toMatch(/^[0-9a-f]{12}$/);
    expect(parseApiKey(a)?.id).not.toBe(parseApiKey(b)?.id);
    expect(parseApiKey("iql_short")).toBeNull();
    expect(parseApiKey(`${a}x`)).toBeNull();
  });
  it("hashes with the pepper (HMAC), so another pepper gives another hash", async () => {
    const key = generateApiKey();
    expect(await hashApiKey("p1", key)).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashApiKey("p1", key)).toBe(await hashApiKey("p1", key));
    expect(await hashApiKey("p1", key)).not.toBe(await hashApiKey("p2", key));
  });
  it("compares without early exit semantics errors", () => {
    expect(timingSafeEqualText("abcd", "abcd")).toBe(true);
    expect(timingSafeEqualText("abcd", "abce")).toBe(false);
    expect(timingSafeEqualText("abcd", "abc")).toBe(false);
  });
  it("accepts only known scopes", () => {
    expect(parseScopes("classify, eval")).toEqual(["classify", "eval"]);
    expect(() => parseScopes("classify,root")).toThrow(/unknown scope "root"/);
  });
});

describe("token bucket", () => {
  it("allows a burst, then refills at the sustained rate", () => {
    let now = 0;
    const buckets = new TokenBuckets(2, 3, 100, () => now);
    expect([buckets.take("k"), buckets.take("k"), buckets.take("k")]).toEqual([0, 0, 0]);
    expect(buckets.take("k")).toBeCloseTo(0.5);
    expect(buckets.take("other")).toBe(0);
    now = 500;
    expect(buckets.take("k")).toBe(0);
    expect(buckets.take("k")).toBeGreaterThan(0);
  });
  it("takes a cost of several tokens at once, and never one above the burst", () => {
    const buckets = new TokenBuckets(10, 100, 10, () => 0);
    expect(buckets.take("k", 60)).toBe(0);
    expect(buckets.take("k", 60)).toBeCloseTo(2); // 20 missing at 10/s
    expect(buckets.take("k", 101)).toBe(Number.POSITIVE_INFINITY);
  });
  it("stays bounded in keys", () => {
    const buckets = new TokenBuckets(1, 1, 2, () => 0);
    buckets.take("a");
    buckets.take("b");
    buckets.take("c");
    expect(buckets.take("a")).toBe(0); // "a" was evicted, so it starts with a full bucket
  });
});

describe("model consistency", () => {
  const labels = [
    { id: 0, name: "a", scenario: "s", action: "a" },
    { id: 1, name: "b", scenario: "s", action: "b" },
  ];
  const edge = { vocabSha256: "f".repeat(64), labels, maxLength: 128 };
  it("accepts an identical upstream", () => {
    expect(
      describeMismatch(edge, {
        manifest: { tokenizer: { vocabSha256: "f".repeat(64) } as any, maxLength: 128 },
        labels,
      }),
    ).toBeNull();
  });
  it("names the vocab, the label order and the count", () => {
    const manifest = { tokenizer: { vocabSha256: "f".repeat(64) } as any };
    expect(
      describeMismatch(edge, { manifest: { tokenizer: { vocabSha256: "0".repeat(64) } as any }, labels }),
    ).toMatch(/vocab sha256/);
    expect(describeMismatch(edge, { manifest, labels: [labels[1], labels[0]] })).toMatch(/label 0/);
    expect(describeMismatch(edge, { manifest, labels: [labels[0]] })).toMatch(/1 labels/);
  });
});

describe("calibration read from an upstream bundle", () => {
  it("accepts a positive temperature and a threshold in [0, 1], defaults when absent", () => {
    expect(
      calibrationOf({ calibration: { temperature: 0.74, outOfScope: { threshold: 0.45 } } as any }),
    ).toEqual({
      temperature: 0.74,
      outOfScopeThreshold: 0.45,
    });
    expect(calibrationOf({})).toEqual({ temperature: 1, outOfScopeThreshold: 0 });
    expect(
      calibrationOf({ calibration: { temperature: MIN_TEMPERATURE, outOfScope: { threshold: 0 } } as any }),
    ).toMatchObject({ temperature: MIN_TEMPERATURE });
  });
  // 1e-310 and 5e-324 are positive and finite, but logits / T overflow: every probability NaN
  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, "1", 1e-310, 5e-324, MIN_TEMPERATURE / 2])(
    "refuses temperature %s",
    (temperature) => {
      expect(() =>
        calibrationOf({ calibration: { temperature, outOfScope: { threshold: 0.5 } } as any }),
      ).toThrow(/temperature/);
    },
  );
  it.each([-0.1, 1.5, Number.NaN])("refuses threshold %s", (threshold) => {
    expect(() =>
      calibrationOf({ calibration: { temperature: 1, outOfScope: { threshold } } as any }),
    ).toThrow(/threshold/);
  });
});

describe("texts per key: isolates lease from the key's Durable Object", () => {
  /** A namespace whose objects are token buckets; counts calls (a fake for counting only). */
  function namespace(burst: number, perSecond: number, clock: () => number) {
    const buckets = new TokenBuckets(perSecond, burst, 100, clock);
    const calls: number[] = [];
    return {
      calls,
      ns: {
        idFromName: (name: string) => name,
        get: (id: unknown) => ({
          take: async (texts: number) => {
            calls.push(texts);
            const wait = buckets.take(String(id), texts);
            return wait === 0
              ? { ok: true, retryAfterSeconds: 0 }
              : { ok: false, retryAfterSeconds: Number.isFinite(wait) ? Math.ceil(wait) : 60 };
          },
        }),
      },
    };
  }

  it("100 one-text requests cost 2 Durable Object calls, not 100", async () => {
    const { ns, calls } = namespace(1000, 10, () => 0);
    const quota = durableTextQuota(ns, { leaseTexts: 64, now: () => 0 });
    for (let i = 0; i < 100; i++) expect((await quota.limit("k", 1)).ok).toBe(true);
    expect(calls).toEqual([64, 64]);
  });

  it("near the quota it asks for exactly what the request needs, then refuses with Retry-After", async () => {
    const { ns, calls } = namespace(10, 1, () => 0);
    const quota = durableTextQuota(ns, { leaseTexts: 64, now: () => 0 });
    expect((await quota.limit("k", 8)).ok).toBe(true);
    const refused = await quota.limit("k", 8);
    expect(refused).toEqual({ ok: false, retryAfterSeconds: 6 });
    expect(calls).toEqual([64, 8, 64, 8]);
  });

  it("drops an unused lease after its TTL, and keys do not share leases", async () => {
    let now = 0;
    const { ns, calls } = namespace(1000, 10, () => now);
    const quota = durableTextQuota(ns, { leaseTexts: 64, leaseTtlMs: 1000, now: () => now });
    await quota.limit("a", 1);
    await quota.limit("b", 1);
    now = 1500;
    await quota.limit("a", 1);
    expect(calls).toEqual([64, 64, 64]);
  });
});
