/**
 * The main thread's side of --http-threads N: it starts N HTTP threads (http-thread.ts) that share
 * one port through SO_REUSEPORT, feeds the rows they parse to the models' batchers, and sends back
 * the outputs. The main thread then parses no HTTP at all: its event loop only batches, so many small
 * requests (one text each) no longer queue behind the parsing of others.
 *
 * - Results that finish in one event-loop turn go back to each thread in one message (the thread
 *   batches its requests the same way), so a message's cost is shared by many requests.
 * - Models, readiness and the phase go to the threads as snapshots whenever they change (checked
 *   every 100 ms, and at once after a load, an unload or a phase change).
 * - /metrics: the thread that was asked gets every thread's registry summed with the main one's.
 * - A thread that exits unexpectedly is restarted (100 ms backoff doubling to 5 s); its connections
 *   are gone, so its queued rows are dropped. The service reports not ready until it is back.
 * - Direct runs: every thread gets a port to every session thread of every model (again after any
 *   restart, on either side) and the model's gate in its snapshot, so a request on an idle model goes
 *   straight to a session thread and back (backends/session-pool.ts, "Direct runs").
 */
import { type Transferable, Worker } from "node:worker_threads";
import { AggregatorRegistry } from "prom-client";
import type { Row } from "../core/batch.ts";
import { BackendUnavailableError } from "../core/errors.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { DirectRuns, LocalModel } from "../model-repository.ts";
import { workerEntry } from "../worker-entry.ts";
import {
  type DirectSnapshot,
  errorToWire,
  type FromHttpThread,
  type HttpRouterSettings,
  type HttpThreadData,
  type InferBatchMessage,
  PendingCalls,
  type StateSnapshot,
  type ToHttpThread,
  type WireError,
} from "./http-thread-protocol.ts";
import type { RepositoryControl, RouterState } from "./server.ts";

export interface HttpThreadsOptions extends HttpRouterSettings {
  threads: number;
  /** 0: any free port (the first thread's). */
  port: number;
  log: Logger;
  metrics: Metrics;
  state: RouterState<LocalModel>;
  repository: RepositoryControl;
  /** The thread's module, for tests; default: http-thread.ts, or its bundled file next to gpu-service.mjs. */
  threadEntry?: { url: URL; execArgv?: string[] };
}

interface Slot {
  index: number;
  worker: Worker | null;
  up: boolean;
  restarts: number;
  /** The models whose session threads send this thread ports, and how to stop them. */
  peers: Map<LocalModel, () => void>;
  /** Requests of this thread that the batchers hold, by the thread's id, to drop them on abort. */
  pending: Map<number, AbortController>;
  done: { id: number; data: Float32Array; width: number; rows: number }[];
  failures: WireError[];
  flushScheduled: boolean;
}

/** One registry's metrics as `Registry.getMetricsAsJSON()` gives them, the form the aggregator sums. */
type MetricsJson = object[];

const STATE_CHECK_MS = 100;
const METRICS_TIMEOUT_MS = 2000;

export class HttpThreads {
  /** http://host:port, set once every thread listens. */
  url = "";
  private readonly slots: Slot[] = [];
  private port = 0;
  private closing = false;
  private lastFingerprint = "";
  private readonly identities = new WeakMap<LocalModel, number>();
  private nextIdentity = 1;
  private readonly stateTimer: ReturnType<typeof setInterval>;
  private readonly metricsCalls = new PendingCalls<MetricsJson | null>();

  private constructor(private readonly opts: HttpThreadsOptions) {
    this.stateTimer = setInterval(() => this.sync(), STATE_CHECK_MS);
    this.stateTimer.unref();
  }

  /** Starts every thread listening (the first one picks the port when it is 0); resolves with the URL. */
  static async start(opts: HttpThreadsOptions): Promise<HttpThreads> {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new RangeError("threads must be ≥ 1");
    const slots: Slot[] = Array.from({ length: opts.threads }, (_, i) => ({
      index: i + 1,
      worker: null,
      up: false,
      restarts: 0,
      peers: new Map(),
      pending: new Map(),
      done: [],
      failures: [],
      flushScheduled: false,
    }));
    const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
    const self = new HttpThreads(opts);
    self.slots.push(...slots);
    try {
      self.port = await self.startThread(slots[0]!, opts.port);
      await Promise.all(slots.slice(1).map((s) => self.startThread(s, self.port)));
    } catch (error) {
      await self.close();
      throw error;
    }
    self.url = `http://${host}:${self.port}`;
    self.sync(true);
    return self;
  }

  /** Every thread is listening. */
  ready(): boolean {
    return !this.closing && this.slots.every((s) => s.up);
  }

