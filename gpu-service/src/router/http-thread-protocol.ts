/**
 * The messages between the main thread (http-threads.ts: batchers, sessions, model repository) and
 * an HTTP thread (http-thread.ts: parsing, validation, encoding). Requests and results travel in
 * batches: an HTTP thread sends every infer request it parsed in one event-loop turn as one message
 * per model, and the main thread answers every request that finished in one turn as one message, so
 * the per-message cost is shared by many requests. Tensors travel as transferred ArrayBuffers.
 */

import type { MessagePort } from "node:worker_threads";
import {
  AbortedError,
  BackendUnavailableError,
  DeadlineError,
  DrainingError,
  QueueFullError,
  RequestTooLargeError,
} from "../core/errors.ts";
import type { Level } from "../log.ts";
import { type DirectRuns, RepositoryError } from "../model-repository.ts";
import type { ServedModel } from "./server.ts";

/** The router settings every HTTP thread gets (config.ts has their meaning). */
export interface HttpRouterSettings {
  host: string;
  authTokens: string[];
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  maxRequestRows: number;
  logLevel: Level;
}

/** workerData of an HTTP thread. */
export interface HttpThreadData extends HttpRouterSettings {
  kind: "intentql-http";
  /** 1-based: the thread's name in logs and metrics is `http-${index}`. */
  index: number;
  /** 0 only for the first thread: the others bind the port it got. */
  port: number;
}

/**
 * What an HTTP thread needs for direct runs on a model (its gate is shared memory). A port is used
 * only with the gate of the pool it came from (`pool`), never with a reloaded model's new one.
 */
export type DirectSnapshot = Omit<DirectRuns, "connectPeers">;

/** What an HTTP thread knows of a model: everything the router answers without running it. */
export type ModelSnapshot = Omit<ServedModel, "batcher" | "ready"> & {
  ready: boolean;
  direct?: DirectSnapshot;
};

export interface StateSnapshot {
  phase: "loading" | "ready" | "draining";
  models: ModelSnapshot[];
}

/** Rows of several requests for one model, concatenated: request i has rowCounts[i] rows. */
export interface InferBatchMessage {
  type: "infer";
  model: string;
  ids: Int32Array<ArrayBuffer>;
  rowCounts: Int32Array<ArrayBuffer>;
  /** Milliseconds each request has left before its deadline, measured when the message was sent. */
  timeoutsMs: Float64Array<ArrayBuffer>;
  /** Tokens per row, every row of every request in order. */
  lengths: Int32Array<ArrayBuffer>;
  tokens: BigInt64Array<ArrayBuffer>;
  mask: BigInt64Array<ArrayBuffer>;
}

/** Outputs of several requests: request i's logits are the next rows[i] × widths[i] floats. */
export interface ResultsMessage {
  type: "results";
  ids: Int32Array<ArrayBuffer>;
  rows: Int32Array<ArrayBuffer>;
  widths: Int32Array<ArrayBuffer>;
  logits: Float32Array<ArrayBuffer>;
  failures: WireError[];
}

export type RepositoryOp = "index" | "load" | "unload";

export type ToHttpThread =
  | { type: "state"; state: StateSnapshot }
  | ResultsMessage
  | { type: "reply"; call: number; value?: unknown; error?: WireError }
  | { type: "collect-metrics"; call: number }
  /** A port to session thread `session` of `model`'s pool `pool`, for direct runs. */
  | { type: "session-port"; model: string; pool: number; session: number; port: MessagePort }
  /** Stop accepting connections; requests in progress still get their answers. */
  | { type: "stop-accepting" }
  /** Everything queued is answered: close the connections that are left and exit. */
  | { type: "close" };

export type FromHttpThread =
  | { type: "listening"; port: number }
  | InferBatchMessage
  | { type: "abort"; ids: Int32Array }
  | { type: "call"; call: number; op: "metrics" | RepositoryOp; name?: string }
  | { type: "collected-metrics"; call: number; json: unknown };

/** An error as it crosses threads: its class by name, so the router maps it to the same status. */
export interface WireError {
  id?: number;
  name: string;
  message: string;
  missing?: boolean;
  queuedRows?: number;
  maxQueueRows?: number;
}

export function errorToWire(error: unknown, id?: number): WireError {
  const e = error instanceof Error ? error : new Error(String(error));
  const wire: WireError = { name: e.name, message: e.message };
  if (id !== undefined) wire.id = id;
  if (e instanceof RepositoryError) wire.missing = e.missing;
  if (e instanceof QueueFullError) {
    wire.queuedRows = e.queuedRows;
    wire.maxQueueRows = e.maxQueueRows;
  }
  return wire;
}

/** The same class as the original (the batcher's errors, RepositoryError), else a plain Error. */
export function errorFromWire(wire: WireError): Error {
  switch (wire.name) {
    case "QueueFullError":
      return new QueueFullError(wire.queuedRows ?? 0, wire.maxQueueRows ?? 0);
    case "RequestTooLargeError":
      return new RequestTooLargeError(wire.message);
    case "DeadlineError":
      return new DeadlineError();
    case "AbortedError":
      return new AbortedError();
    case "DrainingError":
      return new DrainingError();
    case "BackendUnavailableError":
      return new BackendUnavailableError(wire.message);
    case "RepositoryError":
      return new RepositoryError(wire.message, wire.missing === true);
    default:
      return new Error(wire.message);
  }
}

/**
 * Calls across a port, matched by number: each settles once, with its answer, its error, or (when
 * given a timeout) the fallback value once the time is up. Both sides use it: an HTTP thread for the
 * calls the main thread answers, the main thread to collect each thread's metrics.
 */
export class PendingCalls<T> {
  readonly #waiting = new Map<number, { resolve: (value: T) => void; reject: (error: Error) => void }>();
  #next = 1;

  /** `send` posts the call with its number; the promise settles when that number is answered. */
  open(send: (call: number) => void, timeout?: { ms: number; fallback: T }): Promise<T> {
    const call = this.#next++;
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.#waiting.delete(call);
      };
      this.#waiting.set(call, {
        resolve: (value) => {
          done();
          resolve(value);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      if (timeout) timer = setTimeout(() => this.resolve(call, timeout.fallback), timeout.ms);
      send(call);
    });
  }

  resolve(call: number, value: T): void {
    this.#waiting.get(call)?.resolve(value);
  }

  reject(call: number, error: Error): void {
    this.#waiting.get(call)?.reject(error);
  }
}
