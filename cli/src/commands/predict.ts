import { readFile, writeFile } from "node:fs/promises";
import { bootstrapMetrics, computeMetrics, type Prediction } from "@intentql/eval-metrics";
import { checkSessionSignature, loadBundle } from "@intentql/gpu-service";
import {
  calibratedProbabilities,
  parseDatasetJsonl,
  topIndices,
  VARIANTS,
  type Variant,
} from "@intentql/schema";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import { UsageError } from "../args.ts";
import { defineCommand } from "../command.ts";
import { ProgressBar } from "../progress.ts";
import { ALL_SPLITS, DEFAULT_SPLIT, splitFilter } from "../split.ts";
import { mulberry32 } from "../train/random.ts";

/**
 * `intentql predict --bundle DIR --data FILE [--variant fp32|fp16|int8] [--split S] [--batch-size N] [--report F]
 *   [--bootstrap N]`
 * Offline scoring with ONNX Runtime on this machine's CPU: no servers. Progress on stderr; the last
 * stdout line is JSON {"n","accuracy","f1Macro",…}; --report writes every metric (per intent, per
 * scenario, confusion matrix, calibration error) as JSON. The split is chosen as `intentql eval`
 * chooses it (split.ts), so that both score the same rows. --bootstrap N adds how precise accuracy
 * and F1-macro are (eval-metrics bootstrapMetrics, N resamples of the texts, seed 14) to both.
 */
export const command = defineCommand(
  {
    name: "predict",
    summary:
      "offline accuracy/F1 of a model bundle on a labelled JSONL file (ONNX Runtime on CPU, no servers)",
    description: [
      'Progress on stderr; the last stdout line is JSON {"n","accuracy","f1Macro","bundle","variant",',
      '"textsPerSecond"}, with "bootstrap" {"resamples","accuracy","f1Macro"} (standardError, interval95)',
      "when --bootstrap is given (~1 s per 1,000 resamples of 3,000 texts).",
    ],
    flags: [
      {
        name: "bundle",
        value: "DIR",
        description: "model bundle directory (bundle.json, ONNX variants, vocab.txt)",
        required: "a model bundle directory, e.g. models/massive-scratch",
      },
      {
        name: "data",
        value: "FILE",
        description:
          'labelled JSONL: MASSIVE official rows {"utt","intent","partition"} or {"text","label_text"}',
        required: "a JSONL file, e.g. data/massive-en/test.jsonl",
      },
      {
        name: "variant",
        value: "V",
        description: "the ONNX variant to run",
        default: "fp32",
        choices: VARIANTS,
      },
      {
        name: "split",
        value: "S",
        description: `the partition to score in files with a "partition" field: train, dev (or validation), test, or ${ALL_SPLITS}; files without one are scored whole`,
        default: DEFAULT_SPLIT,
      },
      {
        name: "batch-size",
        value: "N",
        description: "texts per ONNX Runtime call",
        default: "256",
        integer: { min: 1 },
      },
      {
        name: "threads",
        value: "N",
        description: "ONNX Runtime intra-op threads (0: its own choice)",
        default: "0",
        integer: { min: 0 },
      },
      {
        name: "bootstrap",
        value: "N",
        description:
          "also give accuracy's and F1-macro's standard error and 95% interval over N resamples of the texts (seed 14)",
        default: "0",
        integer: { min: 0, max: 10000 },
      },
      {
        name: "report",
        value: "FILE",
        description:
          "also write every metric (per intent and scenario, confusion matrix, calibration) as JSON",
        defaultText: "none",
      },
    ],
  },
  async (args) => {
    const bundleDir = args.required("bundle");
    const dataPath = args.required("data");
    const variant = args.required("variant") as Variant;
    const batchSize = args.integer("batch-size");
    const threads = args.integer("threads");
    const split = splitFilter(args.required("split"));
    const resamples = args.integer("bootstrap");
    if (resamples === 1) throw new UsageError("--bootstrap needs at least 2 resamples (0: off)");

    const bundle = await loadBundle(bundleDir);
    let text: string;
    try {
      text = await readFile(dataPath, "utf8");
    } catch (error) {
      throw new Error(`cannot read --data ${dataPath}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    const { rows, errors } = parseDatasetJsonl(text, split === undefined ? {} : { split });
    if (errors.length > 0) {
      const shown = errors.slice(0, 10).map((e) => `  line ${e.line}: ${e.message}`);
      throw new Error(`${dataPath}: ${errors.length} bad rows\n${shown.join("\n")}`);
    }
    if (rows.length === 0) {
      const { rows: all } = parseDatasetJsonl(text);
      const partitions = [...new Set(all.flatMap((r) => (r.split === undefined ? [] : [r.split])))].sort();
      if (split === undefined || partitions.length === 0) throw new Error(`${dataPath}: no rows`);
      throw new Error(
        `${dataPath}: no rows in partition "${split}"${args.has("split") ? "" : " (--split's default)"}; its partitions are ${partitions.join(", ")}: choose one with --split, or --split ${ALL_SPLITS} for every row`,
      );
    }
    if (split !== undefined && rows.some((r) => r.split !== undefined)) {
      process.stderr.write(
        `intentql predict: scoring partition "${split}" of ${dataPath} (${rows.length} row${rows.length === 1 ? "" : "s"}; --split ${ALL_SPLITS} for every partition)\n`,
      );
    }
    const ort = await import("onnxruntime-node");
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
        const probabilities = calibratedProbabilities(
          logits.subarray(b * numLabels, (b + 1) * numLabels),
          temperature,
        );
        const [best] = topIndices(probabilities, 1);
        predictions[rowIndex] = {
          gold: labelIndex.get(rows[rowIndex]!.label)!,
          predicted: best!,
          score: probabilities[best!]!,
        };
      });
      progress.update(Math.min(order.length, start + batchSize));
    }
    progress.finish(rows.length);
    const seconds = (performance.now() - started) / 1000;
    const metrics = computeMetrics(predictions, bundle.labels);
    const bootstrap =
      resamples > 0 ? { bootstrap: bootstrapMetrics(metrics.confusion, mulberry32(14), resamples) } : {};
    const report = args.string("report");
    if (report) await writeFile(report, `${JSON.stringify({ ...metrics, ...bootstrap }, null, 1)}\n`);
    process.stdout.write(
      `${JSON.stringify({
        n: metrics.n,
        accuracy: metrics.accuracy,
        f1Macro: metrics.f1Macro,
        bundle: bundle.manifest.name,
        variant,
        textsPerSecond: Math.round(rows.length / seconds),
        ...bootstrap,
      })}\n`,
    );
    return 0;
  },
);
