/**
 * The trained bag model as an ONNX graph with the bundle signature every IntentQL model has
 * (`input_ids`, `attention_mask` INT64 [B,S] → `logits` FP32 [B,labels]), computing features.ts's
 * features from the ids:
 *
 *   u      = remap[input_ids]                                      unigram rows
 *   b      = rows + (u[:, :-1] · PRIME + u[:, 1:]) mod buckets     bigram rows
 *   h      = (Σ mask·E[u] + Σ mask_b·E[b]) / max(1, Σ mask + Σ mask_b)
 *   logits = h · W + bias
 *
 * Variants: fp32; fp16 (the weights stored as float16, cast to float32 where they are used); int8
 * (the embedding table, nearly all the weights, stored as int8 with a scale per row and dequantised
 * by the graph; the rest float32). All three compute in float32.
 */
import type { Variant } from "@intentql/schema";
import type { BagModel } from "./bag-model.ts";
import { BIGRAM_PRIME, type FeatureSpace } from "./features.ts";
import { DataType, encodeModel, type Node, rawBytes, type Tensor, toFloat16Bits } from "./onnx-writer.ts";

const int64 = (name: string, dims: number[], values: readonly (number | bigint)[]): Tensor => ({
  name,
  dataType: DataType.INT64,
  dims,
  raw: rawBytes(BigInt64Array.from(values, (v) => BigInt(v))),
});
const float32 = (name: string, dims: number[], values: Float32Array): Tensor => ({
  name,
  dataType: DataType.FLOAT,
  dims,
  raw: rawBytes(values),
});
const float16 = (name: string, dims: number[], values: Float32Array): Tensor => ({
  name,
  dataType: DataType.FLOAT16,
  dims,
  raw: rawBytes(Uint16Array.from(values, toFloat16Bits)),
});

/** Symmetric int8 per row: value ≈ q · scale[row], q in [−127, 127]. */
export function quantiseRows(
  values: Float32Array,
  rows: number,
  dim: number,
): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(values.length);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let d = 0; d < dim; d++) max = Math.max(max, Math.abs(values[r * dim + d]!));
    const s = max > 0 ? max / 127 : 1;
    scale[r] = s;
    for (let d = 0; d < dim; d++) q[r * dim + d] = Math.round(values[r * dim + d]! / s);
  }
  return { q, scale };
}

/** The weights as a variant holds them, dequantised back to float32 (what its graph computes with). */
export function variantWeights(model: BagModel, variant: Variant): BagModel {
  if (variant === "fp32") return model;
  if (variant === "fp16") {
    const round = (a: Float32Array) => Float32Array.from(a, (v) => halfToFloat(toFloat16Bits(v)));
    return {
      ...model,
      embeddings: round(model.embeddings),
      weights: round(model.weights),
      bias: round(model.bias),
    };
  }
  const { q, scale } = quantiseRows(model.embeddings, model.rows, model.dim);
  const embeddings = Float32Array.from(q, (v, i) => v * scale[Math.floor(i / model.dim)]!);
  return { ...model, embeddings };
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024);
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

