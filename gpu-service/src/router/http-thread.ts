/**
 * One HTTP thread (--http-threads N; http-threads.ts starts them). It runs the same router as the
 * main thread would (server.ts: auth, routes, parsing, validation, encoding) on a listening socket of
 * its own, bound to the shared port with SO_REUSEPORT so the kernel spreads connections over the
 * threads. What it cannot answer alone goes to the main thread:
 * - infer rows, to the model's one batcher there, so batches stay as large as with one thread;
 *   the requests parsed in one event-loop turn travel as one message per model. On an idle model
 *   they go straight to a session thread instead (direct-runs.ts);
 * - /metrics (the main thread sums every thread's registry with its own) and the model repository
 *   operations, as calls that the main thread answers.
 * Models, their readiness and the server's phase arrive as snapshots whenever they change.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { Registry } from "prom-client";
import type { Row } from "../core/batch.ts";
import type { SubmitOptions } from "../core/batcher.ts";
import { AbortedError, DeadlineError } from "../core/errors.ts";
import { createLogger } from "../log.ts";
import { createRouterMetrics } from "../metrics.ts";
import { DirectRunner } from "./direct-runs.ts";
import {
  type DirectSnapshot,
  errorFromWire,
  type FromHttpThread,
  type HttpThreadData,
  type InferBatchMessage,
  PendingCalls,
  type RepositoryOp,
  type ResultsMessage,
  type ToHttpThread,
} from "./http-thread-protocol.ts";
import {
  applyServerTimeouts,
  createHandler,
  type RepositoryControl,
  type RouterState,
  type ServedModel,
} from "./server.ts";

interface Waiting {
  resolve: (out: { data: Float32Array; width: number }) => void;
  reject: (error: Error) => void;
  cleanup: () => void;
}

interface Outgoing {
  id: number;
  rows: Row[];
  deadline: number;
}

/**
 * Forwards rows to the main thread's batchers. Requests submitted in one event-loop turn leave
 * together at the end of it (one message per model), or as one direct run when the model is idle;
 * an aborted request is answered at once here and its id sent on so the main thread drops its rows.
 */
class RowForwarder {
  private readonly waiting = new Map<number, Waiting>();
  private readonly outgoing = new Map<string, Outgoing[]>();
  private aborted: number[] = [];
  private nextId = 1;
  private flushScheduled = false;
  readonly direct: DirectRunner;

  /** @param directFor a model's direct-run snapshot while it and the server are ready, else undefined */
  constructor(
    private readonly port: MessagePort,
    index: number,
    private readonly directFor: (model: string) => DirectSnapshot | undefined,
  ) {
    this.direct = new DirectRunner(-index, {
      resolve: (id, out) => this.settle(id)?.resolve(out),
      reject: (id, error) => this.settle(id)?.reject(error),
    });
  }

  /** The caller still waiting for request `id`, now answered (undefined if it left already). */
  private settle(id: number): Waiting | undefined {
    const w = this.waiting.get(id);
    if (w === undefined) return undefined;
    this.waiting.delete(id);
    w.cleanup();
    return w;
  }

  submit(
    model: string,
    rows: Row[],
    options: SubmitOptions = {},
  ): Promise<{ data: Float32Array; width: number }> {
    const { signal, deadline = Number.POSITIVE_INFINITY } = options;
    if (signal?.aborted) return Promise.reject(new AbortedError());
    if (deadline <= performance.now()) return Promise.reject(new DeadlineError());
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.waiting.delete(id)) return;
        reject(new AbortedError());
        this.aborted.push(id);
        this.scheduleFlush();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(id, {
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener("abort", onAbort),
      });
      const list = this.outgoing.get(model);
      if (list === undefined) this.outgoing.set(model, [{ id, rows, deadline }]);
      else list.push({ id, rows, deadline });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const now = performance.now();
    for (const [model, queued] of this.outgoing) {
      // A caller that left before its request was sent: nothing to send (its abort is harmless).
      const list = queued.filter((r) => this.waiting.has(r.id));
      if (list.length === 0) continue;
      if (this.direct.tryRun(model, this.directFor(model), list)) continue;
      let rowCount = 0;
      let tokenCount = 0;
      for (const r of list) {
        rowCount += r.rows.length;
        for (const row of r.rows) tokenCount += row.ids.length;
      }
      const message: InferBatchMessage = {
        type: "infer",
        model,
        ids: new Int32Array(list.length),
        rowCounts: new Int32Array(list.length),
        timeoutsMs: new Float64Array(list.length),
        lengths: new Int32Array(rowCount),
        tokens: new BigInt64Array(tokenCount),
        mask: new BigInt64Array(tokenCount),
      };
      let row = 0;
      let token = 0;
      list.forEach((r, i) => {
        message.ids[i] = r.id;
        message.rowCounts[i] = r.rows.length;
        message.timeoutsMs[i] = r.deadline === Number.POSITIVE_INFINITY ? -1 : Math.max(0, r.deadline - now);
        for (const { ids, mask } of r.rows) {
          message.lengths[row++] = ids.length;
          message.tokens.set(ids, token);
          message.mask.set(mask, token);
          token += ids.length;
        }
      });
      this.post(message, [
        message.ids.buffer,
        message.rowCounts.buffer,
        message.timeoutsMs.buffer,
        message.lengths.buffer,
        message.tokens.buffer,
        message.mask.buffer,
      ]);
    }
    this.outgoing.clear();
    if (this.aborted.length > 0) {
      const ids = Int32Array.from(this.aborted);
      this.aborted = [];
      this.post({ type: "abort", ids }, [ids.buffer]);
    }
  }

  deliver(message: ResultsMessage): void {
    let offset = 0;
    for (let i = 0; i < message.ids.length; i++) {
      const size = message.rows[i]! * message.widths[i]!;
      this.settle(message.ids[i]!)?.resolve({
        data: message.logits.subarray(offset, offset + size),
        width: message.widths[i]!,
      });
      offset += size;
    }
    for (const failure of message.failures) this.settle(failure.id ?? -1)?.reject(errorFromWire(failure));
  }

  private post(message: FromHttpThread, transfer: ArrayBuffer[] = []): void {
    this.port.postMessage(message, transfer);
  }
}

