/**
 * The dynamic batcher: rows from many callers are merged into one model run. Pure: no I/O, no
 * global timers; the clock, the timers and the run function are injected, so every rule below is
 * tested with a fake clock (test/unit/gpu-service/batcher*.test.ts).
 *
 * Policy (gpu-service/README.md "Batching"):
 * - One run in flight at a time (per model). Rows that arrive while the model is busy queue up, and
 *   the next run takes as many of them as fit: that is where the batching gain comes from.
 * - When the model is idle, the first queued row waits at most `maxQueueDelayUs` for company
 *   (0 = dispatch at once; a full batch is dispatched at once whatever the delay).
 * - A run holds at most `maxBatchSize` rows and `maxBatchTokens` = rows × padded length.
 * - Requests are served first come, first served: a run takes the oldest request's rows first, so a
 *   big request cannot starve smaller ones that came before it, and small ones that come after it
 *   share the runs it does not fill.
 * - A request's rows are dispatched shortest first, so when it is split across runs each run pads
 *   only to its own longest row (optionally rounded up to a multiple of `padMultiple`). Outputs are
 *   put back in the caller's order.
 * - Queue full → `QueueFullError` at once (the router answers 503 + Retry-After).
 * - A request whose deadline passed or whose caller aborted is rejected at once and its rows that
 *   are still queued never reach the model.
 */

/** One input row, unpadded: `ids.length === mask.length` is the row's length. */
export interface Row {
  ids: BigInt64Array;
  mask: BigInt64Array;
}

/** What one model run receives: row-major [rows, seqLength] tensors, padded. */
export interface RunBatch {
  rows: number;
  seqLength: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
}

/** Runs the model; resolves with row-major outputs [rows, width]. */
export type RunFunction = (batch: RunBatch) => Promise<Float32Array>;