export function exportBagModel(
  model: BagModel,
  space: FeatureSpace,
  variant: Variant,
  name: string,
): Uint8Array<ArrayBuffer> {
  const { rows, dim, labels } = model;
  const initializers: Tensor[] = [
    int64("remap", [space.remap.length], Array.from(space.remap)),
    int64("prime", [], [BIGRAM_PRIME]),
    int64("buckets", [], [space.bigramBuckets]),
    int64("unigram_rows", [], [space.unigramRows]),
    int64("axis1", [1], [1]),
    int64("axis2", [1], [2]),
    int64("zero", [1], [0]),
    int64("one", [1], [1]),
    int64("minus_one", [1], [-1]),
    int64("end", [1], [Number.MAX_SAFE_INTEGER]),
    float32("one_f", [], Float32Array.of(1)),
  ];
  const nodes: Node[] = [];
  const n = (op: string, inputs: string[], output: string, attributes?: Node["attributes"]) =>
    nodes.push({ op, inputs, outputs: [output], ...(attributes ? { attributes } : {}) });

  // The weights, as float32 tensors named E, W and bias whatever the variant stores.
  if (variant === "fp32") {
    initializers.push(
      float32("E", [rows, dim], model.embeddings),
      float32("W", [dim, labels], model.weights),
      float32("bias", [labels], model.bias),
    );
  } else if (variant === "fp16") {
    initializers.push(
      float16("E16", [rows, dim], model.embeddings),
      float16("W16", [dim, labels], model.weights),
      float16("bias16", [labels], model.bias),
    );
    n("Cast", ["E16"], "E", [{ name: "to", int: DataType.FLOAT }]);
    n("Cast", ["W16"], "W", [{ name: "to", int: DataType.FLOAT }]);
    n("Cast", ["bias16"], "bias", [{ name: "to", int: DataType.FLOAT }]);
  } else {
    const { q, scale } = quantiseRows(model.embeddings, rows, dim);
    initializers.push(
      { name: "E8", dataType: DataType.INT8, dims: [rows, dim], raw: rawBytes(q) },
      float32("E_scale", [rows], scale),
      { name: "E_zero", dataType: DataType.INT8, dims: [rows], raw: new Uint8Array(rows) },
      float32("W", [dim, labels], model.weights),
      float32("bias", [labels], model.bias),
    );
    n("DequantizeLinear", ["E8", "E_scale", "E_zero"], "E", [{ name: "axis", int: 0 }]);
  }

  n("Gather", ["remap", "input_ids"], "u");
  n("Cast", ["attention_mask"], "mask", [{ name: "to", int: DataType.FLOAT }]);
  // Bigrams of neighbouring positions; a bigram counts where both of its pieces are real tokens.
  n("Slice", ["u", "zero", "minus_one", "axis1"], "u_left");
  n("Slice", ["u", "one", "end", "axis1"], "u_right");
  n("Mul", ["u_left", "prime"], "u_left_p");
  n("Add", ["u_left_p", "u_right"], "pair");
  n("Mod", ["pair", "buckets"], "bucket");
  n("Add", ["bucket", "unigram_rows"], "b");
  n("Slice", ["mask", "zero", "minus_one", "axis1"], "mask_left");
  n("Slice", ["mask", "one", "end", "axis1"], "mask_right");
  n("Mul", ["mask_left", "mask_right"], "mask_b");
  for (const [ids, m, prefix] of [
    ["u", "mask", "uni"],
    ["b", "mask_b", "bi"],
  ] as const) {
    n("Gather", ["E", ids], `${prefix}_e`);
    n("Unsqueeze", [m, "axis2"], `${prefix}_m3`);
    n("Mul", [`${prefix}_e`, `${prefix}_m3`], `${prefix}_em`);
    n("ReduceSum", [`${prefix}_em`, "axis1"], `${prefix}_sum`, [{ name: "keepdims", int: 0 }]);
    n("ReduceSum", [m, "axis1"], `${prefix}_count`, [{ name: "keepdims", int: 1 }]);
  }
  n("Add", ["uni_sum", "bi_sum"], "sum");
  n("Add", ["uni_count", "bi_count"], "count_raw");
  n("Max", ["count_raw", "one_f"], "count");
  n("Div", ["sum", "count"], "h");
  n("MatMul", ["h", "W"], "hw");
  n("Add", ["hw", "bias"], "logits");

  return encodeModel({
    name,
    nodes,
    initializers,
    inputs: [
      { name: "input_ids", dataType: DataType.INT64, shape: ["batch", "sequence"] },
      { name: "attention_mask", dataType: DataType.INT64, shape: ["batch", "sequence"] },
    ],
    outputs: [{ name: "logits", dataType: DataType.FLOAT, shape: ["batch", labels] }],
  });
}
