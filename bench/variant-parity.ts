/**
 * Parity of a bundle's variants against its fp32 model on one execution provider: argmax agreement,
 * max |Δlogit| and test metrics per variant, one JSON line each. Run on the GPU host for the fp16
 * variant (its fused Attention op has no CPU kernel). Bundled to dist/variant-parity.mjs.
 * `--against OTHER` also compares each variant with the same variant of another bundle of the same
 * vocab and labels (max |Δlogit|, bit-identical or not): how a rewrite that must not change any
 * output, such as training/compact_bundle.py, is checked.
 *
 *   node dist/variant-parity.mjs --bundle models/massive-scratch --data test.jsonl --provider cuda
 *   node --import tsx bench/variant-parity.ts --bundle NEW --against OLD --data test.jsonl --provider cpu
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { computeMetrics } from "@intentql/eval-metrics";
import { parseDatasetJsonl } from "@intentql/schema";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import type * as Ort from "onnxruntime-node";

const ort = createRequire(import.meta.url)("onnxruntime-node") as typeof Ort;

const { values } = parseArgs({
  options: {
    bundle: { type: "string", default: "models/massive-scratch" },
    data: { type: "string" },
    provider: { type: "string", default: "cuda" },
    variants: { type: "string", default: "fp16,int8" },
    against: { type: "string" },
  },
});
const manifest = JSON.parse(readFileSync(join(values.bundle!, "bundle.json"), "utf8"));
const labels = JSON.parse(readFileSync(join(values.bundle!, "labels.json"), "utf8")) as {
  name: string;
  scenario: string;
}[];
const tokenizer = new BertWordPieceTokenizer(
  parseVocabTxt(readFileSync(join(values.bundle!, "vocab.txt"), "utf8")),
);
const { rows } = parseDatasetJsonl(readFileSync(values.data!, "utf8"));
const index = new Map(labels.map((l, i) => [l.name, i]));
const width = labels.length;

async function logitsOf(variant: string, bundle = values.bundle!): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(bundle, manifest.variants[variant].file), {
    executionProviders: [values.provider!],
  });
  const out = new Float32Array(rows.length * width);
  for (let start = 0; start < rows.length; start += 64) {
    const chunk = rows.slice(start, start + 64);
    const b = tokenizer.encodeBatch(
      chunk.map((r) => r.text),
      manifest.maxLength,
    );
    const dims = [b.batchSize, b.seqLength];
    const res = await session.run({
      input_ids: new ort.Tensor("int64", b.inputIds, dims),
      attention_mask: new ort.Tensor("int64", b.attentionMask, dims),
    });
    out.set(res.logits!.data as Float32Array, start * width);
  }
  return out;
}

const argmax = (l: Float32Array, r: number) => {
  let best = 0;
  for (let j = 1; j < width; j++) if (l[r * width + j]! > l[r * width + best]!) best = j;
  return best;
};

const reference = await logitsOf("fp32");
for (const variant of ["fp32", ...values.variants!.split(",")]) {
  const logits = variant === "fp32" ? reference : await logitsOf(variant);
  let agree = 0;
  let maxDelta = 0;
  const predictions = rows.map((row, r) => {
    const p = argmax(logits, r);
    if (p === argmax(reference, r)) agree++;
    for (let j = 0; j < width; j++)
      maxDelta = Math.max(maxDelta, Math.abs(logits[r * width + j]! - reference[r * width + j]!));
    return { gold: index.get(row.label)!, predicted: p, score: 0 };
  });
  const m = computeMetrics(predictions, labels);
  let against: Record<string, unknown> = {};
  if (values.against) {
    const other = await logitsOf(variant, values.against);
    let delta = 0;
    let same = 0;
    for (let i = 0; i < other.length; i++) {
      delta = Math.max(delta, Math.abs(other[i]! - logits[i]!));
      if (Object.is(other[i], logits[i])) same++;
    }
    against = {
      against: values.against,
      maxAbsLogitDeltaVsAgainst: delta,
      bitIdentical: same === other.length,
    };
  }
  process.stdout.write(
    `${JSON.stringify({
      step: "parity",
      variant,
      provider: values.provider,
      fused: manifest.variants[variant].fusedOperators ?? null,
      argmaxAgreementWithFp32: agree / rows.length,
      maxAbsLogitDeltaVsFp32: maxDelta,
      n: m.n,
      accuracy: m.accuracy,
      f1Macro: m.f1Macro,
      ...against,
    })}\n`,
  );
}