  /** Sends the models and the phase to every thread if they changed since the last time (or if forced). */
  sync(force = false): void {
    const { state } = this.opts;
    this.connectPeers();
    const ready = this.ready();
    const parts = [state.phase, String(ready)];
    for (const [name, m] of state.models) {
      let identity = this.identities.get(m);
      if (identity === undefined) {
        identity = this.nextIdentity++;
        this.identities.set(m, identity);
      }
      parts.push(`${name}#${identity}:${m.ready()}`);
    }
    const fingerprint = parts.join("|");
    if (!force && fingerprint === this.lastFingerprint) return;
    this.lastFingerprint = fingerprint;
    const snapshot: StateSnapshot = {
      phase: state.phase,
      models: [...state.models.values()].map((m) => ({
        signature: m.signature,
        ready: ready && m.ready(),
        provider: m.provider,
        variant: m.variant,
        labelsJson: m.labelsJson,
        bundleJson: m.bundleJson,
        vocabText: m.vocabText,
        inputs: m.inputs,
        outputs: m.outputs,
        ...(m.direct ? { direct: directSnapshot(m.direct) } : {}),
      })),
    };
    for (const slot of this.slots) if (slot.up) this.send(slot, { type: "state", state: snapshot });
  }

  /** Every live thread subscribes to the session ports of every model served, and only those. */
  private connectPeers(): void {
    const models = new Set(this.opts.state.models.values());
    for (const slot of this.slots) {
      if (!slot.up) continue;
      for (const [model, stop] of slot.peers)
        if (!models.has(model)) {
          stop();
          slot.peers.delete(model);
        }
      for (const model of models) {
        const direct = model.direct;
        if (direct === undefined || slot.peers.has(model)) continue;
        const name = model.signature.name;
        const stop = direct.connectPeers((session, port) => {
          if (!slot.up) return void port.close();
          this.send(slot, { type: "session-port", model: name, pool: direct.pool, session, port }, [port]);
        });
        slot.peers.set(model, stop);
      }
    }
  }

  private disconnectPeers(slot: Slot): void {
    for (const stop of slot.peers.values()) stop();
    slot.peers.clear();
  }

  /** Stops accepting connections on every thread; requests already received still get answers. */
  stopAccepting(): void {
    for (const slot of this.slots) if (slot.up) this.send(slot, { type: "stop-accepting" });
  }

  /** Call once the batchers have drained: flushes what is left, then ends every thread. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.stateTimer);
    await Promise.all(
      this.slots.map(async (slot) => {
        const worker = slot.worker;
        if (worker === null) return;
        this.flush(slot);
        const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
        this.send(slot, { type: "close" });
        // The thread ends once its connections are closed (at most 2 s later); never wait forever.
        const forced = setTimeout(() => void worker.terminate(), 4000);
        await exited;
        clearTimeout(forced);
      }),
    );
  }

  private send(slot: Slot, message: ToHttpThread, transfer: Transferable[] = []): void {
    slot.worker?.postMessage(message, transfer);
  }

  private startThread(slot: Slot, port: number): Promise<number> {
    const entry =
      this.opts.threadEntry ??
      workerEntry(new URL("./http-thread.ts", import.meta.url), "gpu-service-http-thread.mjs");
    const { host, authTokens, bodyLimitBytes, requestTimeoutMs, maxRequestRows, logLevel } = this.opts;
    const settings: HttpRouterSettings = {
      host,
      authTokens,
      bodyLimitBytes,
      requestTimeoutMs,
      maxRequestRows,
      logLevel,
    };
    const data: HttpThreadData = { ...settings, kind: "intentql-http", index: slot.index, port };
    const worker = new Worker(entry.url, {
      workerData: data,
      ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
    });
    slot.worker = worker;
    return new Promise<number>((resolve, reject) => {
      let listening = false;
      worker.on("message", (message: FromHttpThread) => {
        if (message.type === "listening") {
          listening = true;
          slot.up = true;
          if (slot.restarts > 0) this.sync(true);
          else this.connectPeers();
          resolve(message.port);
          return;
        }
        this.onMessage(slot, message);
      });
      worker.on("error", (error) => {
        this.opts.log.error("http_thread_error", { thread: slot.index, error: error.stack ?? String(error) });
        if (!listening) reject(error);
      });
      worker.on("exit", (code) => {
        const wasUp = slot.up;
        slot.up = false;
        slot.worker = null;
        this.disconnectPeers(slot);
        this.dropPending(slot);
        if (!listening)
          reject(new Error(`HTTP thread ${slot.index} exited with code ${code} before listening`));
        if (this.closing || !wasUp) return;
        this.opts.log.error("http_thread_exit", { thread: slot.index, code });
        this.sync();
        const delay = Math.min(5000, 100 * 2 ** slot.restarts++);
        setTimeout(() => {
          if (this.closing) return;
          this.startThread(slot, this.port).catch((error: unknown) =>
            this.opts.log.error("http_thread_restart_failed", { thread: slot.index, error: String(error) }),
          );
        }, delay).unref();
      });
    });
  }

  /** The thread is gone and its callers with it: their queued rows need not run. */
  private dropPending(slot: Slot): void {
    for (const controller of slot.pending.values()) controller.abort();
    slot.pending.clear();
    slot.done = [];
    slot.failures = [];
  }

