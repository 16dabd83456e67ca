import { describe, expect, it } from "vitest";
import {
  AbortedError,
  DeadlineError,
  DrainingError,
  QueueFullError,
  RequestTooLargeError,
} from "../../../gpu-service/src/core/errors.ts";
import { flush, makeBatcher, row, tick, triples } from "./fake.ts";

describe("batcher: deadlines, aborts, limits, shutdown", () => {
  it("rejects at once when the queue is full, and accepts again once it drains", async () => {
    const { batcher, model } = makeBatcher({ maxQueueRows: 4, maxBatchSize: 4 });
    const running = batcher.submit([row(2)]);
    await tick(); // dispatched: no longer queued
    const queued = batcher.submit([row(2), row(2), row(2)]);
    await expect(batcher.submit([row(2), row(2)])).rejects.toBeInstanceOf(QueueFullError);
    expect(batcher.stats().queuedRows).toBe(3);
    await model.completeAll();
    await Promise.all([running, queued]);
    const later = batcher.submit([row(2), row(2)]);
    await model.completeAll();
    expect(triples(await later)).toHaveLength(2);
  });

  it("refuses a request that could never fit the queue", async () => {
    const { batcher, model } = makeBatcher({ maxQueueRows: 4 });
    await expect(batcher.submit(Array.from({ length: 5 }, () => row(1)))).rejects.toBeInstanceOf(
      RequestTooLargeError,
    );
    expect(model.calls).toHaveLength(0);
  });

  it("drops rows whose deadline passed before they reach the model", async () => {
    const { batcher, clock, model } = makeBatcher();
    const busy = batcher.submit([row(2)]);
    await tick();
    const late = batcher.submit([row(3, 5)], { deadline: 10 });
    const onTime = batcher.submit([row(4, 6)], { deadline: 1000 });
    clock.advance(11);
    await expect(late).rejects.toBeInstanceOf(DeadlineError);
    expect(batcher.stats().queuedRows).toBe(1);
    await model.completeNext();
    expect(model.calls[1]!.rows).toBe(1);
    expect(Array.from(model.calls[1]!.inputIds, Number)).toEqual([6, 6, 6, 6]);
    await model.completeAll();
    await busy;
    expect(triples(await onTime)).toEqual([[24, 4, 4]]);
  });

  it("rejects a request already past its deadline without queueing it", async () => {
    const { batcher, clock, model } = makeBatcher();
    clock.advance(50);
    await expect(batcher.submit([row(2)], { deadline: 50 })).rejects.toBeInstanceOf(DeadlineError);
    expect(model.calls).toHaveLength(0);
  });

  it("drops the queued rows of a caller that aborted", async () => {
    const { batcher, model } = makeBatcher();
    const busy = batcher.submit([row(2)]);
    await tick();
    const controller = new AbortController();
    const gone = batcher.submit([row(3, 8), row(3, 8)], { signal: controller.signal });
    const stays = batcher.submit([row(3, 1)]);
    controller.abort();
    await expect(gone).rejects.toBeInstanceOf(AbortedError);
    expect(batcher.stats().queuedRows).toBe(1);
    await model.completeAll();
    expect(model.calls[1]!.rows).toBe(1);
    await Promise.all([busy, stays]);
    await expect(batcher.submit([row(1)], { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      AbortedError,
    );
  });

  it("an abort after a split request is half-run drops its remaining rows", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 2 });
    const controller = new AbortController();
    const big = batcher.submit([row(1), row(2), row(3), row(4), row(5), row(6)], {
      signal: controller.signal,
    });
    await tick();
    expect(model.calls).toHaveLength(1);
    controller.abort();
    await expect(big).rejects.toBeInstanceOf(AbortedError);
    await model.completeAll();
    expect(model.calls).toHaveLength(1);
    expect(batcher.stats().queuedRows).toBe(0);
  });

  it("a failing run rejects exactly the requests in it", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 2 });
    const first = batcher.submit([row(2), row(2)]);
    const second = batcher.submit([row(2)]);
    model.failNext = new Error("CUDA out of memory");
    const firstFails = expect(first).rejects.toThrow("CUDA out of memory");
    await model.completeNext();
    await firstFails;
    await model.completeAll();
    expect(triples(await second)).toHaveLength(1);
  });

  it("a model returning the wrong number of values fails the run with a clear error", async () => {
    const { Batcher } = await import("../../../gpu-service/src/core/batcher.ts");
    const { FakeClock } = await import("./fake.ts");
    const b = new Batcher({
      maxBatchSize: 4,
      maxBatchTokens: 512,
      maxQueueDelayUs: 0,
      maxQueueRows: 8,
      padMultiple: 1,
      maxSeqLength: 128,
      padId: 0n,
      clock: new FakeClock(),
      run: async () => new Float32Array(0),
    });
    await expect(b.submit([row(1)])).rejects.toThrow("model returned 0 values for 1 rows");
  });

  it("close() refuses new requests and resolves once the queue has run", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 1 });
    const a = batcher.submit([row(2)]);
    const b = batcher.submit([row(2)]);
    let closed = false;
    const closing = batcher.close().then(() => {
      closed = true;
    });
    await expect(batcher.submit([row(1)])).rejects.toBeInstanceOf(DrainingError);
    await model.completeNext();
    expect(closed).toBe(false);
    await model.completeNext();
    await closing;
    expect(closed).toBe(true);
    await Promise.all([a, b]);
  });

  it("refuses bad rows and bad options", async () => {
    const { batcher } = makeBatcher({ maxSeqLength: 16, maxBatchTokens: 64 });
    await expect(batcher.submit([row(17)])).rejects.toThrow("more than 16");
    await expect(batcher.submit([{ ids: new BigInt64Array(0), mask: new BigInt64Array(0) }])).rejects.toThrow(
      "non-empty",
    );
    expect(() => makeBatcher({ maxBatchSize: 0 })).toThrow("maxBatchSize");
    expect(() => makeBatcher({ maxBatchTokens: 64, maxSeqLength: 128 })).toThrow("maxBatchTokens");
  });

  it("no timers are left behind after requests settle", async () => {
    const { batcher, clock, model } = makeBatcher({ maxQueueDelayUs: 100 });
    const p = batcher.submit([row(2)], { deadline: 1000 });
    clock.advance(1);
    await model.completeAll();
    await p;
    await flush();
    expect(clock.pending).toBe(0);
  });
});
