/**
 * Test accuracy of a bundle served by a running gpu-service: reads MASSIVE JSONL (`utt`+`intent`
 * or `text`+`label_text`), tokenizes with the edge's WordPiece tokenizer and the served bundle's
 * vocab (fetched from the service, sha256 checked by the bundle loader), sends binary V2 requests
 * of 64 texts, prints one JSON line. Bundled to dist/gpu-accuracy.mjs for the GPU host.
 *
 *   node dist/gpu-accuracy.mjs --url http://127.0.0.1:8501 --data .device/data/test.jsonl --vocab models/massive-scratch/vocab.txt
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { computeMetrics, type Prediction } from "../edge/src/eval/metrics.ts";
import { BertWordPieceTokenizer, parseVocabTxt } from "../edge/src/tokenizer/index.ts";
import {
  decodeMessage,
  encodeBinaryMessage,
  HEADER_LENGTH,
  type InferRequestHeader,
  type InferResponseHeader,
  typedBytes,
} from "../schema/src/v2.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: "string", default: "http://127.0.0.1:8501" },
      data: { type: "string", default: ".device/data/test.jsonl" },
      vocab: { type: "string", default: "models/massive-scratch/vocab.txt" },
      label: { type: "string", default: "accuracy" },
    },
  });
  const list = (await (await fetch(`${values.url}/v2/models`)).json()) as { models: { name: string }[] };
  const model = list.models[0]!.name;
  const meta = (await (await fetch(`${values.url}/v2/models/${model}`)).json()) as {
    parameters: Record<string, unknown>;
  };
  const labels = (await (await fetch(`${values.url}/v2/models/${model}/labels`)).json()) as {
    name: string;
  }[];
  const tokenizer = new BertWordPieceTokenizer(parseVocabTxt(readFileSync(values.vocab!, "utf8")));
  const rows = readFileSync(values.data!, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, string>)
    .map((r) => ({ text: r.utt ?? r.text ?? "", label: r.intent ?? r.label_text ?? "" }));
  const labelIndex = new Map(labels.map((l, i) => [l.name, i]));
  const predictions: Prediction[] = [];
  const started = performance.now();
  for (let i = 0; i < rows.length; i += 64) {
    const chunk = rows.slice(i, i + 64);
    const batch = tokenizer.encodeBatch(
      chunk.map((r) => r.text),
      128,
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
    const res = await fetch(`${values.url}/v2/models/${model}/infer`, {
      method: "POST",
      body: body.slice(),
      headers: { [HEADER_LENGTH]: String(headerLength) },
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${new TextDecoder().decode(bytes)}`);
    const decoded = decodeMessage<InferResponseHeader>(
      bytes,
      Number(res.headers.get(HEADER_LENGTH)),
      "outputs",
    );
    const logits = new Float32Array(decoded.tensors[0]!.raw!.slice().buffer);
    const width = labels.length;
    chunk.forEach((r, k) => {
      let best = 0;
      for (let j = 1; j < width; j++) if (logits[k * width + j]! > logits[k * width + best]!) best = j;
      predictions.push({ gold: labelIndex.get(r.label) ?? -1, predicted: best, score: 0 });
    });
  }
  process.stdout.write(
    `${JSON.stringify({
      step: values.label,
      model,
      provider: meta.parameters.provider,
      variant: meta.parameters.variant,
      ...(({ n, accuracy, f1Macro }) => ({ n, accuracy, f1Macro }))(
        computeMetrics(
          predictions,
          labels.map((l) => ({ name: l.name, scenario: l.name.split("_")[0]! })),
        ),
      ),
      seconds: (performance.now() - started) / 1000,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stdout.write(`${JSON.stringify({ step: "accuracy", error: String(error) })}\n`);
  process.exit(1);
});
