import { describe, expect, it } from "vitest";
import { orderByLength, planLengthSplit } from "../../../gpu-service/src/core/length-split.ts";
import { bucketUp, shapeBuckets } from "../../../gpu-service/src/core/shape-buckets.ts";
import { mulberry32 } from "../../support/prng.ts";
import { makeBatcher, row, tick, triples } from "./fake.ts";

const unbucketed = (rows: number, longest: number): [number, number] => [rows, longest];

describe("length split: the plan", () => {
  it("orders rows shortest first, keeping the given order among equals", () => {
    expect(Array.from(orderByLength([5, 3, 5, 1, 3, 9]))).toEqual([3, 1, 4, 0, 2, 5]);
    expect(Array.from(orderByLength([]))).toEqual([]);
  });

  it("cuts where the two parts pad least, and says what it saves", () => {
    // 4 rows of 2 tokens and 4 of 10, interleaved: unsplit 8 × 10 = 80; cut after the short ones:
    // 4 × 2 + 4 × 10 = 48.
    const lengths = [2, 10, 2, 10, 2, 10, 2, 10];
    const plan = planLengthSplit(lengths, { minPartRows: 2, minSaving: 0.1, shapeOf: unbucketed });
    expect(plan).not.toBeNull();
    expect(plan!.cut).toBe(4);
    expect(plan!.tokens).toBe(48);
    expect(plan!.unsplitTokens).toBe(80);
    expect(Array.from(plan!.order.subarray(0, 4)).map((i) => lengths[i])).toEqual([2, 2, 2, 2]);
  });

  it("finds the same best cut as trying every one, with shape buckets", () => {
    const buckets = shapeBuckets(1024, 128);
    const shapeOf = (rows: number, longest: number): [number, number] => [
      bucketUp(buckets.rows, rows),
      bucketUp(buckets.seq, longest),
    ];
    const rand = mulberry32(7);
    for (let trial = 0; trial < 20; trial++) {
      const n = 64 + Math.floor(rand() * 960);
      const lengths = Array.from({ length: n }, () => 6 + Math.floor(rand() * 15));
      const sorted = [...lengths].sort((a, b) => a - b);
      let best = Number.POSITIVE_INFINITY;
      for (let cut = 32; cut <= n - 32; cut++) {
        const [r1, s1] = shapeOf(cut, sorted[cut - 1]!);
        const [r2, s2] = shapeOf(n - cut, sorted[n - 1]!);
        best = Math.min(best, r1 * s1 + r2 * s2);
      }
      const plan = planLengthSplit(lengths, { minPartRows: 32, minSaving: 0, shapeOf });
      expect(plan!.tokens).toBe(best);
    }
  });

  it("keeps a run whole when it is small, when lengths are alike, or when the saving is under the floor", () => {
    const opts = { minPartRows: 4, minSaving: 0.1, shapeOf: unbucketed };
    expect(planLengthSplit([2, 10, 2, 10, 2, 10, 2], opts)).toBeNull(); // fewer than 2 × 4 rows
    expect(planLengthSplit(Array(16).fill(12), opts)).toBeNull(); // nothing to save
    // 15 rows of 10 and one of 9: the best cut saves 4 tokens of 160 (2.5 %).
    expect(planLengthSplit([...Array(15).fill(10), 9], { ...opts, minPartRows: 1 })).toBeNull();
    expect(planLengthSplit([2, 10, 2, 10, 2, 10, 2, 10], { ...opts, minPartRows: 0 })).toBeNull();
  });
});

