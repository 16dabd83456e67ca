/**
 * The custom-intent classifier: the mean of the feature rows' embeddings, then a linear layer
 * (fastText's supervised model). Trained here, in TypeScript, with plain SGD on softmax cross-entropy
 * and a learning rate that decays linearly to zero, example by example in a seeded order: the same
 * data and seed give the same weights.
 */
import { mulberry32 } from "./random.ts";

export interface BagModel {
  /** [rows, dim] row-major; row 0 (unseen pieces) is never updated and stays zero. */
  embeddings: Float32Array;
  /** [dim, labels] row-major (h · W). */
  weights: Float32Array;
  bias: Float32Array;
  rows: number;
  dim: number;
  labels: number;
}

export interface TrainOptions {
  dim: number;
  epochs: number;
  learningRate: number;
  /** Label smoothing ε: the target is (1 − ε) on the gold label and ε spread over all labels. */
  labelSmoothing: number;
  seed: number;
  /** Called after each epoch with the mean training loss. */
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface Example {
  rows: number[];
  label: number;
}

export function createModel(rows: number, dim: number, labels: number, seed: number): BagModel {
  const random = mulberry32(seed);
  const embeddings = new Float32Array(rows * dim);
  for (let i = dim; i < embeddings.length; i++) embeddings[i] = (random() * 2 - 1) / dim;
  return {
    embeddings,
    weights: new Float32Array(dim * labels),
    bias: new Float32Array(labels),
    rows,
    dim,
    labels,
  };
}

/** The hidden vector of one example: the mean of its rows' embeddings. */
function hidden(model: BagModel, rows: readonly number[], out: Float32Array): void {
  out.fill(0);
  const { dim, embeddings } = model;
  for (const r of rows) for (let d = 0; d < dim; d++) out[d]! += embeddings[r * dim + d]!;
  const scale = rows.length > 0 ? 1 / rows.length : 0;
  for (let d = 0; d < dim; d++) out[d]! *= scale;
}

/** Logits of one example. */
export function logits(model: BagModel, rows: readonly number[]): Float32Array {
  const h = new Float32Array(model.dim);
  hidden(model, rows, h);
  const z = new Float32Array(model.labels);
  project(model, h, z);
  return z;
}

function project(model: BagModel, h: Float32Array, z: Float32Array): void {
  const { dim, labels, weights, bias } = model;
  z.set(bias);
  for (let d = 0; d < dim; d++) {
    const hd = h[d]!;
    if (hd === 0) continue;
    for (let l = 0; l < labels; l++) z[l]! += hd * weights[d * labels + l]!;
  }
}

export function train(model: BagModel, examples: readonly Example[], options: TrainOptions): void {
  const { dim, labels, embeddings, weights, bias } = model;
  const random = mulberry32(options.seed + 1);
  const order = examples.map((_, i) => i);
  const total = options.epochs * examples.length;
  const h = new Float32Array(dim);
  const z = new Float32Array(labels);
  const gradH = new Float32Array(dim);
  const smoothing = options.labelSmoothing;
  let step = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let loss = 0;
    for (const index of order) {
      const { rows, label } = examples[index]!;
      const lr = options.learningRate * (1 - step / total);
      step++;
      hidden(model, rows, h);
      project(model, h, z);
      let max = Number.NEGATIVE_INFINITY;
      for (let l = 0; l < labels; l++) max = Math.max(max, z[l]!);
      let sum = 0;
      for (let l = 0; l < labels; l++) {
        z[l] = Math.exp(z[l]! - max);
        sum += z[l]!;
      }
      // z now holds p; the gradient of the loss with respect to the logits is p − target.
      gradH.fill(0);
      for (let l = 0; l < labels; l++) {
        const p = z[l]! / sum;
        const target = (l === label ? 1 - smoothing : 0) + smoothing / labels;
        if (l === label) loss -= Math.log(Math.max(p, 1e-12));
        const g = p - target;
        bias[l]! -= lr * g;
        for (let d = 0; d < dim; d++) {
          gradH[d]! += weights[d * labels + l]! * g;
          weights[d * labels + l]! -= lr * h[d]! * g;
        }
      }
      const scale = rows.length > 0 ? lr / rows.length : 0;
      for (const r of rows) {
        if (r === 0) continue;
        for (let d = 0; d < dim; d++) embeddings[r * dim + d]! -= scale * gradH[d]!;
      }
    }
    options.onEpoch?.(epoch + 1, loss / Math.max(1, examples.length));
  }
}
