import { describe, expect, it } from "vitest";
import { RequestTooLargeError } from "../../../gpu-service/src/core/errors.ts";
import { flush, makeBatcher, row, tick, triples } from "./fake.ts";

describe("batcher: deferred dispatch and runs in flight", () => {
  it("collects every request of one event-loop turn into one run, as DataLoader does", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 64 });
    const all = Array.from({ length: 20 }, (_, i) => batcher.submit([row(3, i)]));
    expect(model.calls).toHaveLength(0);
    await tick();
    expect(model.calls.map((c) => c.rows)).toEqual([20]);
    await model.completeAll();
    expect((await Promise.all(all)).map((o) => triples(o)[0]![0])).toEqual(
      Array.from({ length: 20 }, (_, i) => 3 * i),
    );
  });

  it("keeps up to maxInFlight runs going: one forms while the other runs", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 4, maxInFlight: 2 });
    const a = batcher.submit([row(2, 1)]);
    await tick();
    const b = batcher.submit([row(2, 2)]);
    await tick();
    expect(model.busy).toBe(2); // the second run started while the first was still running
    const c = batcher.submit([row(2, 3)]);
    const d = batcher.submit([row(2, 4)]);
    await tick();
    expect(model.busy).toBe(2); // no third slot: c and d wait, together
    expect(batcher.stats()).toMatchObject({ inFlight: 2, queuedRows: 2, queuedRequests: 2 });
    await model.completeNext();
    expect(model.calls.map((x) => x.rows)).toEqual([1, 1, 2]);
    await model.completeAll();
    expect((await Promise.all([a, b, c, d])).map((o) => triples(o)[0]![0])).toEqual([2, 4, 6, 8]);
    expect(batcher.stats()).toMatchObject({ inFlight: 0, queuedRows: 0, queuedRequests: 0 });
  });

  it("a full batch starts at once, without waiting for the next turn", () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 4 });
    void batcher.submit([row(1), row(1), row(1), row(1)]);
    expect(model.calls.map((c) => c.rows)).toEqual([4]);
  });

  it("a run function that throws synchronously fails its requests and frees its slot", async () => {
    let calls = 0;
    const { batcher: b } = makeBatcher({
      maxBatchSize: 4,
      maxQueueRows: 8,
      run: (batch) => {
        calls++;
        if (calls === 1) throw new Error("session gone");
        return Promise.resolve(new Float32Array(batch.rows));
      },
    });
    await expect(b.submit([row(1)])).rejects.toThrow("session gone");
    expect(b.stats().inFlight).toBe(0);
    expect((await b.submit([row(1), row(2)])).data).toHaveLength(2);
  });

  it("a delivery that throws (wrong output size) still frees the slot and runs the next batch", async () => {
    const sizes = [0, 1];
    const { batcher: b } = makeBatcher({
      maxBatchSize: 1,
      maxQueueRows: 8,
      run: async () => new Float32Array(sizes.shift() ?? 1),
    });
    const [bad, good] = [b.submit([row(1)]), b.submit([row(1)])];
    await expect(bad).rejects.toThrow("model returned 0 values for 1 rows");
    expect((await good).data).toHaveLength(1);
    expect(b.stats()).toMatchObject({ inFlight: 0, runs: 2 });
  });

  it("a request over maxRequestRows is refused at once, before it takes queue space", async () => {
    const { batcher, model } = makeBatcher({ maxRequestRows: 3, maxQueueRows: 64 });
    await expect(batcher.submit([row(1), row(1), row(1), row(1)])).rejects.toThrow(
      "a request of 4 rows is over the limit of 3 rows per request",
    );
    await expect(batcher.submit([row(1), row(1), row(1), row(1)])).rejects.toBeInstanceOf(
      RequestTooLargeError,
    );
    expect(batcher.stats().queuedRows).toBe(0);
    await flush();
    expect(model.calls).toHaveLength(0);
  });
});

describe("batcher: O(1) cancellation", () => {
  it("cancelling queued requests only marks them: the next run steps over them, and the queue is reclaimed", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 8, maxQueueRows: 100_000 });
    const busy = batcher.submit([row(1)]);
    await tick();
    const controllers = Array.from({ length: 10_000 }, () => new AbortController());
    const doomed = controllers.map((c) =>
      batcher.submit([row(2)], { signal: c.signal }).catch((e: Error) => e.name),
    );
    const survivor = batcher.submit([row(2, 9)]);
    expect(batcher.stats()).toMatchObject({ queuedRows: 10_001, queuedRequests: 10_001 });
    const started = performance.now();
    for (const c of controllers) c.abort();
    const ms = performance.now() - started;
    // Each abort is O(1): 10,000 of them leave the counters right at once, without touching the queue.
    expect(batcher.stats()).toMatchObject({ queuedRows: 1, queuedRequests: 1 });
    expect(ms).toBeLessThan(500);
    expect(new Set(await Promise.all(doomed))).toEqual(new Set(["AbortedError"]));
    await model.completeAll();
    expect(model.calls[1]!.rows).toBe(1);
    expect(triples(await survivor)).toEqual([[18, 2, 2]]);
    await busy;
    // The cancelled entries were stepped over once and their place reclaimed.
    expect((batcher as unknown as { queue: { retained: number } }).queue.retained).toBe(0);
  });
});
