/**
 * A small Open Inference Protocol server for edge tests that must count calls or inject faults
 * (delay, errors, a mismatched bundle). It speaks the binary tensor extension with the shared codec
 * and answers logits from a fixed rule — label (sum of the row's token ids) mod labels — so a test
 * can predict every answer. Correctness against the real model is tested with the real gpu-service.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import {
  bytesToInt64,
  decodeMessage,
  encodeBinaryMessage,
  HEADER_LENGTH,
  type InferRequestHeader,
  type InferResponseHeader,
  typedBytes,
} from "@intentql/schema";

const ROOT = resolve(import.meta.dirname, "../..");
export const BUNDLE_DIR = resolve(ROOT, "models/massive-scratch");

export interface InferCall {
  model: string;
  rows: number;
  seqLength: number;
  /** Token ids of each row, padding dropped. */
  ids: number[][];
}

export interface FakeUpstreamOptions {
  model?: string;
  /** Overrides applied to bundle.json before serving it (e.g. a different vocab sha256). */
  manifestPatch?: (manifest: Record<string, unknown>) => void;
  labels?: unknown;
  /** Served at /v2/models/{m}/vocab (gpu-service's route for edges that learn models); absent: 404. */
  vocabText?: string;
  token?: string;
}

export interface FakeUpstream {
  url: string;
  calls: InferCall[];
  /** Requests to /bundle and /labels (the edge's consistency check). */
  bundleFetches: number;
  /** Every request's method and path, in order (to bound the edge's fan-out). */
  requests: string[];
  /** Milliseconds to wait before answering infer (a slow model). */
  delayMs: number;
  /** When set, infer answers this HTTP status. */
  failStatus: number | null;
  /** When set, infer answers as this model version (a model reloaded behind the edge's back). */
  answerVersion: string | null;
  close(): Promise<void>;
}

/** The fake model's answer for a row: label index (Σ ids) mod labelCount. */
export function fakeLabelFor(ids: readonly number[], labelCount: number): number {
  return ids.reduce((a, b) => a + b, 0) % labelCount;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolvePromise(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const model = options.model ?? "massive-scratch";
  const manifest = JSON.parse(readFileSync(resolve(BUNDLE_DIR, "bundle.json"), "utf8")) as Record<
    string,
    unknown
  >;
  options.manifestPatch?.(manifest);
  const labels = options.labels ?? JSON.parse(readFileSync(resolve(BUNDLE_DIR, "labels.json"), "utf8"));
  const labelCount = (labels as unknown[]).length;
  const state = {
    calls: [] as InferCall[],
    bundleFetches: 0,
    requests: [] as string[],
    delayMs: 0,
    failStatus: null as number | null,
    answerVersion: null as string | null,
  };
  const json = (res: import("node:http").ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
        json(res, 401, { error: "missing or wrong bearer token" });
        return;
      }
      const path = (req.url ?? "/").split("?")[0]!;
      state.requests.push(`${req.method} ${path}`);
      if (path === "/v2/health/ready") return json(res, 200, { ready: true });
      if (path === "/v2/models")
        return json(res, 200, { models: [{ name: model, version: String(manifest.version) }] });
      const match = /^\/v2\/models\/([^/]+)(?:\/(infer|labels|bundle|vocab))?$/.exec(path);
      if (!match || decodeURIComponent(match[1]!) !== model)
        return json(res, 404, { error: "unknown model" });
      const action = match[2];
      if (action === "bundle") {
        state.bundleFetches++;
        return json(res, 200, manifest);
      }
      if (action === "labels") return json(res, 200, labels);
      if (action === "vocab") {
        if (options.vocabText === undefined) return json(res, 404, { error: "no vocab route" });
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        return res.end(options.vocabText);
      }
      if (!action)
        return json(res, 200, {
          name: model,
          versions: [String(manifest.version)],
          platform: "fake",
          inputs: [],
          outputs: [],
          parameters: { provider: "FakeExecutionProvider", variant: "fp32" },
        });
      const body = await readBody(req);
      const headerLength = Number(req.headers[HEADER_LENGTH]);
      const { tensors } = decodeMessage<InferRequestHeader>(new Uint8Array(body), headerLength, "inputs");
      const idsTensor = tensors.find((t) => t.header.name === "input_ids")!;
      const maskTensor = tensors.find((t) => t.header.name === "attention_mask")!;
      const [rows, seqLength] = idsTensor.header.shape as [number, number];
      const ids = bytesToInt64(idsTensor.raw!);
      const mask = bytesToInt64(maskTensor.raw!);
      const rowIds: number[][] = [];
      for (let r = 0; r < rows; r++) {
        const row: number[] = [];
        for (let c = 0; c < seqLength; c++)
          if (mask[r * seqLength + c] === 1n) row.push(Number(ids[r * seqLength + c]));
        rowIds.push(row);
      }
      state.calls.push({ model, rows, seqLength, ids: rowIds });
      if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
      if (res.destroyed) return;
      if (state.failStatus !== null) return json(res, state.failStatus, { error: "injected failure" });
      const logits = new Float32Array(rows * labelCount);
      rowIds.forEach((row, r) => {
        logits[r * labelCount + fakeLabelFor(row, labelCount)] = 8;
      });
      const encoded = encodeBinaryMessage<InferResponseHeader>(
        { model_name: model, model_version: state.answerVersion ?? String(manifest.version) },
        "outputs",
        [{ name: "logits", datatype: "FP32", shape: [rows, labelCount], bytes: typedBytes(logits) }],
      );
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        [HEADER_LENGTH]: String(encoded.headerLength),
      });
      res.end(encoded.body);
    })().catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(error) });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
