/**
 * Open Inference Protocol (KServe V2) client for the edge: binary tensors in and out, one deadline
 * per call (AbortSignal.timeout covers connect, upload and the whole response body), and failures
 * mapped to UPSTREAM_UNAVAILABLE / UPSTREAM_TIMEOUT / UNKNOWN_MODEL GraphQL errors.
 */

import {
  bytesToFloat32,
  decodeMessage,
  encodeBinaryMessage,
  HEADER_LENGTH,
  type InferRequestHeader,
  type InferResponseHeader,
  type ModelMetadata,
  readBodyCapped,
  typedBytes,
} from "@intentql/schema";
import { ErrorCode } from "../graphql/errors.ts";
import { unknownModel, upstreamRefused, upstreamTimeout, upstreamUnavailable } from "./errors.ts";

export interface V2ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8500 */
  url: string;
  /** Bearer token for the upstream; omitted when empty. */
  token?: string;
  /** Deadline of each upstream call, ms. */
  timeoutMs: number;
  /** Injectable for tests that count or fail calls; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export interface TokenBatch {
  batchSize: number;
  seqLength: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
}

export interface Logits {
  rows: number;
  width: number;
  data: Float32Array;
  /** The version of the model that answered, when the upstream says (`model_version`). */
  version?: string;
}

/** The most of a metadata, labels or bundle.json answer the edge reads. */
export const MAX_UPSTREAM_JSON_BYTES = 8 * 2 ** 20;
/** The most of a refusal's body it reads, for the error it reports (which keeps 200-500 characters). */
const MAX_UPSTREAM_ERROR_BYTES = 64 * 2 ** 10;
/** The most of a vocab.txt it reads (a learnt model may have 4 Mi characters, up to 4 bytes each). */
export const MAX_UPSTREAM_VOCAB_BYTES = 16 * 2 ** 20;

/** An upstream answer bigger than the edge reads: refused while it streams. */
export class UpstreamTooLargeError extends Error {
  override name = "UpstreamTooLargeError";
  constructor(path: string, maxBytes: number) {
    super(`GET ${path} answered more than ${maxBytes} bytes`);
  }
}

export class V2Client {
  readonly #base: string;
  readonly #fetch: typeof fetch;

  constructor(readonly options: V2ClientOptions) {
    this.#base = options.url.replace(/\/+$/, "");
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** `refusalsAreInput`: a 400, 409 or 422 is the caller's to fix (BAD_USER_INPUT with the reason); a 401 or 403 stays the edge's own misconfiguration (UPSTREAM_UNAVAILABLE). */
  async #call(path: string, init: RequestInit, model?: string, refusalsAreInput = false): Promise<Response> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const headers = new Headers(init.headers);
    if (this.options.token) headers.set("authorization", `Bearer ${this.options.token}`);
    let response: Response;
    try {
      response = await this.#fetch(`${this.#base}${path}`, { ...init, headers, signal });
    } catch (error) {
      throw this.#failure(signal, error);
    }
    if (response.ok) {
      // Body reads obey the same signal; callers read it through #read.
      return response;
    }
    const read = await readBodyCapped(response, MAX_UPSTREAM_ERROR_BYTES).catch(() => ({ text: "" }));
    const text = "text" in read ? read.text : "";
    if (response.status === 404 && model !== undefined) throw unknownModel(model);
    if (response.status === 504) throw upstreamTimeout(this.options.timeoutMs);
    if (refusalsAreInput && [400, 409, 422].includes(response.status))
      throw upstreamRefused(response.status, text);
    throw upstreamUnavailable(`${init.method ?? "GET"} ${path} → ${response.status} ${text.slice(0, 200)}`);
  }