async function main(port: MessagePort, data: HttpThreadData): Promise<void> {
  const thread = `http-${data.index}`;
  const log = createLogger(data.logLevel);
  const metrics = createRouterMetrics(new Registry(), thread);
  const state: RouterState = { phase: "loading", models: new Map() };
  const direct = new Map<string, DirectSnapshot>();
  const forwarder = new RowForwarder(port, data.index, (model) =>
    state.phase === "ready" && state.models.get(model)?.ready() === true ? direct.get(model) : undefined,
  );
  // Calls the main thread answers: /metrics and the model repository operations.
  const calls = new PendingCalls<unknown>();
  const call = <T>(op: "metrics" | RepositoryOp, name?: string): Promise<T> =>
    calls.open((n) =>
      port.postMessage({
        type: "call",
        call: n,
        op,
        ...(name !== undefined ? { name } : {}),
      } satisfies FromHttpThread),
    ) as Promise<T>;
  const repository: RepositoryControl = {
    index: () => call("index"),
    load: (name) => call("load", name),
    unload: (name) => call("unload", name),
  };
  const handler = createHandler({
    authTokens: data.authTokens,
    bodyLimitBytes: data.bodyLimitBytes,
    requestTimeoutMs: data.requestTimeoutMs,
    maxRequestRows: data.maxRequestRows,
    log,
    metrics,
    state,
    repository,
    metricsText: () => call<string>("metrics"),
  });
  const server = createServer(handler);
  applyServerTimeouts(server);
  server.on("connection", () => metrics.connections.inc({ thread }));

  port.on("message", (message: ToHttpThread) => {
    switch (message.type) {
      case "results":
        forwarder.deliver(message);
        break;
      case "state":
        state.phase = message.state.phase;
        direct.clear();
        for (const m of message.state.models) if (m.direct) direct.set(m.signature.name, m.direct);
        forwarder.direct.keepOnly(new Set(message.state.models.map((m) => m.signature.name)));
        state.models = new Map(
          message.state.models.map((m): [string, ServedModel] => {
            const { ready, direct: _direct, ...rest } = m;
            const name = m.signature.name;
            return [
              name,
              {
                ...rest,
                ready: () => ready,
                batcher: { submit: (rows, o) => forwarder.submit(name, rows, o) },
              },
            ];
          }),
        );
        break;
      case "session-port":
        forwarder.direct.addPeer(message.model, message.pool, message.session, message.port);
        break;
      case "reply":
        if (message.error !== undefined) calls.reject(message.call, errorFromWire(message.error));
        else calls.resolve(message.call, message.value);
        break;
      case "collect-metrics":
        metrics.registry.getMetricsAsJSON().then((json) =>
          port.postMessage({
            type: "collected-metrics",
            call: message.call,
            json,
          } satisfies FromHttpThread),
        );
        break;
      case "stop-accepting":
        server.close();
        break;
      case "close": {
        server.close();
        server.closeIdleConnections();
        // Connections still open after the grace period are cut; the thread then ends.
        setTimeout(() => server.closeAllConnections(), 2000).unref();
        port.close();
        break;
      }
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: data.port, host: data.host, reusePort: true }, () => resolve());
  });
  port.postMessage({
    type: "listening",
    port: (server.address() as AddressInfo).port,
  } satisfies FromHttpThread);
}

if (parentPort !== null && (workerData as { kind?: string } | null)?.kind === "intentql-http")
  await main(parentPort, workerData as HttpThreadData);
