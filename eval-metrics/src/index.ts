/**
 * Classification metrics of an eval run: pure functions over (gold, predicted, score) triples.
 * Definitions follow scikit-learn so figures compare with the Python training reports:
 * F1-macro averages over the labels present in gold or predictions; weighted F1 weighs by support.
 */

export interface Prediction {
  gold: number;
  predicted: number;
  /** Calibrated probability of the predicted label. */
  score: number;
  outOfScope?: boolean;
}

export interface LabelInfo {
  name: string;
  scenario: string;
}

export interface PerLabel {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface RunMetrics {
  n: number;
  accuracy: number;
  f1Macro: number;
  f1Weighted: number;
  perLabel: PerLabel[];
  perScenario: { scenario: string; accuracy: number; support: number }[];
  /** confusion[gold][predicted] = count, in label order. */
  confusion: number[][];
  /** Expected calibration error over `bins` equal-width confidence bins. */
  ece: number;
  outOfScopeRate: number;
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

export function confusionMatrix(predictions: readonly Prediction[], numLabels: number): number[][] {
  const m = Array.from({ length: numLabels }, () => new Array<number>(numLabels).fill(0));
  for (const p of predictions) {
    if (!Number.isInteger(p.gold) || p.gold < 0 || p.gold >= numLabels)
      throw new RangeError(`gold label ${p.gold} is outside 0…${numLabels - 1}`);
    if (!Number.isInteger(p.predicted) || p.predicted < 0 || p.predicted >= numLabels)
      throw new RangeError(`predicted label ${p.predicted} is outside 0…${numLabels - 1}`);
    m[p.gold]![p.predicted]!++;
  }
  return m;
}

export function expectedCalibrationError(predictions: readonly Prediction[], bins = 15): number {
  if (predictions.length === 0) return 0;
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const correct = new Array<number>(bins).fill(0);
  for (const p of predictions) {
    // A score of exactly 1 belongs to the last bin; (k/bins, (k+1)/bins] otherwise.
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(p.score * bins) - 1));
    count[b]!++;
    conf[b]! += p.score;
    if (p.gold === p.predicted) correct[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    ece += (count[b]! / predictions.length) * Math.abs(correct[b]! / count[b]! - conf[b]! / count[b]!);
  }
  return ece;
}

export function computeMetrics(predictions: readonly Prediction[], labels: readonly LabelInfo[]): RunMetrics {
  const k = labels.length;
  const confusion = confusionMatrix(predictions, k);
  const n = predictions.length;
  let correct = 0;
  for (let i = 0; i < k; i++) correct += confusion[i]![i]!;

  const perLabel: PerLabel[] = [];
  let f1Sum = 0;
  let present = 0;
  let f1Weighted = 0;
  for (let c = 0; c < k; c++) {
    const tp = confusion[c]![c]!;
    let support = 0;
    let predictedAs = 0;
    for (let j = 0; j < k; j++) {
      support += confusion[c]![j]!;
      predictedAs += confusion[j]![c]!;
    }
    const precision = ratio(tp, predictedAs);
    const recall = ratio(tp, support);
    const f1 = ratio(2 * tp, support + predictedAs);
    perLabel.push({ label: labels[c]!.name, precision, recall, f1, support });
    if (support + predictedAs > 0) {
      f1Sum += f1;
      present++;
    }
    f1Weighted += f1 * support;
  }

  const byScenario = new Map<string, { correct: number; support: number }>();
  for (const p of predictions) {
    const s = labels[p.gold]!.scenario;
    const entry = byScenario.get(s) ?? { correct: 0, support: 0 };
    entry.support++;
    if (p.gold === p.predicted) entry.correct++;
    byScenario.set(s, entry);
  }
  const perScenario = [...byScenario.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([scenario, e]) => ({ scenario, accuracy: ratio(e.correct, e.support), support: e.support }));

  return {
    n,
    accuracy: ratio(correct, n),
    f1Macro: ratio(f1Sum, present),
    f1Weighted: ratio(f1Weighted, n),
    perLabel,
    perScenario,
    confusion,
    ece: expectedCalibrationError(predictions),
    outOfScopeRate: ratio(predictions.filter((p) => p.outOfScope).length, n),
  };
}

/** Nearest-rank percentile (p in [0, 100]) of unsorted samples; 0 for none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** How far a metric moves between resamples: standard deviation and the 2.5-97.5 percentiles. */
export interface Spread {
  standardError: number;
  interval95: [number, number];
}

export interface BootstrapMetrics {
  resamples: number;
  accuracy: Spread;
  f1Macro: Spread;
}

/**
 * How precise accuracy and F1-macro are on this many texts: each resample draws as many
 * (gold, predicted) pairs as `confusion` holds, with replacement, and recomputes both (F1-macro over
 * the labels present in that resample's gold or predictions, as computeMetrics does). `random`
 * gives uniform numbers in [0, 1): pass a seeded one to reproduce. Work: resamples × (n log k² + k²).
 * On a small test set F1-macro moves far more than accuracy: an intent with one text is a whole
 * term of the average, right or wrong.
 */
export function bootstrapMetrics(
  confusion: readonly (readonly number[])[],
  random: () => number,
  resamples = 1000,
): BootstrapMetrics {
  const k = confusion.length;
  const cumulative = new Float64Array(k * k);
  let n = 0;
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      n += confusion[i]![j]!;
      cumulative[i * k + j] = n;
    }
  if (n === 0) throw new RangeError("bootstrapMetrics needs at least one prediction");
  if (!Number.isInteger(resamples) || resamples < 2)
    throw new RangeError(`resamples must be an integer ≥ 2, got ${resamples}`);
  const counts = new Int32Array(k * k);
  const accuracy: number[] = [];
  const f1Macro: number[] = [];
  for (let r = 0; r < resamples; r++) {
    counts.fill(0);
    for (let d = 0; d < n; d++) {
      const u = Math.floor(random() * n);
      // the first cell whose cumulative count exceeds u
      let lo = 0;
      let hi = k * k - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cumulative[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      counts[lo]!++;
    }
    let correct = 0;
    let f1Sum = 0;
    let present = 0;
    for (let c = 0; c < k; c++) {
      const tp = counts[c * k + c]!;
      let support = 0;
      let predictedAs = 0;
      for (let j = 0; j < k; j++) {
        support += counts[c * k + j]!;
        predictedAs += counts[j * k + c]!;
      }
      correct += tp;
      if (support + predictedAs > 0) {
        f1Sum += (2 * tp) / (support + predictedAs);
        present++;
      }
    }
    accuracy.push(correct / n);
    f1Macro.push(f1Sum / present);
  }
  return { resamples, accuracy: spread(accuracy), f1Macro: spread(f1Macro) };
}

function spread(samples: readonly number[]): Spread {
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples.length - 1);
  return {
    standardError: Math.sqrt(variance),
    interval95: [percentile(samples, 2.5), percentile(samples, 97.5)],
  };
}
