import { monitorEventLoopDelay } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * What the router counts: the metrics each HTTP thread keeps in a registry of its own (with
 * --http-threads, GET /metrics sums every thread's registry with the main thread's).
 */
export interface RouterMetrics {
  registry: Registry;
  httpRequests: Counter<"route" | "status">;
  inferRequests: Counter<"model">;
  inflightRequests: Gauge<"model">;
  errors: Counter<"kind">;
  /** Connections accepted per thread: how evenly the kernel spreads them over --http-threads. */
  connections: Counter<"thread">;
  /** This thread's event-loop delay since the previous scrape, labelled with the thread's name. */
  eventLoopDelay: Gauge<"stat" | "thread">;
}

/** The service's Prometheus metrics, in a registry of its own (served at GET /metrics). */
export interface Metrics extends RouterMetrics {
  modelRuns: Counter<"model">;
  rows: Counter<"model">;
  splitRuns: Counter<"model">;
  directRuns: Counter<"model">;
  batchRows: Histogram<"model">;
  batchTokens: Histogram<"model">;
  queueDepth: Gauge<"model">;
  queueWait: Histogram<"model">;
  inferenceSeconds: Histogram<"model">;
}

/** The router's metrics in `registry`; `thread` names this thread in the event-loop gauge. */
export function createRouterMetrics(registry: Registry, thread: string): RouterMetrics {
  const registers = [registry];
  // How late this thread's event loop was since the previous scrape: HTTP parsing (and, on the main
  // thread, batching) waits that long. Model runs happen on session threads and must not show up.
  // The histogram holds the interval between its 10 ms samples: the lateness is what exceeds 10 ms.
  const RESOLUTION_MS = 10;
  const loopDelay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  loopDelay.enable();
  return {
    registry,
    httpRequests: new Counter({
      name: "intentql_http_requests_total",
      help: "HTTP requests by route template and status code",
      labelNames: ["route", "status"],
      registers,
    }),
    inferRequests: new Counter({
      name: "intentql_infer_requests_total",
      help: "Infer HTTP requests received per model (before validation)",
      labelNames: ["model"],
      registers,
    }),
    connections: new Counter({
      name: "intentql_http_connections_total",
      help: "TCP connections accepted, by the thread that serves them (main, or http-1… with --http-threads)",
      labelNames: ["thread"],
      registers,
    }),
    inflightRequests: new Gauge({
      // Requests between arrival and their answer (body read, queued or running). The fleet scales on
      // it as well as on queued rows: many small requests can stall on the body or the event loop
      // while the row queue looks short.
      name: "intentql_inflight_requests",
      help: "Infer requests received and not yet answered",
      labelNames: ["model"],
      registers,
    }),
    eventLoopDelay: new Gauge({
      name: "intentql_event_loop_delay_seconds",
      help: "Event-loop delay of each thread that serves HTTP or batches (thread: main, http-1, …) since the previous scrape (stat: p50, p99, max)",
      labelNames: ["stat", "thread"],
      registers,
      collect() {
        const s = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e9 - RESOLUTION_MS / 1000) : 0);
        this.set({ stat: "p50", thread }, s(loopDelay.percentile(50)));
        this.set({ stat: "p99", thread }, s(loopDelay.percentile(99)));
        this.set({ stat: "max", thread }, s(loopDelay.max));
        loopDelay.reset();
      },
    }),
    errors: new Counter({
      name: "intentql_errors_total",
      help: "Errors answered, by kind (bad_request, not_found, unauthorized, body_too_large, queue_full, deadline, aborted, not_ready, backend_unavailable, internal)",
      labelNames: ["kind"],
      registers,
    }),
  };
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    ...createRouterMetrics(registry, "main"),
    modelRuns: new Counter({
      name: "intentql_model_runs_total",
      help: "Model runs per model (warm-up excluded; a run split by length counts once)",
      labelNames: ["model"],
      registers,
    }),
    rows: new Counter({
      name: "intentql_rows_total",
      help: "Rows (texts) run through the model",
      labelNames: ["model"],
      registers,
    }),
    splitRuns: new Counter({
      name: "intentql_split_runs_total",
      help: "Model runs split in two parts by length (--min-split-rows)",
      labelNames: ["model"],
      registers,
    }),
    directRuns: new Counter({
      name: "intentql_direct_runs_total",
      help: "Model runs an HTTP thread sent straight to an idle model's session thread (--http-threads)",
      labelNames: ["model"],
      registers,
    }),
    batchRows: new Histogram({
      name: "intentql_batch_rows",
      help: "Rows per model run",
      labelNames: ["model"],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048],
      registers,
    }),
    batchTokens: new Histogram({
      name: "intentql_batch_tokens",
      help: "Padded tokens per model run (rows × padded length, summed over its parts)",
      labelNames: ["model"],
      buckets: [16, 64, 256, 1024, 4096, 16384, 65536, 262144],
      registers,
    }),
    queueDepth: new Gauge({
      name: "intentql_queue_rows",
      help: "Rows waiting in the batcher queue",
      labelNames: ["model"],
      registers,
    }),
    queueWait: new Histogram({
      name: "intentql_queue_wait_seconds",
      help: "Time from enqueue to a request's first row entering a run",
      labelNames: ["model"],
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    inferenceSeconds: new Histogram({
      name: "intentql_inference_seconds",
      help: "Duration of one model run",
      labelNames: ["model"],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  };
}
