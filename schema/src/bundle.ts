/**
 * The model bundle contract (docs/ARCHITECTURE.md, "The contracts"): what `bundle.json` and `labels.json`
 * hold. Shared by gpu-service (which loads bundles), the CLI (offline scoring) and the edge (which
 * checks that the upstream's vocab and labels match its own). Pure: no I/O here.
 */

import { nameProblem } from "./dataset.ts";

export const BUNDLE_FORMAT = "intentql-bundle/1";
/**
 * The most intents a bundle may classify. An eval run keeps a confusion matrix of labels² counts
 * (one D1 row, read whole by the dashboard), the edge keeps each learnt model's label table per
 * isolate, and `intentql train` fits one output per label: 256 bounds all three (65,536 counts)
 * with room over the largest public intent sets (CLINC150: 150).
 */
export const MAX_LABELS = 256;

export type Variant = "fp32" | "fp16" | "int8";
export const VARIANTS: readonly Variant[] = ["fp32", "fp16", "int8"];

export interface Label {
  id: number;
  name: string;
  scenario: string;
  action: string;
}

export interface TensorSpec {
  name: string;
  datatype: "INT64" | "FP32";
  /** -1 marks a dynamic axis. */
  shape: number[];
}

export interface SplitMetrics {
  n: number;
  accuracy: number;
  f1Macro: number;
}

export interface VariantEntry {
  file: string;
  sha256: string;
  bytes: number;
  test?: SplitMetrics;
  [extra: string]: unknown;
}

export interface OutOfScopeCalibration {
  threshold: number;
  rule: string;
  [extra: string]: unknown;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  name: string;
  version: string;
  task: "intent-classification";
  architecture: Record<string, unknown>;
  maxLength: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  tokenizer: {
    type: "bert-wordpiece";
    lowercase: boolean;
    vocab: string;
    vocabSha256: string;
    vocabSize: number;
    [extra: string]: unknown;
  };
  labels: { file: string; sha256: string; count: number };
  variants: Partial<Record<Variant, VariantEntry>>;
  defaultVariant: { cpu: Variant; cuda: Variant };
  files: { path: string; sha256: string; bytes: number }[];
  metrics: { validation?: SplitMetrics; test?: SplitMetrics; [extra: string]: unknown };
  calibration?: { temperature: number; outOfScope: OutOfScopeCalibration } | null;
  training?: Record<string, unknown>;
  data?: Record<string, unknown>;
}

/** The signature every bundle's ONNX graph must have (the seed's DistilBERT export). */
export const MODEL_INPUTS = ["input_ids", "attention_mask"] as const;
export const MODEL_OUTPUT = "logits";

