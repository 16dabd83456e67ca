import { describe, expect, it } from "vitest";
import { makeBatcher, row, tick, triples } from "./fake.ts";

describe("batcher: forming runs", () => {
  it("runs a lone request on the next turn of the event loop when the model is idle and delay is 0", async () => {
    const { batcher, model } = makeBatcher();
    const result = batcher.submit([row(5, 2)]);
    expect(model.calls).toHaveLength(0);
    await tick();
    expect(model.calls).toHaveLength(1);
    await model.completeNext();
    expect(triples(await result)).toEqual([[10, 5, 5]]);
  });

  it("merges requests queued while the model is busy into one run", async () => {
    const { batcher, model } = makeBatcher();
    const first = batcher.submit([row(3)]);
    await tick();
    const others = [batcher.submit([row(4, 2)]), batcher.submit([row(2, 3), row(6, 4)])];
    expect(model.calls).toHaveLength(1);
    await model.completeNext();
    expect(model.calls).toHaveLength(2);
    expect(model.calls[1]!.rows).toBe(3);
    await model.completeNext();
    expect(triples(await first)).toEqual([[3, 3, 3]]);
    expect(triples(await others[0]!)).toEqual([[8, 4, 6]]);
    // each caller gets exactly its rows back, in its order, whatever order they ran in
    expect(triples(await others[1]!)).toEqual([
      [6, 2, 6],
      [24, 6, 6],
    ]);
  });

  it("pads a run only to its longest row, or to the next multiple of 8", async () => {
    const plain = makeBatcher({ maxQueueDelayUs: 100 });
    void plain.batcher.submit([row(5), row(11), row(3)]);
    plain.clock.advance(1);
    expect(plain.model.calls[0]!.seqLength).toBe(11);
    const mask = Array.from(plain.model.calls[0]!.attentionMask, Number);
    expect(mask.reduce((a, b) => a + b, 0)).toBe(19);

    const eight = makeBatcher({ maxQueueDelayUs: 100, padMultiple: 8 });
    void eight.batcher.submit([row(5), row(11)]);
    eight.clock.advance(1);
    expect(eight.model.calls[0]!.seqLength).toBe(16);

    const capped = makeBatcher({ maxQueueDelayUs: 100, padMultiple: 8, maxSeqLength: 12 });
    void capped.batcher.submit([row(12)]);
    capped.clock.advance(1);
    expect(capped.model.calls[0]!.seqLength).toBe(12);
  });

  it("splits a request bigger than one run and reassembles it in order", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 4 });
    model.autoComplete = true;
    const rows = Array.from({ length: 10 }, (_, i) => row(1 + ((i * 7) % 10), i + 1));
    const out = await batcher.submit(rows);
    expect(model.calls.map((c) => c.rows)).toEqual([4, 4, 2]);
    expect(triples(out).map(([sum, attended]) => [sum, attended])).toEqual(
      rows.map((r) => [Number(r.ids[0]) * r.ids.length, r.ids.length]),
    );
  });

  it("sends a split request shortest rows first, so each run pads tightly", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 2 });
    model.autoComplete = true;
    await batcher.submit([row(40), row(3), row(39), row(4)]);
    expect(model.calls.map((c) => c.seqLength)).toEqual([4, 40]);
  });

  it("keeps rows × padded length within maxBatchTokens", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 100, maxBatchTokens: 128 });
    model.autoComplete = true;
    const lengths = [10, 20, 30, 40, 50, 60, 64, 64, 5, 5, 5, 5];
    const out = await batcher.submit(lengths.map((n) => row(n)));
    for (const c of model.calls) expect(c.rows * c.seqLength).toBeLessThanOrEqual(128);
    expect(model.calls.reduce((a, c) => a + c.rows, 0)).toBe(lengths.length);
    expect(triples(out).map((t) => t[1])).toEqual(lengths);
  });

  it("a single row of maxSeqLength always fits a run", async () => {
    const { batcher, model } = makeBatcher({ maxBatchTokens: 128, maxSeqLength: 128 });
    model.autoComplete = true;
    const out = await batcher.submit([row(128), row(128)]);
    expect(model.calls.map((c) => c.rows)).toEqual([1, 1]);
    expect(triples(out).map((t) => t[1])).toEqual([128, 128]);
  });

  it("waits up to maxQueueDelayUs for company when idle, then runs what it has", async () => {
    const { batcher, clock, model } = makeBatcher({ maxQueueDelayUs: 2000 });
    void batcher.submit([row(3)]);
    clock.advance(1);
    void batcher.submit([row(3)]);
    expect(model.calls).toHaveLength(0);
    clock.advance(0.999);
    expect(model.calls).toHaveLength(0);
    clock.advance(0.001);
    expect(model.calls).toHaveLength(1);
    expect(model.calls[0]!.rows).toBe(2);
  });

  it("dispatches a full batch at once even with a long delay", async () => {
    const { batcher, model } = makeBatcher({ maxQueueDelayUs: 1_000_000, maxBatchSize: 4 });
    void batcher.submit([row(3), row(3)]);
    expect(model.calls).toHaveLength(0);
    void batcher.submit([row(3), row(3), row(3)]);
    expect(model.calls).toHaveLength(1);
    expect(model.calls[0]!.rows).toBe(4);
  });

  it("runs one batch at a time", async () => {
    const { batcher, model } = makeBatcher({ maxBatchSize: 1 });
    const all = [batcher.submit([row(2)]), batcher.submit([row(2)]), batcher.submit([row(2)])];
    await tick();
    expect(model.busy).toBe(1);
    await model.completeNext();
    expect(model.busy).toBe(1);
    await model.completeAll();
    await Promise.all(all);
    expect(model.calls).toHaveLength(3);
  });

  it("pads with padId and a zero mask, and keeps a row's inner zero mask", async () => {
    const { batcher, clock, model } = makeBatcher({ padId: 7n, maxQueueDelayUs: 10 });
    void batcher.submit([
      { ids: BigInt64Array.from([2n, 5n, 3n]), mask: BigInt64Array.from([1n, 0n, 1n]) },
      row(1, 9),
    ]);
    clock.advance(1);
    const c = model.calls[0]!;
    // shortest row first within the request
    expect(Array.from(c.inputIds, Number)).toEqual([9, 7, 7, 2, 5, 3]);
    expect(Array.from(c.attentionMask, Number)).toEqual([1, 0, 0, 1, 0, 1]);
  });
});