  private onMessage(slot: Slot, message: FromHttpThread): void {
    switch (message.type) {
      case "infer":
        this.submit(slot, message);
        break;
      case "abort":
        for (const id of message.ids) {
          const controller = slot.pending.get(id);
          if (controller === undefined) continue;
          slot.pending.delete(id);
          controller.abort();
        }
        break;
      case "call":
        this.answer(message.op, message.name).then(
          (value) => this.send(slot, { type: "reply", call: message.call, value }),
          (error: unknown) =>
            this.send(slot, { type: "reply", call: message.call, error: errorToWire(error) }),
        );
        break;
      case "collected-metrics":
        this.metricsCalls.resolve(message.call, message.json as MetricsJson);
        break;
    }
  }

  private submit(slot: Slot, message: InferBatchMessage): void {
    const model = this.opts.state.models.get(message.model);
    const now = performance.now();
    let row = 0;
    let token = 0;
    for (let i = 0; i < message.ids.length; i++) {
      const id = message.ids[i]!;
      const rows: Row[] = [];
      for (let r = 0; r < message.rowCounts[i]!; r++) {
        const length = message.lengths[row++]!;
        rows.push({
          ids: message.tokens.subarray(token, token + length),
          mask: message.mask.subarray(token, token + length),
        });
        token += length;
      }
      if (model === undefined) {
        this.fail(slot, id, new BackendUnavailableError(`model "${message.model}" is not loaded`));
        continue;
      }
      const controller = new AbortController();
      slot.pending.set(id, controller);
      const timeout = message.timeoutsMs[i]!;
      model.batcher
        .submit(rows, { signal: controller.signal, ...(timeout >= 0 ? { deadline: now + timeout } : {}) })
        .then(
          (out) => {
            if (!slot.pending.delete(id)) return;
            slot.done.push({ id, data: out.data, width: out.width, rows: rows.length });
            this.scheduleFlush(slot);
          },
          (error: unknown) => {
            if (!slot.pending.delete(id)) return;
            this.fail(slot, id, error);
          },
        );
    }
  }

  private fail(slot: Slot, id: number, error: unknown): void {
    slot.failures.push(errorToWire(error, id));
    this.scheduleFlush(slot);
  }

  private scheduleFlush(slot: Slot): void {
    if (slot.flushScheduled) return;
    slot.flushScheduled = true;
    setImmediate(() => this.flush(slot));
  }

  /** Sends the results and failures gathered for a thread in one message. */
  private flush(slot: Slot): void {
    slot.flushScheduled = false;
    const done = slot.done;
    const failures = slot.failures;
    if (done.length === 0 && failures.length === 0) return;
    slot.done = [];
    slot.failures = [];
    let floats = 0;
    for (const d of done) floats += d.data.length;
    const ids = new Int32Array(done.length);
    const rows = new Int32Array(done.length);
    const widths = new Int32Array(done.length);
    const logits = new Float32Array(floats);
    let offset = 0;
    done.forEach((d, i) => {
      ids[i] = d.id;
      rows[i] = d.rows;
      widths[i] = d.width;
      logits.set(d.data, offset);
      offset += d.data.length;
    });
    this.send(slot, { type: "results", ids, rows, widths, logits, failures }, [
      ids.buffer,
      rows.buffer,
      widths.buffer,
      logits.buffer,
    ]);
  }

  private async answer(op: "metrics" | "index" | "load" | "unload", name?: string): Promise<unknown> {
    const { repository } = this.opts;
    switch (op) {
      case "metrics":
        return this.metricsText();
      case "index":
        return repository.index();
      case "load":
      case "unload":
        try {
          await (op === "load" ? repository.load(name ?? "") : repository.unload(name ?? ""));
        } finally {
          this.sync();
        }
        return undefined;
    }
  }

  /** The main registry summed with every live thread's (a thread that does not answer in time is left out). */
  private async metricsText(): Promise<string> {
    const own = await this.opts.metrics.registry.getMetricsAsJSON();
    const theirs = await Promise.all(
      this.slots
        .filter((s) => s.up)
        .map((slot) =>
          this.metricsCalls.open((call) => this.send(slot, { type: "collect-metrics", call }), {
            ms: METRICS_TIMEOUT_MS,
            fallback: null,
          }),
        ),
    );
    const all = [own, ...theirs.filter((j): j is MetricsJson => j !== null)];
    return AggregatorRegistry.aggregate(all).metrics();
  }
}

/** What of a model's direct runs crosses to an HTTP thread: everything but the function. */
function directSnapshot({ connectPeers: _connectPeers, ...snapshot }: DirectRuns): DirectSnapshot {
  return snapshot;
}
