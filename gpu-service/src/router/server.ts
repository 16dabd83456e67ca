import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { HEADER_LENGTH, ProtocolError, type ServerMetadata } from "@intentql/schema";
import type { Row } from "../core/batch.ts";
import type { SubmitOptions } from "../core/batcher.ts";
import {
  AbortedError,
  BackendUnavailableError,
  DeadlineError,
  DrainingError,
  QueueFullError,
  RequestTooLargeError,
} from "../core/errors.ts";
import type { Logger } from "../log.ts";
import type { RouterMetrics } from "../metrics.ts";
import { RepositoryError } from "../model-repository.ts";
import { encodeInferResponse, type ModelSignature, parseInferRequest } from "./infer.ts";

export const SERVER_NAME = "intentql-gpu-service";
export const SERVER_VERSION = "0.1.0";
export const EXTENSIONS = [
  "binary_tensor_data",
  "model_repository",
  "model_repository_list",
  "intentql_bundle",
];

/**
 * What the router needs of a model's batcher: on the main thread the Batcher itself, on an HTTP
 * thread a proxy that forwards the rows to it (http-thread.ts).
 */
export interface RowSubmitter {
  submit(rows: Row[], options?: SubmitOptions): Promise<{ data: Float32Array; width: number }>;
}

export interface ServedModel {
  signature: ModelSignature;
  batcher: RowSubmitter;
  /** Every session thread of the model is up (false while one restarts after a crash). */
  ready: () => boolean;
  provider: string;
  variant: string;
  labelsJson: string;
  bundleJson: string;
  /** The bundle's vocab.txt, for an edge that learns the model at runtime. */
  vocabText: string;
  /** Metadata inputs/outputs as the bundle declares them (-1 = dynamic). */
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

/** The KServe V2 model repository extension's operations (model-repository.ts). */
export interface RepositoryControl {
  index(): unknown[] | Promise<unknown[]>;
  load(name: string): Promise<void>;
  unload(name: string): Promise<void>;
}

export interface RouterState<M extends ServedModel = ServedModel> {
  phase: "loading" | "ready" | "draining";
  models: Map<string, M>;
}

export interface RouterOptions {
  /** Bearer tokens accepted (current and, during a rotation, next); empty: no auth (--insecure-no-auth). */
  authTokens: string[];
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  /** Rows one infer request may carry (--max-request-rows). */
  maxRequestRows: number;
  log: Logger;
  metrics: RouterMetrics;
  state: RouterState;
  /** The model repository extension; absent: its routes answer 404. */
  repository?: RepositoryControl;
  /** GET /metrics's body; default: this thread's registry (an HTTP thread asks the main thread). */
  metricsText?: () => Promise<string>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly kind: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const REPOSITORY_ROUTE = /^\/v2\/repository\/models\/([^/]+)\/(load|unload)$/;
const MODEL_ROUTE = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/(ready|infer|labels|bundle|vocab))?$/;

/** A path segment, percent-decoded; malformed escapes (`%E0%A4%A`) are the caller's error, 400. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in path segment "${segment}"`, "bad_request");
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/**
 * The URL's path without its query and trailing slashes ("/" when nothing is left). A loop, not
 * `replace(/\/+$/, "")`: that regex retries from every slash of a run, so "/v2/" + 16,000 slashes +
 * "a" cost 0.2 s of the main thread before the token was even checked.
 */
export function routePath(url: string): string {
  const query = url.indexOf("?");
  let end = query === -1 ? url.length : query;
  while (end > 0 && url.charCodeAt(end - 1) === 0x2f) end--;
  return end === 0 ? "/" : url.slice(0, end);
}

/**
 * Reads the body up to the limit; a bigger body is refused with 413 without buffering it all. A
 * client that goes away before the body ends is an abort (499, `aborted`), not a server error.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit)
    return Promise.reject(
      new HttpError(413, `body of ${declared} bytes exceeds the limit of ${limit} bytes`, "body_too_large"),
    );
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        reject(new HttpError(413, `body exceeds the limit of ${limit} bytes`, "body_too_large"));
        req.removeAllListeners("data");
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on("error", (error) => reject(req.complete ? error : new AbortedError()));
  });
}

export function createHandler(opts: RouterOptions) {
  const { state, metrics, log } = opts;
  // Digests of equal length make timingSafeEqual applicable whatever the caller sends.
  const expectedTokens = opts.authTokens.map(digest);

  const send = (
    res: ServerResponse,
    route: string,
    status: number,
    body: string | Uint8Array,
    headers: Record<string, string | number> = {},
  ): void => {
    metrics.httpRequests.inc({ route, status: String(status) });
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, {
      "content-type": typeof body === "string" ? "application/json" : "application/octet-stream",
      "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.byteLength,
      ...headers,
    });
    res.end(body);
  };
  const sendJson = (res: ServerResponse, route: string, status: number, value: unknown, headers = {}): void =>
    send(res, route, status, JSON.stringify(value), headers);

  const findModel = (name: string, version: string | undefined): ServedModel => {
    const modelName = decodeSegment(name);
    const model = state.models.get(modelName);
    // While loading, a name not in the map yet may be one still loading: "not ready", not "unknown",
    // or a client (the edge) would report UNKNOWN_MODEL for every request during a restart.
    if (!model && state.phase === "loading")
      throw new HttpError(503, "server is loading", "not_ready", { "retry-after": "1" });
    if (!model) throw new HttpError(404, `unknown model "${modelName}"`, "not_found");
    if (version !== undefined && decodeSegment(version) !== model.signature.version)
      throw new HttpError(
        404,
        `model ${model.signature.name} has no version "${decodeSegment(version)}" (serves ${model.signature.version})`,
        "not_found",
      );
    return model;
  };

  const metadata = (m: ServedModel) => ({
    name: m.signature.name,
    versions: [m.signature.version],
    platform: "onnxruntime_onnx",
    inputs: m.inputs,
    outputs: m.outputs,
    parameters: {
      provider: m.provider,
      variant: m.variant,
      max_length: m.signature.maxLength,
      vocab_size: m.signature.vocabSize,
    },
  });

  async function infer(req: IncomingMessage, res: ServerResponse, model: ServedModel, route: string) {
    metrics.inferRequests.inc({ model: model.signature.name });
    const inflight = metrics.inflightRequests.labels({ model: model.signature.name });
    inflight.inc();
    try {
      await inferCounted(req, res, model, route);
    } finally {
      inflight.dec();
    }
  }

  async function inferCounted(req: IncomingMessage, res: ServerResponse, model: ServedModel, route: string) {
    const arrived = performance.now();
    const body = await readBody(req, opts.bodyLimitBytes);
    const rawLength = req.headers[HEADER_LENGTH];
    let headerLength: number | undefined;
    if (rawLength !== undefined) {
      const text = Array.isArray(rawLength) ? rawLength[0]! : rawLength;
      if (!/^\d+$/.test(text))
        throw new ProtocolError(`Inference-Header-Content-Length ${JSON.stringify(text)} is not an integer`);
      headerLength = Number(text);
    }
    const parsed = parseInferRequest(body, headerLength, model.signature, { maxRows: opts.maxRequestRows });
    // A caller that goes away takes its queued rows with it.
    const controller = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort();
    };
    res.on("close", onClose);
    try {
      const { data, width } = await model.batcher.submit(parsed.rows, {
        deadline: arrived + opts.requestTimeoutMs,
        signal: controller.signal,
      });
      const encoded = encodeInferResponse(model.signature, parsed, data, width);
      const headers: Record<string, string | number> = {};
      if (encoded.headerLength !== undefined) headers[HEADER_LENGTH] = encoded.headerLength;
      send(res, route, 200, encoded.body, headers);
    } finally {
      res.off("close", onClose);
    }
  }

  /** KServe V2 model repository extension: index, load (or reload), unload. */
  async function repositoryRoute(
    path: string,
    method: string,
    res: ServerResponse,
    repository: RepositoryControl,
  ): Promise<string> {
    const post = (): void => {
      if (method !== "POST")
        throw new HttpError(405, `${method} is not allowed on ${path}; use POST`, "bad_request", {
          allow: "POST",
        });
    };
    if (path === "/v2/repository/index") {
      post();
      sendJson(res, path, 200, await repository.index());
      return path;
    }
    const match = REPOSITORY_ROUTE.exec(path);
    if (!match) throw new HttpError(404, `no route ${method} ${path}`, "not_found");
    post();
    const routeName = `/v2/repository/models/{name}/${match[2]}`;
    const name = decodeSegment(match[1]!);
    try {
      await (match[2] === "load" ? repository.load(name) : repository.unload(name));
    } catch (error) {
      if (!(error instanceof RepositoryError)) throw error;
      throw new HttpError(
        error.missing ? 404 : 400,
        error.message,
        error.missing ? "not_found" : "bad_request",
      );
    }
    sendJson(res, routeName, 200, {});
    return routeName;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const path = routePath(req.url ?? "/");
    const method = req.method ?? "GET";
    const get = (routeName: string): void => {
      if (method !== "GET" && method !== "HEAD")
        throw new HttpError(405, `${method} is not allowed on ${path}; use GET`, "bad_request", {
          allow: "GET",
        });
      void routeName;
    };
    if (path === "/v2/health/live") {
      get(path);
      sendJson(res, "/v2/health/live", 200, { live: true });
      return "/v2/health/live";
    }
    if (path === "/v2/health/ready") {
      get(path);
      const ready = state.phase === "ready" && [...state.models.values()].every((m) => m.ready());
      sendJson(res, "/v2/health/ready", ready ? 200 : 503, { ready }, ready ? {} : { "retry-after": "1" });
      return "/v2/health/ready";
    }
    if (path === "/metrics") {
      get(path);
      const text = await (opts.metricsText?.() ?? metrics.registry.metrics());
      metrics.httpRequests.inc({ route: "/metrics", status: "200" });
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(text);
      return "/metrics";
    }
    if (path === "/v2") {
      get(path);
      const body: ServerMetadata = { name: SERVER_NAME, version: SERVER_VERSION, extensions: EXTENSIONS };
      sendJson(res, "/v2", 200, body);
      return "/v2";
    }
    // Everything below needs one of the shared secrets (none only under --insecure-no-auth).
    if (expectedTokens.length > 0) {
      const header = req.headers.authorization ?? "";
      const match = /^Bearer (.+)$/.exec(header);
      const given = match ? digest(match[1]!) : null;
      // Every token is compared, so the time taken does not tell which one matched.
      let ok = false;
      for (const expected of expectedTokens)
        if (given !== null && timingSafeEqual(given, expected)) ok = true;
      if (!ok)
        throw new HttpError(401, "missing or wrong bearer token", "unauthorized", {
          "www-authenticate": 'Bearer realm="gpu-service"',
        });
    }
    if (path === "/v2/models") {
      get(path);
      sendJson(res, "/v2/models", 200, {
        models: [...state.models.values()].map((m) => ({
          name: m.signature.name,
          version: m.signature.version,
          state: state.phase === "ready" && m.ready() ? "READY" : "UNAVAILABLE",
        })),
      });
      return "/v2/models";
    }
    if (path.startsWith("/v2/repository/") && opts.repository)
      return repositoryRoute(path, method, res, opts.repository);
    const match = MODEL_ROUTE.exec(path);
    if (!match) throw new HttpError(404, `no route ${method} ${path}`, "not_found");
    const [, name, version, action] = match;
    const routeName = `/v2/models/{name}${version !== undefined ? "/versions/{v}" : ""}${action ? `/${action}` : ""}`;
    const model = findModel(name!, version);
    if (action === "infer") {
      if (method !== "POST")
        throw new HttpError(405, `${method} is not allowed on ${path}; use POST`, "bad_request", {
          allow: "POST",
        });
      if (state.phase !== "ready")
        throw new HttpError(503, `server is ${state.phase}`, "not_ready", { "retry-after": "1" });
      await infer(req, res, model, routeName);
      return routeName;
    }
    get(routeName);
    if (action === "ready") {
      const ready = state.phase === "ready" && model.ready();
      sendJson(res, routeName, ready ? 200 : 503, { name: model.signature.name, ready });
    } else if (action === "labels") {
      send(res, routeName, 200, model.labelsJson);
    } else if (action === "bundle") {
      send(res, routeName, 200, model.bundleJson);
    } else if (action === "vocab") {
      send(res, routeName, 200, model.vocabText, { "content-type": "text/plain; charset=utf-8" });
    } else {
      sendJson(res, routeName, 200, metadata(model));
    }
    return routeName;
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((error: unknown) => {
      const e = toHttpError(error);
      metrics.errors.inc({ kind: e.kind });
      if (e.status >= 500 && e.kind === "internal")
        log.error("request_failed", { url: req.url, error: (error as Error)?.stack ?? String(error) });
      else log.debug("request_refused", { url: req.url, status: e.status, error: e.message });
      // A body left unread (a 413, or a refusal before reading: 401, 404, 405) would otherwise be
      // drained to keep the connection: a client announcing 8 MB and sending 100 B/s held it for
      // minutes (session 14's second attack pass). Close instead.
      if (e.status === 413 || !req.complete) res.setHeader("connection", "close");
      sendJson(res, "error", e.status, { error: e.message }, e.headers);
    });
  };
}

