/**
 * How a bundle's logits become answers, the same everywhere (the edge, `intentql predict`, the GPU
 * host's accuracy check): temperature-scaled softmax, top-k, and the out-of-scope rule. The
 * temperature and the threshold were fit by training/ and travel in bundle.json (`calibration`,
 * docs/MODEL.md).
 */
export interface Calibration {
  temperature: number;
  outOfScopeThreshold: number;
}

/** softmax(logits / temperature) of one row, in float64 for stable sums. */
export function calibratedProbabilities(logits: ArrayLike<number>, temperature: number): Float64Array {
  const n = logits.length;
  const out = new Float64Array(n);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]! / temperature);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(logits[i]! / temperature - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) out[i]! /= sum;
  return out;
}

/** Indices of the k largest probabilities, best first (ties: lower index first, like argmax). */
export function topIndices(probabilities: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: probabilities.length }, (_, i) => i);
  idx.sort((a, b) => probabilities[b]! - probabilities[a]! || a - b);
  return idx.slice(0, Math.min(k, idx.length));
}

export function isOutOfScope(topScore: number, calibration: Calibration): boolean {
  return topScore < calibration.outOfScopeThreshold;
}
