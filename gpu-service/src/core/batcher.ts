/**
 * The dynamic batcher: rows from many callers are merged into model runs. Pure: no I/O, no global
 * timers; the clock, its timers and its deferral, and the run function are injected, so every rule
 * below is tested with a fake clock (test/unit/gpu-service/batcher*.test.ts).
 *
 * Policy (gpu-service/README.md "Batching"):
 * - Up to `maxInFlight` runs at once (per model): one runs on the GPU while the next one forms and
 *   its tensors are copied. Rows that arrive while every slot is busy queue up, and the next run
 *   takes as many of them as fit: that is where the batching gain comes from.
 * - Deferred dispatch: a free slot does not start a run on the first row that arrives; it starts on
 *   the next turn of the event loop (`clock.defer`), with every row that arrived in the same turn, as
 *   DataLoader collects the loads of one tick. With `maxQueueDelayUs` > 0 the oldest queued row waits
 *   up to that long for company instead. A full batch starts at once either way.
 * - A run holds at most `maxBatchSize` rows and `maxBatchTokens` = rows × padded length.
 * - Requests are served first come, first served: a run takes the oldest request's rows first, so a
 *   big request cannot starve smaller ones that came before it, and small ones that come after it
 *   share the runs it does not fill.
 * - A request's rows are dispatched shortest first, so when it is split across runs each run pads
 *   only to its own longest row (optionally rounded up to a multiple of `padMultiple`). Outputs are
 *   put back in the caller's order.
 * - Queue full → `QueueFullError` at once (the router answers 503 + Retry-After); a request with more
 *   rows than `maxRequestRows` → `RequestTooLargeError` (400).
 * - A request whose deadline passed or whose caller aborted is rejected at once, in O(1): it is only
 *   marked, and its rows that are still queued are stepped over when the next run forms.
 * - Length split (`minSplitRows` > 0): a run of at least 2 × minSplitRows rows whose padding can
 *   shrink by ≥ 10 % is run as two parts, its shorter and its longer rows, each padded to its own
 *   longest row (length-split.ts; runs are formed by run-form.ts). Both parts run on the same slot,
 *   one after the other.
 * - Every run is settled whatever happens (try/finally): a run that throws, rejects or returns the
 *   wrong shape fails exactly the requests in it, and its slot is freed.
 */

import {
  deliverOutputs,
  type Row,
  type RunFunction,
  type RunReport,
  runTokens,
  type Taken,
} from "./batch.ts";
import type { Clock } from "./clock.ts";
import {
  AbortedError,
  DeadlineError,
  DrainingError,
  QueueFullError,
  RequestTooLargeError,
} from "./errors.ts";
import { isQueued, type Pending, RequestQueue } from "./request-queue.ts";
import { formRun, type PaddingPolicy, paddedLength, paddedRows } from "./run-form.ts";
import type { ShapeBuckets } from "./shape-buckets.ts";

export interface BatcherOptions {
  maxBatchSize: number;
  maxBatchTokens: number;
  maxQueueDelayUs: number;
  maxQueueRows: number;
  /** Rows one request may carry (default: maxQueueRows). */
  maxRequestRows?: number;
  /** Runs at once (default 1). */
  maxInFlight?: number;
  /** Pad each run's length up to a multiple of this (1 = no rounding). */
  padMultiple: number;
  /** Never pad beyond this (the model's maximum sequence length). */
  maxSeqLength: number;
  /**
   * Pad every run up to one of these row counts and lengths (shape-buckets.ts: the shapes a CUDA
   * session has already run). Their largest row count must be maxBatchSize and their largest length
   * maxSeqLength. Default: runs as large as their rows, padded to the longest row only.
   */
  shapeBuckets?: ShapeBuckets;
  /**
   * Split a run of at least twice this many rows in two by length when that saves ≥ 10 % of its
   * padded tokens (length-split.ts). Default 0: never.
   */
  minSplitRows?: number;
  padId: bigint;
  clock: Clock;
  run: RunFunction;
  /** Observability hooks (metrics); optional so the core stays free of prom-client. */
  onRun?: (info: RunReport) => void;
  onDequeue?: (waitMs: number) => void;
}

export interface SubmitOptions {
  /** Absolute time (clock.now() units) after which the request fails with DeadlineError. */
  deadline?: number;
  signal?: AbortSignal;
}

export interface BatcherStats {
  queuedRows: number;
  queuedRequests: number;
  inFlight: number;
  runs: number;
}