export interface Clock {
  /** Milliseconds, fractional allowed, monotonic. */
  now(): number;
  setTimer(ms: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export interface BatcherOptions {
  maxBatchSize: number;
  maxBatchTokens: number;
  maxQueueDelayUs: number;
  maxQueueRows: number;
  /** Pad each run's length up to a multiple of this (1 = no rounding). */
  padMultiple: number;
  /** Never pad beyond this (the model's maximum sequence length). */
  maxSeqLength: number;
  padId: bigint;
  clock: Clock;
  run: RunFunction;
  /** Observability hooks (metrics); optional so the core stays free of prom-client. */
  onRun?: (info: { rows: number; seqLength: number; ms: number; ok: boolean }) => void;
  onDequeue?: (waitMs: number) => void;
}

export interface SubmitOptions {
  /** Absolute time (clock.now() units) after which the request fails with DeadlineError. */
  deadline?: number;
  signal?: AbortSignal;
}

export class QueueFullError extends Error {
  constructor(
    readonly queuedRows: number,
    readonly maxQueueRows: number,
  ) {
    super(`queue full: ${queuedRows} rows queued, limit ${maxQueueRows}`);
    this.name = "QueueFullError";
  }
}

export class RequestTooLargeError extends Error {
  constructor(rows: number, maxQueueRows: number) {
    super(`a request of ${rows} rows can never fit a queue of ${maxQueueRows} rows`);
    this.name = "RequestTooLargeError";
  }
}

export class DeadlineError extends Error {
  constructor() {
    super("request deadline passed before its rows were run");
    this.name = "DeadlineError";
  }
}

export class AbortedError extends Error {
  constructor() {
    super("request aborted by its caller");
    this.name = "AbortedError";
  }
}

export class DrainingError extends Error {
  constructor() {
    super("the batcher is closed (shutting down)");
    this.name = "DrainingError";
  }
}

interface Pending {
  rows: Row[];
  /** Row indices in dispatch order (shortest first). */
  order: number[];
  /** Next position in `order` to dispatch. */
  next: number;
  /** Rows whose outputs are back. */
  done: number;
  output: Float32Array | null;
  width: number;
  enqueuedAt: number;
  deadline: number;
  settled: boolean;
  resolve: (out: { data: Float32Array; width: number }) => void;
  reject: (error: Error) => void;
  cleanup: () => void;
}

export interface BatcherStats {
  queuedRows: number;
  queuedRequests: number;
  running: boolean;
  runs: number;
}

export class Batcher {
  private readonly queue: Pending[] = [];
  private queuedRows = 0;
  private running = false;
  private runs = 0;
  private delayTimer: unknown = null;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: BatcherOptions) {
    for (const key of [
      "maxBatchSize",
      "maxBatchTokens",
      "maxQueueRows",
      "padMultiple",
      "maxSeqLength",
    ] as const)
      if (!Number.isInteger(opts[key]) || opts[key] < 1)
        throw new RangeError(`${key} must be an integer ≥ 1`);
    if (opts.maxBatchTokens < opts.maxSeqLength)
      throw new RangeError("maxBatchTokens must be at least maxSeqLength so that any one row fits a run");
    if (!(opts.maxQueueDelayUs >= 0)) throw new RangeError("maxQueueDelayUs must be ≥ 0");
  }

  stats(): BatcherStats {
    return {
      queuedRows: this.queuedRows,
      queuedRequests: this.queue.length,
      running: this.running,
      runs: this.runs,
    };
  }

  /**
   * Queues a request's rows; resolves with its outputs, row-major [rows.length, width], in the
   * order the rows were given. Rejects with QueueFullError (at once), DeadlineError, AbortedError,
   * DrainingError or the run function's error.
   */
  submit(rows: Row[], options: SubmitOptions = {}): Promise<{ data: Float32Array; width: number }> {
    if (this.closed) return Promise.reject(new DrainingError());
    if (rows.length === 0) return Promise.resolve({ data: new Float32Array(0), width: 0 });
    for (const [i, row] of rows.entries()) {
      if (row.ids.length === 0 || row.ids.length !== row.mask.length)
        return Promise.reject(new RangeError(`row ${i}: ids and mask must be non-empty and the same length`));
      if (row.ids.length > this.opts.maxSeqLength)
        return Promise.reject(
          new RangeError(`row ${i} has ${row.ids.length} tokens, more than ${this.opts.maxSeqLength}`),
        );
    }
    if (rows.length > this.opts.maxQueueRows)
      return Promise.reject(new RequestTooLargeError(rows.length, this.opts.maxQueueRows));
    if (this.queuedRows + rows.length > this.opts.maxQueueRows)
      return Promise.reject(new QueueFullError(this.queuedRows, this.opts.maxQueueRows));
    if (options.signal?.aborted) return Promise.reject(new AbortedError());
    const now = this.opts.clock.now();
    if (options.deadline !== undefined && options.deadline <= now) return Promise.reject(new DeadlineError());

    return new Promise((resolve, reject) => {
      const order = rows.map((_, i) => i);
      order.sort((a, b) => rows[a]!.ids.length - rows[b]!.ids.length || a - b);
      let deadlineTimer: unknown = null;
      const onAbort = (): void => this.fail(pending, new AbortedError());
      const pending: Pending = {
        rows,
        order,
        next: 0,
        done: 0,
        output: null,
        width: 0,
        enqueuedAt: now,
        deadline: options.deadline ?? Number.POSITIVE_INFINITY,
        settled: false,
        resolve,
        reject,
        cleanup: () => {
          if (deadlineTimer !== null) this.opts.clock.clearTimer(deadlineTimer);
          options.signal?.removeEventListener("abort", onAbort);
        },
      };
      if (options.deadline !== undefined)
        deadlineTimer = this.opts.clock.setTimer(options.deadline - now, () =>
          this.fail(pending, new DeadlineError()),
        );
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(pending);
      this.queuedRows += rows.length;
      this.schedule();
    });
  }

  /** Refuses new requests and resolves once every queued row has run (graceful shutdown). */
  close(): Promise<void> {
    this.closed = true;
    if (this.delayTimer !== null) {
      this.opts.clock.clearTimer(this.delayTimer);
      this.delayTimer = null;
    }
    this.schedule();
    return this.whenIdle();
  }

  private whenIdle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rejects a request once; its still-queued rows leave the queue and never run. */
  private fail(pending: Pending, error: Error): void {
    if (pending.settled) return;
    pending.settled = true;
    pending.cleanup();
    const index = this.queue.indexOf(pending);
    if (index >= 0) {
      this.queue.splice(index, 1);
      this.queuedRows -= pending.rows.length - pending.next;
    }
    pending.reject(error);
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.running || this.queue.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const full = this.queuedRows >= this.opts.maxBatchSize;
    if (full || this.closed || this.opts.maxQueueDelayUs === 0) {
      if (this.delayTimer !== null) {
        this.opts.clock.clearTimer(this.delayTimer);
        this.delayTimer = null;
      }
      this.dispatch();
      return;
    }
    if (this.delayTimer !== null) return;
    // Wait for company counted from the oldest queued row, never longer.
    const waited = this.opts.clock.now() - this.queue[0]!.enqueuedAt;
    const left = Math.max(0, this.opts.maxQueueDelayUs / 1000 - waited);
    this.delayTimer = this.opts.clock.setTimer(left, () => {
      this.delayTimer = null;
      if (!this.running) this.dispatch();
    });
  }

  private roundUp(length: number): number {
    const m = this.opts.padMultiple;
    return Math.min(this.opts.maxSeqLength, Math.ceil(length / m) * m);
  }

  /** Takes rows oldest request first, within the size and token limits, and starts one run. */
  private dispatch(): void {
    const now = this.opts.clock.now();
    // Expired requests are dropped before they can take a place in the run.
    for (const p of [...this.queue]) if (p.deadline <= now) this.fail(p, new DeadlineError());
    if (this.queue.length === 0) return;

    const taken: { pending: Pending; index: number }[] = [];
    let longest = 0;
    const { maxBatchSize, maxBatchTokens } = this.opts;
    outer: for (const pending of this.queue) {
      while (pending.next < pending.rows.length) {
        if (taken.length >= maxBatchSize) break outer;
        const index = pending.order[pending.next]!;
        const length = pending.rows[index]!.ids.length;
        const padded = this.roundUp(Math.max(longest, length));
        if (taken.length > 0 && (taken.length + 1) * padded > maxBatchTokens) break outer;
        taken.push({ pending, index });
        longest = Math.max(longest, length);
        pending.next++;
        if (pending.next === 1) this.opts.onDequeue?.(now - pending.enqueuedAt);
      }
    }
    // Requests whose every row is now in flight leave the queue (they wait for outputs only).
    while (this.queue.length > 0 && this.queue[0]!.next === this.queue[0]!.rows.length) this.queue.shift();
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (this.queue[i]!.next === this.queue[i]!.rows.length) this.queue.splice(i, 1);
    this.queuedRows -= taken.length;

    const seqLength = this.roundUp(longest);
    const rows = taken.length;
    const inputIds = new BigInt64Array(rows * seqLength);
    const attentionMask = new BigInt64Array(rows * seqLength);
    if (this.opts.padId !== 0n) inputIds.fill(this.opts.padId);
    for (const [r, { pending, index }] of taken.entries()) {
      const row = pending.rows[index]!;
      inputIds.set(row.ids, r * seqLength);
      attentionMask.set(row.mask, r * seqLength);
    }

    this.running = true;
    this.runs++;
    const started = this.opts.clock.now();
    const finish = (ok: boolean): void => {
      this.opts.onRun?.({ rows, seqLength, ms: this.opts.clock.now() - started, ok });
      this.running = false;
      this.schedule();
      this.notifyIfIdle();
    };
    let promise: Promise<Float32Array>;
    try {
      promise = this.opts.run({ rows, seqLength, inputIds, attentionMask });
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (out) => {
        const width = out.length / rows;
        if (!Number.isInteger(width) || width < 1) {
          const error = new Error(`model returned ${out.length} values for ${rows} rows`);
          for (const { pending } of taken) this.fail(pending, error);
        } else {
          for (const [r, { pending, index }] of taken.entries()) {
            if (pending.settled) continue;
            if (pending.output === null) {
              pending.output = new Float32Array(pending.rows.length * width);
              pending.width = width;
            }
            pending.output.set(out.subarray(r * width, (r + 1) * width), index * width);
            pending.done++;
            if (pending.done === pending.rows.length) {
              pending.settled = true;
              pending.cleanup();
              pending.resolve({ data: pending.output, width });
            }
          }
        }
        finish(true);
      },
      (error: unknown) => {
        const err = error instanceof Error ? error : new Error(String(error));
        for (const { pending } of taken) this.fail(pending, err);
        finish(false);
      },
    );
  }
}

/** The real clock: performance.now() and global timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (ms, fn) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
