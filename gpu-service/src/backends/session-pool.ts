/**
 * A model's sessions, one per worker thread (session-thread.ts). The batcher stays on the main
 * thread, so one queue per model keeps batches large, and starts at most `size` runs at once: one
 * runs on the device while the next one's tensors are built and moved.
 *
 * - A run goes to an idle thread; its tensors are transferred, not copied, both ways.
 * - A thread that crashes fails the run it held with BackendUnavailableError (503 + Retry-After),
 *   the pool reports not ready until a replacement has opened and warmed up its session, and the
 *   replacement starts after a backoff (100 ms doubling to 5 s) so a thread that cannot start does
 *   not spin.
 * - A run asked for while every live thread is busy waits for one (a restart, or a direct run,
 *   makes that possible, since the batcher never starts more than `size` runs); with no live thread
 *   at all it fails at once.
 * - Direct runs (--http-threads): while the pool is idle (no run, none waiting), its `gate` (one
 *   shared Int32) names a thread, k + 1, that an HTTP thread may claim by swapping in minus its own
 *   index (Atomics.compareExchange); it then sends its rows to that thread over a peer port
 *   (`connectPeers`) and gets the outputs back the same way: two thread hops instead of four for a
 *   request on an idle model, which is what one text's latency is made of. The pool closes the gate
 *   before it starts any run of its own (Atomics.exchange: a claim it finds there marks the thread
 *   busy), and opens it again once the thread reports the direct run done.
 */
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import type { Variant } from "@intentql/schema";
import type { RunBatch, RunReport } from "../core/batch.ts";
import { BackendUnavailableError } from "../core/errors.ts";
import type { Logger } from "../log.ts";
import { workerEntry } from "../worker-entry.ts";
import type { Provider } from "./onnx.ts";
import type { RunMessage, SessionThreadData, ThreadMessage, ToSessionThread } from "./session-thread.ts";

export interface SessionPoolOptions extends SessionThreadData {
  /** Threads, hence runs in flight; a function of the provider the first thread opened. */
  size: number | ((provider: Provider) => number);
  log: Logger;
  /** Called when readiness changes (every thread up, or not). */
  onReadyChange?: (ready: boolean) => void;
  /** Called after each direct run (metrics: the batcher never sees these runs). */
  onDirectRun?: (info: RunReport) => void;
  /**
   * The thread's module, for fault-injection tests (a thread that exits in the middle of a run).
   * Default: session-thread.ts, or its bundled file next to gpu-service.mjs.
   */
  threadEntry?: { url: URL; execArgv?: string[] };
}

interface Job {
  resolve: (out: Float32Array) => void;
  reject: (error: Error) => void;
}

interface Slot {
  index: number;
  worker: Worker | null;
  up: boolean;
  job: { id: number; job: Job } | null;
  /** Running a direct run an HTTP thread claimed. */
  direct: boolean;
  restarts: number;
}

/** Receives a port to session thread `session` (once per thread start) for direct runs. */
export type PeerListener = (session: number, port: MessagePort) => void;

/** Gate values: 0 closed, k + 1 open for thread k, negative: claimed (by HTTP thread −value). */
const GATE_CLOSED = 0;

let pools = 0;

export class SessionPool {
  /** Unique in the process. */
  readonly id = ++pools;
  provider!: Provider;
  variant!: Variant;
  fallbackReason: string | undefined;
  warmupRuns = 0;
  private readonly slots: Slot[] = [];
  private readonly waiting: { batch: RunBatch; job: Job }[] = [];
  private nextId = 1;
  private closing = false;
  private wasReady = false;
  /** Shared with the HTTP threads: see "Direct runs" above. */
  readonly gate = new Int32Array(new SharedArrayBuffer(4));
  /** The thread the gate was last opened for. */
  private gateSlot = -1;
  private readonly peers = new Set<PeerListener>();
  private directIdle: (() => void)[] = [];

  private constructor(private readonly opts: SessionPoolOptions) {}