export class Batcher {
  private readonly queue = new RequestQueue();
  private queuedRows = 0;
  private queuedRequests = 0;
  private inFlight = 0;
  private runs = 0;
  private delayTimer: unknown = null;
  private deferred = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly maxInFlight: number;
  private readonly maxRequestRows: number;
  private readonly policy: PaddingPolicy;

  constructor(private readonly opts: BatcherOptions) {
    this.maxInFlight = opts.maxInFlight ?? 1;
    this.maxRequestRows = opts.maxRequestRows ?? opts.maxQueueRows;
    for (const [key, value] of Object.entries({
      maxBatchSize: opts.maxBatchSize,
      maxBatchTokens: opts.maxBatchTokens,
      maxQueueRows: opts.maxQueueRows,
      maxRequestRows: this.maxRequestRows,
      maxInFlight: this.maxInFlight,
      padMultiple: opts.padMultiple,
      maxSeqLength: opts.maxSeqLength,
    }))
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${key} must be an integer ≥ 1`);
    if (opts.maxBatchTokens < opts.maxSeqLength)
      throw new RangeError("maxBatchTokens must be at least maxSeqLength so that any one row fits a run");
    if (!(opts.maxQueueDelayUs >= 0)) throw new RangeError("maxQueueDelayUs must be ≥ 0");
    const minSplitRows = opts.minSplitRows ?? 0;
    if (!Number.isInteger(minSplitRows) || minSplitRows < 0)
      throw new RangeError("minSplitRows must be an integer ≥ 0");
    const buckets = opts.shapeBuckets;
    if (
      buckets !== undefined &&
      (buckets.rows.at(-1) !== opts.maxBatchSize || buckets.seq.at(-1) !== opts.maxSeqLength)
    )
      throw new RangeError("shapeBuckets must end at maxBatchSize rows and maxSeqLength tokens");
    this.policy = {
      padMultiple: opts.padMultiple,
      maxSeqLength: opts.maxSeqLength,
      ...(buckets ? { shapeBuckets: buckets } : {}),
      padId: opts.padId,
      minSplitRows,
    };
  }

  /** How this batcher pads its runs (an HTTP thread pads a direct run the same way). */
  paddingPolicy(): PaddingPolicy {
    return this.policy;
  }

  stats(): BatcherStats {
    return {
      queuedRows: this.queuedRows,
      queuedRequests: this.queuedRequests,
      inFlight: this.inFlight,
      runs: this.runs,
    };
  }

  /**
   * Queues a request's rows; resolves with its outputs, row-major [rows.length, width], in the
   * order the rows were given. Rejects with QueueFullError or RequestTooLargeError (at once),
   * DeadlineError, AbortedError, DrainingError or the run function's error.
   */
  submit(rows: Row[], options: SubmitOptions = {}): Promise<{ data: Float32Array; width: number }> {
    if (this.closed) return Promise.reject(new DrainingError());
    if (rows.length === 0) return Promise.resolve({ data: new Float32Array(0), width: 0 });
    if (rows.length > this.maxRequestRows)
      return Promise.reject(
        new RequestTooLargeError(
          `a request of ${rows.length} rows is over the limit of ${this.maxRequestRows} rows per request`,
        ),
      );
    if (rows.length > this.opts.maxQueueRows)
      return Promise.reject(
        new RequestTooLargeError(
          `a request of ${rows.length} rows can never fit a queue of ${this.opts.maxQueueRows} rows`,
        ),
      );
    for (const [i, row] of rows.entries()) {
      if (row.ids.length === 0 || row.ids.length !== row.mask.length)
        return Promise.reject(new RangeError(`row ${i}: ids and mask must be non-empty and the same length`));
      if (row.ids.length > this.opts.maxSeqLength)
        return Promise.reject(
          new RangeError(`row ${i} has ${row.ids.length} tokens, more than ${this.opts.maxSeqLength}`),
        );
    }
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
      this.queuedRequests++;
      this.schedule();
    });
  }

  /** Refuses new requests and resolves once every queued row has run (graceful shutdown). */
  close(): Promise<void> {
    this.closed = true;
    this.clearDelay();
    this.schedule();
    return this.whenIdle();
  }

  private whenIdle(): Promise<void> {
    if (this.inFlight === 0 && this.queuedRows === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rejects a request once, in O(1): its still-queued rows are stepped over, never run. */
  private fail(pending: Pending, error: Error): void {
    if (pending.settled) return;
    if (isQueued(pending)) {
      this.queuedRows -= pending.rows.length - pending.next;
      this.queuedRequests--;
    }
    pending.settled = true;
    pending.cleanup();
    pending.reject(error);
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.inFlight > 0 || this.queuedRows > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private clearDelay(): void {
    if (this.delayTimer !== null) {
      this.opts.clock.clearTimer(this.delayTimer);
      this.delayTimer = null;
    }
  }

  /** Starts runs while a slot is free and rows are queued, now, next turn, or after the delay. */
  private schedule(): void {
    if (this.inFlight >= this.maxInFlight || this.queuedRows === 0) return;
    if (this.queuedRows >= this.opts.maxBatchSize || this.closed) {
      this.clearDelay();
      this.fillSlots();
      return;
    }
    if (this.opts.maxQueueDelayUs === 0) {
      if (this.deferred) return;
      this.deferred = true;
      this.opts.clock.defer(() => {
        this.deferred = false;
        this.fillSlots();
      });
      return;
    }
    if (this.delayTimer !== null) return;
    const oldest = this.queue.first();
    if (oldest === undefined) return;
    // Wait for company counted from the oldest queued row, never longer.
    const waited = this.opts.clock.now() - oldest.enqueuedAt;
    const left = Math.max(0, this.opts.maxQueueDelayUs / 1000 - waited);
    this.delayTimer = this.opts.clock.setTimer(left, () => {
      this.delayTimer = null;
      this.fillSlots();
    });
  }

  private fillSlots(): void {
    while (this.inFlight < this.maxInFlight && this.queuedRows > 0) if (!this.dispatch()) break;
    // What is left (fewer rows than a slot would take at once) waits for the next turn or the delay.
    this.schedule();
  }

  /** Takes rows oldest request first, within the size and token limits, and starts one run. */
  private dispatch(): boolean {
    const now = this.opts.clock.now();
    const taken: Taken[] = [];
    let longest = 0;
    const { maxBatchSize, maxBatchTokens } = this.opts;
    this.queue.first(); // reclaims the finished and cancelled requests at the front
    outer: for (const pending of this.queue.queued()) {
      // An expired request is dropped when the scan reaches it, before it can take a place.
      if (pending.deadline <= now) {
        this.fail(pending, new DeadlineError());
        continue;
      }
      while (pending.next < pending.rows.length) {
        if (taken.length >= maxBatchSize) break outer;
        const index = pending.order[pending.next]!;
        const length = pending.rows[index]!.ids.length;
        const padded = paddedLength(this.policy, Math.max(longest, length));
        if (taken.length > 0 && paddedRows(this.policy, taken.length + 1) * padded > maxBatchTokens)
          break outer;
        taken.push({ pending, index });
        longest = Math.max(longest, length);
        pending.next++;
        if (pending.next === 1) this.opts.onDequeue?.(now - pending.enqueuedAt);
        if (pending.next === pending.rows.length) this.queuedRequests--;
      }
    }
    this.queue.first(); // and the ones this run has just emptied
    if (taken.length === 0) return false;
    this.queuedRows -= taken.length;

    const rows = taken.length;
    const { batch, outputRows } = formRun(
      taken.map(({ pending, index }) => pending.rows[index]!),
      this.policy,
    );

    this.inFlight++;
    this.runs++;
    const started = this.opts.clock.now();
    // Settles the run exactly once, whatever the run function or the delivery does: the slot is freed
    // before the callers hear back, and the next run is scheduled even if this one threw.
    const settle = (out: Float32Array | null, error: unknown): void => {
      this.inFlight--;
      let ok = false;
      try {
        if (out === null) throw error instanceof Error ? error : new Error(String(error));
        deliverOutputs(taken, out, batch.rows, outputRows);
        ok = true;
      } catch (caught) {
        const err = caught instanceof Error ? caught : new Error(String(caught));
        for (const { pending } of taken) this.fail(pending, err);
      } finally {
        this.schedule();
        this.notifyIfIdle();
        this.opts.onRun?.({
          rows,
          tokens: runTokens(batch),
          parts: batch.parts?.length ?? 1,
          ms: this.opts.clock.now() - started,
          ok,
        });
      }
    };
    let result: Promise<Float32Array>;
    try {
      result = this.opts.run(batch);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (out) => settle(out, undefined),
      (error: unknown) => settle(null, error ?? new Error("model run failed")),
    );
    return true;
  }
}