export class BundleError extends Error {
  constructor(
    readonly bundle: string,
    message: string,
  ) {
    super(`bundle ${bundle}: ${message}`);
    this.name = "BundleError";
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Checks the shape of a parsed bundle.json; throws BundleError naming the first problem. */
export function validateManifest(where: string, raw: unknown): BundleManifest {
  const fail = (message: string): never => {
    throw new BundleError(where, message);
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail("bundle.json is not a JSON object");
  const m = raw as Partial<BundleManifest>;
  if (m.format !== BUNDLE_FORMAT) fail(`format is ${JSON.stringify(m.format)}, expected "${BUNDLE_FORMAT}"`);
  if (typeof m.name !== "string" || !/^[a-z0-9][a-z0-9._-]*$/i.test(m.name))
    fail("name is missing or not a slug");
  if (typeof m.version !== "string" || !/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(m.version))
    fail("version must be 1-64 letters, digits, '.', '+', '_' or '-'");
  if (m.name && m.name.length > 64) fail("name is longer than 64 characters");
  if (!Number.isInteger(m.maxLength) || (m.maxLength as number) < 3) fail("maxLength must be an integer ≥ 3");
  // Every field is checked for its type before it is read: a bundle folder is outside input (a
  // half-copied folder, an older exporter, a hand edit), and a TypeError here once stopped gpu-service
  // from starting at all (session 15's attack pass).
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
  if (!Array.isArray(m.inputs) || !m.inputs.every(isObject)) fail("inputs must be a list of tensors");
  const inputs = (m.inputs ?? []).map((t) => t.name);
  if (inputs.length !== 2 || !MODEL_INPUTS.every((n) => inputs.includes(n)))
    fail(`inputs must be ${MODEL_INPUTS.join(", ")}; got ${inputs.join(", ") || "none"}`);
  for (const t of m.inputs ?? []) if (t.datatype !== "INT64") fail(`input ${t.name} must be INT64`);
  const output = Array.isArray(m.outputs) ? m.outputs[0] : undefined;
  if (
    !Array.isArray(m.outputs) ||
    m.outputs.length !== 1 ||
    !isObject(output) ||
    output.name !== MODEL_OUTPUT ||
    output.datatype !== "FP32"
  )
    fail(`outputs must be exactly one FP32 tensor named "${MODEL_OUTPUT}"`);
  if (!Array.isArray(output?.shape) || output.shape.length !== 2 || !output.shape.every(Number.isInteger))
    fail("the output's shape must be two integers, [-1, labels]");
  const tok = m.tokenizer;
  if (!isObject(tok) || tok.type !== "bert-wordpiece") fail('tokenizer.type must be "bert-wordpiece"');
  if (!SHA256.test(typeof tok?.vocabSha256 === "string" ? tok.vocabSha256 : ""))
    fail("tokenizer.vocabSha256 is not a sha256");
  if (!Number.isInteger(tok?.vocabSize) || (tok?.vocabSize as number) < 5)
    fail("tokenizer.vocabSize must be an integer ≥ 5 (the special tokens and more)");
  if (
    !isObject(m.labels) ||
    typeof m.labels.sha256 !== "string" ||
    !SHA256.test(m.labels.sha256) ||
    !Number.isInteger(m.labels.count) ||
    m.labels.count < 2
  )
    fail("labels must name a file, its sha256 and a count ≥ 2");
  if ((m.labels?.count ?? 0) > MAX_LABELS)
    fail(`it has ${m.labels?.count} labels; a bundle may have at most ${MAX_LABELS}`);
  if (output && output.shape[1] !== m.labels?.count)
    fail(`logits have ${output.shape[1]} columns but labels.count is ${m.labels?.count}`);
  if (!isObject(m.variants)) fail("no variants");
  const variants = Object.keys(m.variants ?? {});
  if (variants.length === 0) fail("no variants");
  for (const v of variants) {
    if (!(VARIANTS as readonly string[]).includes(v)) fail(`unknown variant "${v}"`);
    const entry = m.variants?.[v as Variant];
    if (
      !isObject(entry) ||
      typeof entry.file !== "string" ||
      typeof entry.sha256 !== "string" ||
      !SHA256.test(entry.sha256)
    )
      fail(`variant ${v} needs a file and its sha256`);
  }
  for (const provider of ["cpu", "cuda"] as const) {
    const chosen = isObject(m.defaultVariant) ? m.defaultVariant[provider] : undefined;
    if (typeof chosen !== "string" || !variants.includes(chosen))
      fail(`defaultVariant.${provider} must name one of its variants (${variants.join(", ")})`);
  }
  // calibration is optional (null: the edge's own); when present, both numbers are what they say
  if (m.calibration !== undefined && m.calibration !== null) {
    const c = m.calibration as unknown as Record<string, unknown>;
    const threshold = isObject(c.outOfScope) ? c.outOfScope.threshold : undefined;
    if (typeof c.temperature !== "number" || !(c.temperature > 0) || !Number.isFinite(c.temperature))
      fail("calibration.temperature must be a positive number");
    if (typeof threshold !== "number" || !(threshold >= 0 && threshold <= 1))
      fail("calibration.outOfScope.threshold must be a number in [0, 1]");
  }
  if (!Array.isArray(m.files) || m.files.length === 0) fail("files list is missing");
  for (const f of m.files ?? []) {
    if (!isObject(f)) fail("files list holds something that is not a file entry");
    if (typeof f.path !== "string" || f.path.includes("/") || f.path.includes("\\") || f.path.startsWith("."))
      fail(`file path ${JSON.stringify(f.path)} must be a plain name inside the bundle folder`);
    if (typeof f.sha256 !== "string" || !SHA256.test(f.sha256)) fail(`file ${f.path} has no sha256`);
  }
  return m as BundleManifest;
}

/** Checks labels.json against the manifest: ids 0…n-1 in logit order, unique names. */
export function validateLabels(where: string, raw: unknown, count: number): Label[] {
  const fail = (message: string): never => {
    throw new BundleError(where, message);
  };
  if (!Array.isArray(raw)) fail("labels.json is not an array");
  const labels = raw as Label[];
  if (labels.length !== count) fail(`labels.json has ${labels.length} labels, bundle.json says ${count}`);
  const seen = new Set<string>();
  labels.forEach((l, i) => {
    if (l?.id !== i) fail(`label at index ${i} has id ${l?.id}; ids must be 0…${count - 1} in logit order`);
    if (typeof l.name !== "string" || l.name === "") fail(`label ${i} has no name`);
    for (const field of ["name", "scenario", "action"] as const) {
      const value = l[field];
      if (field !== "name" && value !== undefined && typeof value !== "string")
        fail(`label ${i}'s ${field} is not text`);
      const problem = typeof value === "string" ? nameProblem(`label ${i}'s ${field}`, value) : undefined;
      if (problem) fail(problem);
    }
    if (seen.has(l.name)) fail(`label name "${l.name}" appears twice`);
    seen.add(l.name);
  });
  return labels;
}