  /**
   * Starts the first thread (which picks the provider: with --device auto it may fall back to CPU),
   * then the others on that provider; resolves once every thread has opened and warmed its session.
   */
  static async open(opts: SessionPoolOptions): Promise<SessionPool> {
    const pool = new SessionPool(opts);
    pool.slots.push({ index: 0, worker: null, up: false, job: null, direct: false, restarts: 0 });
    try {
      const first = await pool.start(pool.slots[0]!, opts.device);
      pool.provider = first.provider;
      pool.variant = first.variant;
      pool.fallbackReason = first.fallbackReason;
      pool.warmupRuns = first.warmupRuns;
      const size = typeof opts.size === "function" ? opts.size(first.provider) : opts.size;
      if (!Number.isInteger(size) || size < 1)
        throw new RangeError(`session threads must be ≥ 1, got ${size}`);
      for (let i = 1; i < size; i++)
        pool.slots.push({ index: i, worker: null, up: false, job: null, direct: false, restarts: 0 });
      await Promise.all(pool.slots.slice(1).map((s) => pool.start(s, first.provider)));
    } catch (error) {
      await pool.close();
      throw error;
    }
    pool.readyChanged();
    return pool;
  }

  /** Threads, hence the most runs the batcher may start at once. */
  get size(): number {
    return this.slots.length;
  }

  /** Every thread has a warm session. */
  ready(): boolean {
    return !this.closing && this.slots.every((s) => s.up);
  }

  run(batch: RunBatch): Promise<Float32Array> {
    if (this.closing) return Promise.reject(new BackendUnavailableError("the model is shutting down"));
    this.closeGate();
    return new Promise((resolve, reject) => {
      const job = { resolve, reject };
      const idle = this.idleSlot();
      if (idle) this.send(idle, batch, job);
      else if (this.slots.some((s) => s.up)) this.waiting.push({ batch, job });
      else reject(new BackendUnavailableError("no session thread is up (restarting after a crash)"));
    });
  }

  /**
   * Hands `listener` a port to every live thread now and to every thread that (re)starts later, for
   * direct runs. Returns the unsubscribe function (ports already handed out close with their threads).
   */
  connectPeers(listener: PeerListener): () => void {
    this.peers.add(listener);
    for (const slot of this.slots) if (slot.up) this.wirePeer(slot, listener);
    return () => this.peers.delete(listener);
  }

  /**
   * Ends every thread. Call it after the batcher has drained: terminating a thread in the middle of
   * an ONNX Runtime run aborts the whole process (onnxruntime-node throws from native code), so a
   * direct run still going is waited for (it is one short run).
   */
  async close(): Promise<void> {
    this.closing = true;
    this.closeGate();
    for (const w of this.waiting.splice(0))
      w.job.reject(new BackendUnavailableError("the model is shutting down"));
    if (this.slots.some((s) => s.direct)) await new Promise<void>((done) => this.directIdle.push(done));
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
  }

  private idleSlot(): Slot | undefined {
    return this.slots.find((s) => s.up && s.job === null && !s.direct);
  }

  /** Closes the gate; a claim found there marks its thread busy until it reports the run done. */
  private closeGate(): void {
    const value = Atomics.exchange(this.gate, 0, GATE_CLOSED);
    if (value < 0 && this.slots[this.gateSlot]?.up) this.slots[this.gateSlot]!.direct = true;
  }

  /** Opens the gate for an idle thread when the whole pool is idle (and not closing). */
  private openGate(): void {
    if (this.closing || this.waiting.length > 0 || Atomics.load(this.gate, 0) !== GATE_CLOSED) return;
    if (this.slots.some((s) => s.job !== null || s.direct)) return;
    const slot = this.slots.find((s) => s.up);
    if (slot === undefined) return;
    this.gateSlot = slot.index;
    Atomics.store(this.gate, 0, slot.index + 1);
  }

  private onDirectDone(slot: Slot, info: Extract<ThreadMessage, { type: "direct-done" }>): void {
    slot.direct = false;
    // A claim the pool had not come across yet (it started no run meanwhile): consumed now.
    const value = Atomics.load(this.gate, 0);
    if (value < 0) Atomics.compareExchange(this.gate, 0, value, GATE_CLOSED);
    this.opts.onDirectRun?.(info);
    this.settleDirect();
  }

  private settleDirect(): void {
    if (!this.slots.some((s) => s.direct)) for (const done of this.directIdle.splice(0)) done();
    this.drainWaiting();
  }

  private wirePeer(slot: Slot, listener: PeerListener): void {
    const { port1, port2 } = new MessageChannel();
    slot.worker!.postMessage({ type: "peer", port: port1 } satisfies ToSessionThread, [port1]);
    listener(slot.index, port2);
  }