/**
 * Timeouts of every HTTP server gpu-service starts (the main thread's and each HTTP thread's): a
 * request must arrive whole, headers and body, within `requestTimeout` (Node's default is 300 s, so
 * slow senders held connections that long), its headers within `headersTimeout`; an idle
 * keep-alive connection is kept longer than the ALB's 60 s idle timeout, so that the ALB closes it.
 */
export const HTTP_SERVER_TIMEOUTS = {
  requestTimeout: 30_000,
  headersTimeout: 20_000,
  keepAliveTimeout: 65_000,
};

export function applyServerTimeouts(server: Server): void {
  server.requestTimeout = HTTP_SERVER_TIMEOUTS.requestTimeout;
  server.headersTimeout = HTTP_SERVER_TIMEOUTS.headersTimeout;
  server.keepAliveTimeout = HTTP_SERVER_TIMEOUTS.keepAliveTimeout;
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ProtocolError) return new HttpError(400, error.message, "bad_request");
  if (error instanceof RequestTooLargeError) return new HttpError(400, error.message, "bad_request");
  if (error instanceof QueueFullError)
    return new HttpError(503, error.message, "queue_full", { "retry-after": "1" });
  if (error instanceof BackendUnavailableError)
    return new HttpError(503, error.message, "backend_unavailable", { "retry-after": "1" });
  if (error instanceof DrainingError)
    return new HttpError(503, "server is shutting down", "not_ready", { "retry-after": "1" });
  if (error instanceof DeadlineError) return new HttpError(504, error.message, "deadline");
  if (error instanceof AbortedError) return new HttpError(499, error.message, "aborted");
  return new HttpError(500, `internal error: ${(error as Error)?.message ?? String(error)}`, "internal");
}