describe("length split: the batcher", () => {
  it("runs short and long rows as two parts and gives every request its own outputs", async () => {
    const runs: { rows: number; tokens: number; parts: number }[] = [];
    const { batcher, model } = makeBatcher({
      maxBatchSize: 16,
      minSplitRows: 2,
      onRun: ({ rows, tokens, parts }) => runs.push({ rows, tokens, parts }),
    });
    // Two requests, each with short and long rows: value v, length l → [v × l, l, part length].
    const a = batcher.submit([row(20, 1), row(3, 2), row(20, 3), row(4, 4)]);
    const b = batcher.submit([row(2, 5), row(18, 6), row(3, 7), row(20, 8)]);
    await tick();
    expect(model.calls).toHaveLength(1);
    const call = model.calls[0]!;
    expect(call.parts).toEqual([
      { rows: 4, seqLength: 4 },
      { rows: 4, seqLength: 20 },
    ]);
    expect(call.rows).toBe(8);
    expect(call.inputIds.length).toBe(4 * 4 + 4 * 20);
    await model.completeNext();
    expect(triples(await a)).toEqual([
      [20, 20, 20],
      [6, 3, 4],
      [60, 20, 20],
      [16, 4, 4],
    ]);
    expect(triples(await b)).toEqual([
      [10, 2, 4],
      [108, 18, 20],
      [21, 3, 4],
      [160, 20, 20],
    ]);
    expect(runs).toEqual([{ rows: 8, tokens: 96, parts: 2 }]);
  });

  it("pads each part to its own shape buckets, dummy rows at the end of each part", async () => {
    const { batcher, model } = makeBatcher({
      maxBatchSize: 16,
      minSplitRows: 5,
      shapeBuckets: shapeBuckets(16, 128),
    });
    // 5 short rows (→ bucket 6 rows × 8) and 5 long ones (→ 6 × 20): 168 tokens, against 12 × 20.
    const lengths = [20, 5, 19, 6, 20, 4, 17, 8, 20, 7];
    const out = batcher.submit(lengths.map((l) => row(l)));
    await tick();
    const call = model.calls[0]!;
    expect(call.parts).toEqual([
      { rows: 6, seqLength: 8 },
      { rows: 6, seqLength: 20 },
    ]);
    const mask = Array.from(call.attentionMask, Number);
    expect(mask.slice(5 * 8, 6 * 8)).toEqual([1, ...Array(7).fill(0)]); // the short part's dummy row
    expect(mask.slice(6 * 8 + 5 * 20)).toEqual([1, ...Array(19).fill(0)]); // the long part's
    await model.completeNext();
    expect(triples(await out).map(([, attended, length]) => [attended, length])).toEqual(
      lengths.map((l) => [l, l <= 8 ? 8 : 20]),
    );
  });

  it("never splits with minSplitRows 0 (the batcher's default) or below twice minSplitRows", async () => {
    const rows = [row(20), row(3), row(20), row(3), row(20), row(3)];
    const whole = makeBatcher({ maxBatchSize: 16 });
    void whole.batcher.submit(rows);
    await tick();
    expect(whole.model.calls[0]!.parts).toBeUndefined();
    const tooFew = makeBatcher({ maxBatchSize: 16, minSplitRows: 4 });
    void tooFew.batcher.submit(rows);
    await tick();
    expect(tooFew.model.calls[0]!.parts).toBeUndefined();
    expect(tooFew.model.calls[0]!.seqLength).toBe(20);
  });

  it("fails every request of a split run whose model run fails, and keeps serving", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 16, minSplitRows: 2 });
    const a = batcher.submit([row(20), row(3)]);
    const b = batcher.submit([row(2), row(19)]);
    const settled = Promise.allSettled([a, b]);
    model.failNext = new Error("device lost");
    await tick();
    expect(model.calls[0]!.parts).toHaveLength(2);
    await model.completeNext();
    for (const r of await settled)
      expect(r.status === "rejected" && (r.reason as Error).message).toBe("device lost");
    const c = batcher.submit([row(5, 2)]);
    await tick();
    await model.completeNext();
    expect(triples(await c)).toEqual([[10, 5, 5]]);
  });

  it("delivers the other requests of a split run when one was aborted while it ran", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 16, minSplitRows: 2 });
    const abort = new AbortController();
    const a = batcher.submit([row(20, 1), row(3, 1)], { signal: abort.signal });
    const b = batcher.submit([row(2, 2), row(19, 2)]);
    await tick();
    expect(model.calls[0]!.parts).toHaveLength(2);
    abort.abort();
    await expect(a).rejects.toThrow();
    await model.completeNext();
    expect(triples(await b)).toEqual([
      [4, 2, 3],
      [38, 19, 20],
    ]);
  });
});
