import { readFile, writeFile } from "node:fs/promises";
import * as ort from "onnxruntime-node";
import { parseDatasetJsonl } from "../../../edge/src/eval/dataset-format.ts";
import { computeMetrics, type Prediction } from "../../../edge/src/eval/metrics.ts";
import { BertWordPieceTokenizer, parseVocabTxt } from "../../../edge/src/tokenizer/index.ts";
import { checkSessionSignature, loadBundle } from "../../../gpu-service/src/bundle/load-bundle.ts";
import type { Variant } from "../../../schema/src/bundle.ts";
import { intFlag, parseArgs, rejectUnknownFlags, requireFlag, UsageError } from "../args.ts";
import { ProgressBar } from "../progress.ts";

/**
 * `intentql predict --bundle DIR --data FILE [--variant fp32|fp16|int8] [--split S] [--batch-size N] [--report F]`
 * Offline scoring with ONNX Runtime on this machine's CPU: no servers. Progress on stderr; the last
 * stdout line is JSON {"n","accuracy","f1Macro",…}; --report writes every metric (per intent, per
 * scenario, confusion matrix, calibration error) as JSON.
 */
export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  rejectUnknownFlags(args, ["bundle", "data", "variant", "split", "batch-size", "threads", "report"]);
  const bundleDir = requireFlag(args, "bundle");
  const dataPath = requireFlag(args, "data");
  const variant = (args.flags.get("variant") ?? "fp32") as Variant;
  if (!["fp32", "fp16", "int8"].includes(variant))
    throw new UsageError(`--variant must be fp32, fp16 or int8`);
  const batchSize = intFlag(args, "batch-size", 256);
  const threads = intFlag(args, "threads", 0, 0);

  const bundle = await loadBundle(bundleDir);
  let text: string;
  try {
    text = await readFile(dataPath, "utf8");
  } catch (error) {
    throw new Error(`cannot read --data ${dataPath}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  const split = args.flags.get("split");
  const { rows, errors } = parseDatasetJsonl(text, split === undefined ? {} : { split });
  if (errors.length > 0) {
    const shown = errors.slice(0, 10).map((e) => `  line ${e.line}: ${e.message}`);
    throw new Error(`${dataPath}: ${errors.length} bad rows\n${shown.join("\n")}`);
  }
  if (rows.length === 0) throw new Error(`${dataPath}: no rows${split ? ` in split "${split}"` : ""}`);
  const labelIndex = new Map(bundle.labels.map((l) => [l.name, l.id]));
  const unknown = [...new Set(rows.filter((r) => !labelIndex.has(r.label)).map((r) => r.label))];
  if (unknown.length > 0)
    throw new Error(
      `${unknown.length} label(s) in ${dataPath} are not in bundle ${bundle.manifest.name}: ${unknown.slice(0, 10).join(", ")}`,
    );

  const tokenizer = new BertWordPieceTokenizer(parseVocabTxt(bundle.vocabText));
  const session = await ort.InferenceSession.create(bundle.modelPath(variant), {
    executionProviders: ["cpu"],
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
  });
  checkSessionSignature(bundleDir, session);

  // Sorted by length so that each batch pads only to its own longest text.
  const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.text.length - rows[b]!.text.length);
  const numLabels = bundle.labels.length;
  const temperature = bundle.manifest.calibration?.temperature ?? 1;
  const predictions: Prediction[] = new Array(rows.length);
  const progress = new ProgressBar(`predict ${bundle.manifest.name}/${variant}`, rows.length);
  const started = performance.now();
  for (let start = 0; start < order.length; start += batchSize) {
    const idx = order.slice(start, start + batchSize);
    const batch = tokenizer.encodeBatch(
      idx.map((i) => rows[i]!.text),
      bundle.manifest.maxLength,
    );
    const dims = [batch.batchSize, batch.seqLength];
    const out = await session.run({
      input_ids: new ort.Tensor("int64", batch.inputIds, dims),
      attention_mask: new ort.Tensor("int64", batch.attentionMask, dims),
    });
    const logits = out.logits!.data as Float32Array;
    idx.forEach((rowIndex, b) => {
      const { best, score } = argmaxWithProbability(logits, b * numLabels, numLabels, temperature);
      predictions[rowIndex] = { gold: labelIndex.get(rows[rowIndex]!.label)!, predicted: best, score };
    });
    progress.update(Math.min(order.length, start + batchSize));
  }
  progress.finish(rows.length);
  const seconds = (performance.now() - started) / 1000;
  const metrics = computeMetrics(predictions, bundle.labels);
  const report = args.flags.get("report");
  if (report) await writeFile(report, `${JSON.stringify(metrics, null, 1)}\n`);
  process.stdout.write(
    `${JSON.stringify({
      n: metrics.n,
      accuracy: metrics.accuracy,
      f1Macro: metrics.f1Macro,
      bundle: bundle.manifest.name,
      variant,
      textsPerSecond: Math.round(rows.length / seconds),
    })}\n`,
  );
  return 0;
}

/** Index of the top logit and its softmax(logits / T) probability. */
function argmaxWithProbability(
  logits: Float32Array,
  offset: number,
  n: number,
  temperature: number,
): { best: number; score: number } {
  let best = 0;
  for (let j = 1; j < n; j++) if (logits[offset + j]! > logits[offset + best]!) best = j;
  const top = logits[offset + best]! / temperature;
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp(logits[offset + j]! / temperature - top);
  return { best, score: 1 / sum };
}
