/**
 * Accuracy of the model a running V2 server (gpu-service or Triton) serves, on a labelled JSONL split:
 * tokenizes with the edge's WordPiece tokenizer and the bundle's vocab, sends binary V2 requests of
 * 64 texts, scores with the edge's eval metrics. Shared by the GPU-host bench
 * (bench/gpu-service-accuracy.ts) and the go-live smoke test (gpu-service/tools/smoke-test.ts).
 */
import { readFileSync } from "node:fs";
import { computeMetrics, type Prediction } from "@intentql/eval-metrics";
import {
  decodeMessage,
  encodeBinaryMessage,
  HEADER_LENGTH,
  type InferRequestHeader,
  type InferResponseHeader,
  typedBytes,
} from "@intentql/schema";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";

export interface ServedAccuracyOptions {
  url: string;
  model: string;
  /** Bearer token; undefined sends none. */
  token?: string;
  /** JSONL with `utt`+`intent` (MASSIVE) or `text`+`label_text`. */
  dataFile: string;
  vocabFile: string;
  labels: readonly string[];
  maxLength?: number;
}

export interface ServedAccuracy {
  n: number;
  accuracy: number;
  f1Macro: number;
  seconds: number;
}

const CHUNK = 64;

export function readLabelled(file: string): { text: string; label: string }[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, string>)
    .map((r) => ({ text: r.utt ?? r.text ?? "", label: r.intent ?? r.label_text ?? "" }));
}

export async function measureServedAccuracy(opts: ServedAccuracyOptions): Promise<ServedAccuracy> {
  const tokenizer = new BertWordPieceTokenizer(parseVocabTxt(readFileSync(opts.vocabFile, "utf8")));
  const rows = readLabelled(opts.dataFile);
  const labelIndex = new Map(opts.labels.map((name, i) => [name, i]));
  const width = opts.labels.length;
  const auth: Record<string, string> =
    opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` };
  const predictions: Prediction[] = [];
  const started = performance.now();
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const batch = tokenizer.encodeBatch(
      chunk.map((r) => r.text),
      opts.maxLength ?? 128,
    );
    const shape = [batch.batchSize, batch.seqLength];
    const { body, headerLength } = encodeBinaryMessage<InferRequestHeader>(
      { parameters: { binary_data_output: true } },
      "inputs",
      [
        { name: "input_ids", datatype: "INT64", shape, bytes: typedBytes(batch.inputIds) },
        { name: "attention_mask", datatype: "INT64", shape, bytes: typedBytes(batch.attentionMask) },
      ],
    );
    const res = await fetch(`${opts.url}/v2/models/${encodeURIComponent(opts.model)}/infer`, {
      method: "POST",
      body: body.slice(),
      headers: { [HEADER_LENGTH]: String(headerLength), ...auth },
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`infer: HTTP ${res.status}: ${new TextDecoder().decode(bytes)}`);
    const decoded = decodeMessage<InferResponseHeader>(
      bytes,
      Number(res.headers.get(HEADER_LENGTH)),
      "outputs",
    );
    const logits = new Float32Array(decoded.tensors[0]!.raw!.slice().buffer);
    if (logits.length !== chunk.length * width)
      throw new Error(`infer: ${logits.length} logits for ${chunk.length} texts × ${width} labels`);
    chunk.forEach((r, k) => {
      let best = 0;
      for (let j = 1; j < width; j++) if (logits[k * width + j]! > logits[k * width + best]!) best = j;
      predictions.push({ gold: labelIndex.get(r.label) ?? -1, predicted: best, score: 0 });
    });
  }
  const { n, accuracy, f1Macro } = computeMetrics(
    predictions,
    opts.labels.map((name) => ({ name, scenario: name.split("_")[0]! })),
  );
  return { n, accuracy, f1Macro, seconds: (performance.now() - started) / 1000 };
}
