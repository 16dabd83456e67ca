import type { Row, RunBatch } from "../../../gpu-service/src/core/batch.ts";
import { Batcher, type BatcherOptions } from "../../../gpu-service/src/core/batcher.ts";
import type { Clock } from "../../../gpu-service/src/core/clock.ts";

/**
 * A manual clock: timers fire only when the test advances time. Deferred work (the batcher's
 * "next turn of the event loop") runs on a real setImmediate, as in production: `await tick()`.
 */
export class FakeClock implements Clock {
  time = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  now(): number {
    return this.time;
  }
  setTimer(ms: number, fn: () => void): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  defer(fn: () => void): void {
    setImmediate(fn);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers)
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = target;
  }
}

/**
 * A fake model: each output row is [sum of ids, attended length, seqLength], so a test can check
 * which row came back where and how it was padded. Runs complete only when the test calls
 * `completeNext()`, which lets tests queue rows while the "model" is busy.
 */
export class FakeModel {
  readonly calls: RunBatch[] = [];
  private waiting: { batch: RunBatch; resolve: (out: Float32Array) => void; reject: (e: Error) => void }[] =
    [];
  autoComplete = false;
  failNext: Error | null = null;

  run = (batch: RunBatch): Promise<Float32Array> => {
    this.calls.push(batch);
    return new Promise((resolve, reject) => {
      const entry = { batch, resolve, reject };
      if (this.autoComplete) queueMicrotask(() => this.finish(entry));
      else this.waiting.push(entry);
    });
  };

  get busy(): number {
    return this.waiting.length;
  }

  private finish(entry: {
    batch: RunBatch;
    resolve: (out: Float32Array) => void;
    reject: (e: Error) => void;
  }): void {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = null;
      entry.reject(e);
      return;
    }
    const { rows, seqLength, inputIds, attentionMask } = entry.batch;
    // A run in parts is its parts' blocks one after the other, each with its own length.
    const parts = entry.batch.parts ?? [{ rows, seqLength }];
    const out = new Float32Array(rows * 3);
    let row = 0;
    let offset = 0;
    for (const part of parts) {
      for (let r = 0; r < part.rows; r++, row++) {
        let sum = 0;
        let attended = 0;
        for (let s = 0; s < part.seqLength; s++) {
          sum += Number(inputIds[offset + r * part.seqLength + s]);
          attended += Number(attentionMask[offset + r * part.seqLength + s]);
        }
        out.set([sum, attended, part.seqLength], row * 3);
      }
      offset += part.rows * part.seqLength;
    }
    entry.resolve(out);
  }

  /** Completes the oldest pending run and lets promise callbacks settle. */
  async completeNext(): Promise<void> {
    const entry = this.waiting.shift();
    if (!entry) throw new Error("no run in flight");
    this.finish(entry);
    await flush();
  }

  /** Completes runs until none is in flight, letting deferred dispatches start theirs first. */
  async completeAll(): Promise<void> {
    await flush();
    while (this.waiting.length > 0) await this.completeNext();
  }
}

/** One turn of the event loop: deferred dispatches run. */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** A row of `length` tokens whose ids are all `value` (so sum = value × length). */
export function row(length: number, value = 1): Row {
  return { ids: new BigInt64Array(length).fill(BigInt(value)), mask: new BigInt64Array(length).fill(1n) };
}

export function makeBatcher(overrides: Partial<BatcherOptions> = {}): {
  batcher: Batcher;
  clock: FakeClock;
  model: FakeModel;
} {
  const clock = new FakeClock();
  const model = new FakeModel();
  const batcher = new Batcher({
    maxBatchSize: 8,
    maxBatchTokens: 1024,
    maxQueueDelayUs: 0,
    maxQueueRows: 64,
    padMultiple: 1,
    maxSeqLength: 128,
    padId: 0n,
    clock,
    run: model.run,
    ...overrides,
  });
  return { batcher, clock, model };
}

/** Output rows as [sum, attended, seqLength] triples. */
export function triples(out: { data: Float32Array; width: number }): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < out.data.length; i += out.width)
    rows.push(Array.from(out.data.subarray(i, i + out.width)));
  return rows;
}
