import { describe, expect, it } from "vitest";
import { makeBatcher, row, tick, triples } from "./fake.ts";

describe("batcher: fairness and abuse", () => {
  it("a big request cannot starve small ones that came before it", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 4, maxQueueRows: 1000 });
    const busy = batcher.submit([row(1)]);
    await tick(); // the model is now busy with the first request
    const small = batcher.submit([row(2, 7)]);
    const big = batcher.submit(Array.from({ length: 100 }, () => row(2, 1)));
    await model.completeNext();
    // the next run starts with the small request's row
    expect(Array.from(model.calls[1]!.inputIds.subarray(0, 2), Number)).toEqual([7, 7]);
    await model.completeNext();
    expect(triples(await small)).toEqual([[14, 2, 2]]);
    await model.completeAll();
    await Promise.all([busy, big]);
  });

  it("small requests after a big one share the runs it leaves room in, in arrival order", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 8, maxQueueRows: 1000 });
    const busy = batcher.submit([row(1)]);
    await tick();
    const big = batcher.submit(Array.from({ length: 12 }, () => row(2, 1)));
    const small = batcher.submit([row(2, 5)]);
    await model.completeNext(); // run 2: 8 rows of big
    expect(model.calls[1]!.rows).toBe(8);
    await model.completeNext(); // run 3: the last 4 rows of big + small
    expect(model.calls[2]!.rows).toBe(5);
    await model.completeAll();
    expect(triples(await small)).toEqual([[10, 2, 2]]);
    expect(triples(await big)).toHaveLength(12);
    await busy;
  });

  it("an empty request resolves empty without a model run", async () => {
    const { batcher, model } = makeBatcher();
    const out = await batcher.submit([]);
    expect(out.data).toHaveLength(0);
    expect(model.calls).toHaveLength(0);
  });

  it("thousands of tiny requests are batched into few runs and each gets its own row", async () => {
    const { batcher, model } = makeBatcher({
      maxBatchSize: 256,
      maxBatchTokens: 1 << 16,
      maxQueueRows: 10_000,
    });
    model.autoComplete = true;
    const n = 5000;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => batcher.submit([row(1 + (i % 20), i)])),
    );
    results.forEach((out, i) => {
      expect(triples(out)).toEqual([[i * (1 + (i % 20)), 1 + (i % 20), expect.any(Number)]]);
    });
    expect(model.calls.length).toBeLessThanOrEqual(Math.ceil(n / 256) + 1);
    expect(batcher.stats()).toMatchObject({ queuedRows: 0, queuedRequests: 0, inFlight: 0 });
  });

  it("a huge request runs in bounded runs and comes back whole", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 64, maxBatchTokens: 2048, maxQueueRows: 20_000 });
    model.autoComplete = true;
    const rows = Array.from({ length: 10_000 }, (_, i) => row(1 + (i % 128), i % 1000));
    const out = triples(await batcher.submit(rows));
    expect(out).toHaveLength(10_000);
    out.forEach(([sum, attended], i) => {
      expect([sum, attended]).toEqual([(i % 1000) * (1 + (i % 128)), 1 + (i % 128)]);
    });
    for (const c of model.calls) {
      expect(c.rows).toBeLessThanOrEqual(64);
      expect(c.rows * c.seqLength).toBeLessThanOrEqual(2048);
    }
  });
});