  #failure(signal: AbortSignal, error: unknown): Error {
    if (signal.aborted) return upstreamTimeout(this.options.timeoutMs);
    return upstreamUnavailable(`${(error as Error)?.message ?? String(error)}`);
  }

  async #read<T>(response: Response, how: (r: Response) => Promise<T>): Promise<T> {
    try {
      return await how(response);
    } catch (error) {
      if ((error as Error)?.name === "TimeoutError" || (error as Error)?.name === "AbortError")
        throw upstreamTimeout(this.options.timeoutMs);
      throw upstreamUnavailable(`reading the response: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /** The body as text, refused once it passes `maxBytes` (schema's readBodyCapped). */
  async #readText(response: Response, path: string, maxBytes: number): Promise<string> {
    const read = await this.#read(response, (r) => readBodyCapped(r, maxBytes));
    if ("tooLarge" in read) throw new UpstreamTooLargeError(path, maxBytes);
    return read.text;
  }

  async getJson<T>(path: string, model?: string): Promise<T> {
    const response = await this.#call(path, { method: "GET" }, model);
    const text = await this.#readText(response, path, MAX_UPSTREAM_JSON_BYTES).catch((error: unknown) => {
      // metadata this big is a broken upstream, not a caller's mistake
      if (error instanceof UpstreamTooLargeError) throw upstreamUnavailable(error.message);
      throw error;
    });
    try {
      return JSON.parse(text) as T;
    } catch {
      throw upstreamUnavailable(`GET ${path} answered non-JSON`);
    }
  }

  listModels(): Promise<{ models: { name: string; version?: string; state?: string }[] }> {
    return this.getJson("/v2/models");
  }

  /** The served model names, or null when the upstream has no model list (Triton answers 404). */
  async modelNames(): Promise<string[] | null> {
    try {
      const { models } = await this.getJson<{ models: { name: string }[] }>("/v2/models", "/v2/models");
      return models.map((m) => m.name);
    } catch (error) {
      if ((error as { extensions?: { code?: string } }).extensions?.code === ErrorCode.UNKNOWN_MODEL)
        return null;
      throw error;
    }
  }

  modelMetadata(model: string): Promise<ModelMetadata> {
    return this.getJson(`/v2/models/${encodeURIComponent(model)}`, model);
  }

  /** gpu-service's `intentql_bundle` extension: the bundle's bundle.json and labels.json. */
  bundleJson(model: string): Promise<unknown> {
    return this.getJson(`/v2/models/${encodeURIComponent(model)}/bundle`, model);
  }

  /** Triton's model configuration extension: config.pbtxt as JSON (its `parameters` carry the bundle identity). */
  modelConfig(model: string): Promise<unknown> {
    return this.getJson(`/v2/models/${encodeURIComponent(model)}/config`, model);
  }

  labelsJson(model: string): Promise<unknown> {
    return this.getJson(`/v2/models/${encodeURIComponent(model)}/labels`, model);
  }

  /** The model repository extension (gpu-service --model-repository): load (or reload) or unload. */
  async repository(model: string, action: "load" | "unload"): Promise<void> {
    const path = `/v2/repository/models/${encodeURIComponent(model)}/${action}`;
    const response = await this.#call(path, { method: "POST" }, model, true);
    await response.body?.cancel().catch(() => {}); // its body ({}) says nothing the status did not
  }

  /** gpu-service's `intentql_bundle` extension: the bundle's vocab.txt, for a model the edge learns. */
  async vocabText(model: string): Promise<string> {
    const path = `/v2/models/${encodeURIComponent(model)}/vocab`;
    const response = await this.#call(path, { method: "GET" }, model);
    return this.#readText(response, path, MAX_UPSTREAM_VOCAB_BYTES);
  }

  /** One binary V2 infer call: input_ids and attention_mask INT64 [B,S] → logits FP32 [B,L]. */
  async infer(model: string, batch: TokenBatch): Promise<Logits> {
    const shape = [batch.batchSize, batch.seqLength];
    const { body, headerLength } = encodeBinaryMessage<InferRequestHeader>(
      {
        parameters: { binary_data_output: true },
        outputs: [{ name: "logits", parameters: { binary_data: true } }],
      },
      "inputs",
      [
        { name: "input_ids", datatype: "INT64", shape, bytes: typedBytes(batch.inputIds) },
        { name: "attention_mask", datatype: "INT64", shape, bytes: typedBytes(batch.attentionMask) },
      ],
    );
    const response = await this.#call(
      `/v2/models/${encodeURIComponent(model)}/infer`,
      {
        method: "POST",
        headers: { "content-type": "application/octet-stream", [HEADER_LENGTH]: String(headerLength) },
        body: body as Uint8Array<ArrayBuffer>,
      },
      model,
    );
    const bytes = new Uint8Array(await this.#read(response, (r) => r.arrayBuffer()));
    const lengthHeader = response.headers.get(HEADER_LENGTH);
    let decoded: ReturnType<typeof decodeMessage<InferResponseHeader>>;
    try {
      decoded = decodeMessage<InferResponseHeader>(
        bytes,
        lengthHeader === null ? undefined : Number(lengthHeader),
        "outputs",
      );
    } catch (error) {
      throw upstreamUnavailable(`undecodable infer response: ${(error as Error).message}`);
    }
    const logits = decoded.tensors.find((t) => t.header.name === "logits");
    if (!logits) throw upstreamUnavailable("infer response has no logits output");
    const [rows, width] = logits.header.shape;
    const data = logits.raw
      ? bytesToFloat32(logits.raw)
      : Float32Array.from((logits.header.data ?? []) as number[]);
    if (rows !== batch.batchSize || width === undefined || data.length !== rows * width)
      throw upstreamUnavailable(
        `logits shape ${JSON.stringify(logits.header.shape)} does not fit a batch of ${batch.batchSize}`,
      );
    const version = decoded.header.model_version;
    return { rows, width, data, ...(typeof version === "string" && version !== "" ? { version } : {}) };
  }
}
