/**
 * Fits what bundle.json's `calibration` holds, on held-out texts of the final model: the softmax
 * temperature that minimises their negative log-likelihood, and the out-of-scope threshold, the 5%
 * quantile of their calibrated top score (the default bundle's rule, docs/MODEL.md).
 */
import { calibratedProbabilities } from "@intentql/schema";

/** Share of in-scope held-out texts the threshold flags as out of scope. */
export const OUT_OF_SCOPE_QUANTILE = 0.05;

function nll(logits: readonly Float32Array[], gold: readonly number[], temperature: number): number {
  let total = 0;
  logits.forEach((row, i) => {
    total -= Math.log(Math.max(calibratedProbabilities(row, temperature)[gold[i]!]!, 1e-12));
  });
  return total / Math.max(1, logits.length);
}

/** Golden-section search over log T in [ln 0.05, ln 20]: NLL is unimodal in T for a fixed model. */
export function fitTemperature(logits: readonly Float32Array[], gold: readonly number[]): number {
  const phi = (Math.sqrt(5) - 1) / 2;
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  let a = hi - phi * (hi - lo);
  let b = lo + phi * (hi - lo);
  let fa = nll(logits, gold, Math.exp(a));
  let fb = nll(logits, gold, Math.exp(b));
  for (let i = 0; i < 60; i++) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - phi * (hi - lo);
      fa = nll(logits, gold, Math.exp(a));
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + phi * (hi - lo);
      fb = nll(logits, gold, Math.exp(b));
    }
  }
  return Number(Math.exp((lo + hi) / 2).toFixed(4));
}

/** The OUT_OF_SCOPE_QUANTILE quantile of the calibrated top scores (lower interpolation). */
export function outOfScopeThreshold(logits: readonly Float32Array[], temperature: number): number {
  const tops = logits
    .map((row) => Math.max(...calibratedProbabilities(row, temperature)))
    .sort((x, y) => x - y);
  if (tops.length === 0) return 0;
  return Number(tops[Math.floor(OUT_OF_SCOPE_QUANTILE * (tops.length - 1))]!.toFixed(4));
}
