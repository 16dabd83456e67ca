import { describe, expect, it } from "vitest";
import {
  bucketShapes,
  bucketUp,
  rowBuckets,
  seqBuckets,
  shapeBuckets,
  useShapeBuckets,
} from "../../../gpu-service/src/core/shape-buckets.ts";
import { makeBatcher, row, tick, triples } from "./fake.ts";

describe("shape buckets", () => {
  it("row counts grow by at most 1.5× from 2 on and end at the maximum", () => {
    expect(rowBuckets(1024)).toEqual([
      1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024,
    ]);
    expect(rowBuckets(100)).toEqual([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 100]);
    expect(rowBuckets(1)).toEqual([1]);
    const b = rowBuckets(5000);
    for (let i = 2; i < b.length - 1; i++) expect(b[i]! / b[i - 1]!).toBeLessThanOrEqual(1.5);
  });

  it("lengths pad a MASSIVE-length row by at most 20 % (none at 20 tokens), and end at the maximum", () => {
    const seq = seqBuckets(128);
    expect(seq).toEqual([8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128]);
    for (let n = 8; n <= 20; n++) expect(bucketUp(seq, n) / n).toBeLessThanOrEqual(1.2);
    // never shorter than 8 tokens (short rows are padded up), unless the model's maximum is shorter
    expect(bucketUp(seq, 3)).toBe(8);
    expect(seqBuckets(5)).toEqual([5]);
    for (let n = 6; n <= 128; n++) expect(bucketUp(seq, n)).toBeGreaterThanOrEqual(n);
    expect(seqBuckets(50).at(-1)).toBe(50);
  });

  it("warms every bucket shape within the token budget, and only those", () => {
    const shapes = bucketShapes(shapeBuckets(256, 128), 16384);
    expect(shapes.every(([r, s]) => r * s <= 16384)).toBe(true);
    expect(shapes).toContainEqual([256, 64]);
    expect(shapes).not.toContainEqual([256, 80]);
    expect(shapes).toContainEqual([1, 128]);
    expect(new Set(shapes.map((s) => s.join("x"))).size).toBe(shapes.length);
  });

  it("is on for CUDA under auto, and as told otherwise", () => {
    expect(useShapeBuckets("auto", "cuda")).toBe(true);
    expect(useShapeBuckets("auto", "cpu")).toBe(false);
    expect(useShapeBuckets("on", "cpu")).toBe(true);
    expect(useShapeBuckets("off", "cuda")).toBe(false);
  });
});

describe("batcher with shape buckets", () => {
  const buckets = shapeBuckets(8, 128);

  it("pads a run up to the next row and length bucket; dummy rows attend one token and are dropped", async () => {
    const { batcher, model } = makeBatcher({ shapeBuckets: buckets });
    const a = batcher.submit([row(5, 2), row(7, 1)]);
    const b = batcher.submit([row(3, 4), row(9, 1), row(2, 5)]);
    await tick();
    const call = model.calls[0]!;
    expect(call.rows).toBe(6); // 5 real rows → bucket 6
    expect(call.seqLength).toBe(10); // longest 9 → bucket 10
    const mask = Array.from(call.attentionMask, Number);
    expect(mask.slice(50, 60)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // the dummy row
    expect(mask.reduce((a, b) => a + b, 0)).toBe(5 + 7 + 3 + 9 + 2 + 1);
    await model.completeNext();
    expect(triples(await a)).toEqual([
      [10, 5, 10],
      [7, 7, 10],
    ]);
    expect(triples(await b)).toEqual([
      [12, 3, 10],
      [9, 9, 10],
      [10, 2, 10],
    ]);
  });

  it("keeps rows × bucket length of the padded run within the token budget", async () => {
    // 6 rows of 20 tokens: 6 × 20 = 120 fits 128 tokens; a 7th would make 8 rows (bucket) × 20 = 160.
    const { batcher, model } = makeBatcher({ shapeBuckets: buckets, maxBatchTokens: 128 });
    void batcher.submit(Array.from({ length: 7 }, () => row(20)));
    await tick();
    expect(model.calls[0]!.rows * model.calls[0]!.seqLength).toBeLessThanOrEqual(128);
    expect(model.calls[0]!.rows).toBe(6);
  });

  it("refuses buckets that do not end at the batch and length limits", () => {
    expect(() => makeBatcher({ shapeBuckets: shapeBuckets(16, 128) })).toThrow(RangeError);
    expect(() => makeBatcher({ shapeBuckets: shapeBuckets(8, 64) })).toThrow(RangeError);
  });
});