  private send(slot: Slot, batch: RunBatch, job: Job): void {
    const id = this.nextId++;
    slot.job = { id, job };
    const message: RunMessage = { id, ...batch };
    slot.worker!.postMessage(message, [
      batch.inputIds.buffer as ArrayBuffer,
      batch.attentionMask.buffer as ArrayBuffer,
    ]);
  }

  /** Starts (or restarts) a slot's thread; resolves with its ready message. */
  private start(
    slot: Slot,
    device: SessionThreadData["device"],
  ): Promise<Extract<ThreadMessage, { type: "ready" }>> {
    const {
      size: _size,
      log: _log,
      onReadyChange: _onReadyChange,
      onDirectRun: _onDirectRun,
      threadEntry: custom,
      ...data
    } = this.opts;
    const entry =
      custom ??
      workerEntry(new URL("./session-thread.ts", import.meta.url), "gpu-service-session-thread.mjs");
    const worker = new Worker(entry.url, {
      workerData: { kind: "intentql-session", data: { ...data, device } satisfies SessionThreadData },
      ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
    });
    slot.worker = worker;
    return new Promise((resolve, reject) => {
      let opened = false;
      worker.on("message", (message: ThreadMessage) => {
        if (message.type === "ready") {
          opened = true;
          slot.up = true;
          for (const listener of this.peers) this.wirePeer(slot, listener);
          this.readyChanged();
          resolve(message);
          this.drainWaiting();
          return;
        }
        if (message.type === "direct-done") {
          this.onDirectDone(slot, message);
          return;
        }
        const current = slot.job;
        if (current === null || current.id !== message.id) return;
        slot.job = null;
        if (message.type === "result") current.job.resolve(message.logits);
        else current.job.reject(new Error(message.message));
        this.drainWaiting();
      });
      worker.on("error", (error) => {
        if (!opened) reject(error);
        this.opts.log.error("session_thread_error", {
          model: this.opts.where,
          thread: slot.index,
          error: error.message,
        });
      });
      worker.on("exit", (code) => {
        slot.up = false;
        slot.worker = null;
        // A direct run it held fails on the HTTP thread's side (its peer port closes); a gate open
        // for it closes.
        if (this.gateSlot === slot.index) Atomics.exchange(this.gate, 0, GATE_CLOSED);
        if (slot.direct) {
          slot.direct = false;
          this.settleDirect();
        }
        const lost = slot.job;
        slot.job = null;
        lost?.job.reject(
          new BackendUnavailableError(
            `session thread ${slot.index} of ${this.opts.where} stopped (exit code ${code}); retry`,
          ),
        );
        if (this.closing) return;
        if (!opened)
          reject(
            new Error(`session thread ${slot.index} exited with code ${code} before its session opened`),
          );
        this.readyChanged();
        this.restartLater(slot);
      });
    });
  }

  private restartLater(slot: Slot): void {
    const delay = Math.min(5000, 100 * 2 ** slot.restarts);
    slot.restarts++;
    this.opts.log.error("session_thread_restart", {
      model: this.opts.where,
      thread: slot.index,
      inMs: delay,
    });
    // Jobs that waited for a thread fail when none is left to run them.
    if (!this.slots.some((s) => s.up))
      for (const w of this.waiting.splice(0))
        w.job.reject(new BackendUnavailableError("no session thread is up (restarting after a crash)"));
    setTimeout(() => {
      if (this.closing) return;
      this.start(slot, this.provider).then(
        () => {
          slot.restarts = 0;
          this.opts.log.info("session_thread_restarted", { model: this.opts.where, thread: slot.index });
        },
        () => undefined, // its exit handler has already scheduled the next attempt
      );
    }, delay).unref();
  }

  private drainWaiting(): void {
    for (;;) {
      if (this.waiting.length > 0) this.closeGate();
      const idle = this.idleSlot();
      const next = idle ? this.waiting.shift() : undefined;
      if (!idle || !next) break;
      this.send(idle, next.batch, next.job);
    }
    this.openGate();
  }

  private readyChanged(): void {
    const ready = this.ready();
    if (ready === this.wasReady) return;
    this.wasReady = ready;
    this.opts.onReadyChange?.(ready);
  }
}
