/**
 * Writes test/contract/triton/fixtures/*.json: Triton V2 HTTP exchanges for the massive-scratch model,
 * written from Triton's documented protocol (KServe V2 REST + binary tensor data extension; see
 * docs/specs/open-inference-protocol and Triton's docs/protocol/extension_binary_data.md).
 * Bodies are built byte by byte here with Buffer, not with schema/src/v2.ts, so the contract test
 * does not check the codec against itself. Logits are real: the bundle's fp32 model run on CPU by
 * onnxruntime-node (Triton would serve the fp16 file on a GPU; values differ by ~1e-3, argmax not).
 *
 * usage (once; output is committed): node --import tsx test/contract/triton/record-fixtures.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import * as ort from "onnxruntime-node";

const ROOT = join(import.meta.dirname, "../../..");
const OUT = join(import.meta.dirname, "fixtures");
const BUNDLE = join(ROOT, "models/massive-scratch");
const MODEL = "massive-scratch";
export const TEXTS = ["wake me up at seven tomorrow", "what's the weather like in paris"];

const tokenizer = new BertWordPieceTokenizer(parseVocabTxt(readFileSync(join(BUNDLE, "vocab.txt"), "utf8")));
const batch = tokenizer.encodeBatch(TEXTS, 128);
const B = TEXTS.length;
const S = batch.inputIds.length / B;
const session = await ort.InferenceSession.create(join(BUNDLE, "model.onnx"));
const result = await session.run({
  input_ids: new ort.Tensor("int64", batch.inputIds, [B, S]),
  attention_mask: new ort.Tensor("int64", batch.attentionMask, [B, S]),
});
const logits = result.logits!.data as Float32Array;
const L = logits.length / B;

const le = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);
const ids = le(batch.inputIds);
const mask = le(batch.attentionMask);
const out = le(logits);
const idsJson = Array.from(batch.inputIds, Number);
const maskJson = Array.from(batch.attentionMask, Number);
const round = (x: number) => Math.fround(x);

const TRITON_HEADERS = { "content-type": "application/json" };
const fixtures: Record<string, unknown> = {
  "server-metadata": {
    request: { method: "GET", path: "/v2" },
    response: {
      status: 200,
      headers: TRITON_HEADERS,
      body: {
        name: "triton",
        version: "2.54.0",
        extensions: [
          "classification",
          "sequence",
          "model_repository",
          "model_repository(unload_dependents)",
          "schedule_policy",
          "model_configuration",
          "system_shared_memory",
          "cuda_shared_memory",
          "binary_tensor_data",
          "parameters",
          "statistics",
          "trace",
          "logging",
        ],
      },
    },
  },
  "health-ready": {
    note: "Triton answers health and model-ready probes with 200 and an empty body",
    request: { method: "GET", path: "/v2/health/ready" },
    response: { status: 200, headers: { "content-length": "0" }, bodyText: "" },
  },
  "model-ready": {
    request: { method: "GET", path: `/v2/models/${MODEL}/ready` },
    response: { status: 200, headers: { "content-length": "0" }, bodyText: "" },
  },
  "model-metadata": {
    note: "with max_batch_size > 0 Triton reports the batch dimension as -1",
    request: { method: "GET", path: `/v2/models/${MODEL}` },
    response: {
      status: 200,
      headers: TRITON_HEADERS,
      body: {
        name: MODEL,
        versions: ["1"],
        platform: "onnxruntime_onnx",
        inputs: [
          { name: "input_ids", datatype: "INT64", shape: [-1, -1] },
          { name: "attention_mask", datatype: "INT64", shape: [-1, -1] },
        ],
        outputs: [{ name: "logits", datatype: "FP32", shape: [-1, L] }],
      },
    },
  },
  "infer-binary": {
    texts: TEXTS,
    request: {
      method: "POST",
      path: `/v2/models/${MODEL}/infer`,
      headers: { "content-type": "application/octet-stream" },
      jsonHeader: {
        parameters: { binary_data_output: true },
        inputs: [
          {
            name: "input_ids",
            datatype: "INT64",
            shape: [B, S],
            parameters: { binary_data_size: ids.length },
          },
          {
            name: "attention_mask",
            datatype: "INT64",
            shape: [B, S],
            parameters: { binary_data_size: mask.length },
          },
        ],
        outputs: [{ name: "logits", parameters: { binary_data: true } }],
      },
      binaryBase64: Buffer.concat([ids, mask]).toString("base64"),
    },
    response: {
      status: 200,
      headers: { "content-type": "application/octet-stream" },
      headerText: JSON.stringify({
        model_name: MODEL,
        model_version: "1",
        outputs: [
          { name: "logits", datatype: "FP32", shape: [B, L], parameters: { binary_data_size: out.length } },
        ],
      }),
      binaryBase64: out.toString("base64"),
    },
  },
  "infer-json": {
    texts: TEXTS,
    request: {
      method: "POST",
      path: `/v2/models/${MODEL}/infer`,
      headers: { "content-type": "application/json" },
      body: {
        inputs: [
          { name: "input_ids", datatype: "INT64", shape: [B, S], data: idsJson },
          { name: "attention_mask", datatype: "INT64", shape: [B, S], data: maskJson },
        ],
        outputs: [{ name: "logits" }],
      },
    },
    response: {
      status: 200,
      headers: TRITON_HEADERS,
      body: {
        model_name: MODEL,
        model_version: "1",
        outputs: [{ name: "logits", datatype: "FP32", shape: [B, L], data: Array.from(logits, round) }],
      },
    },
  },
  "error-unknown-model": {
    request: { method: "POST", path: "/v2/models/no-such-model/infer" },
    response: {
      status: 404,
      headers: TRITON_HEADERS,
      body: { error: "Request for unknown model: 'no-such-model' is not found" },
    },
  },
  "error-bad-shape": {
    request: { method: "POST", path: `/v2/models/${MODEL}/infer` },
    response: {
      status: 400,
      headers: TRITON_HEADERS,
      body: {
        error: `[request id: <id_unknown>] unexpected shape for input 'input_ids' for model '${MODEL}'. Expected [-1,-1], got [${S}]. NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended to each input shape. If you want to specify the full shape including the batch dim in your input dims config, try setting max_batch_size to zero. See the model configuration docs for more info on max_batch_size.`,
      },
    },
  },
  "error-queue-full": {
    request: { method: "POST", path: `/v2/models/${MODEL}/infer` },
    response: {
      status: 503,
      headers: TRITON_HEADERS,
      body: { error: "Exceeds maximum queue size" },
    },
  },
  "bundle-extension-absent": {
    note: "gpu-service's intentql_bundle extension (/bundle, /labels) does not exist in Triton",
    request: { method: "GET", path: `/v2/models/${MODEL}/bundle` },
    response: { status: 404, headers: TRITON_HEADERS, body: { error: "Not Found" } },
  },
};

for (const [name, fixture] of Object.entries(fixtures)) {
  writeFileSync(join(OUT, `${name}.json`), `${JSON.stringify(fixture, null, 1)}\n`);
}
console.log(`wrote ${Object.keys(fixtures).length} fixtures to ${OUT} (B=${B}, S=${S}, L=${L})`);
