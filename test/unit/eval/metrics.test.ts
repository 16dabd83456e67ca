import {
  bootstrapMetrics,
  computeMetrics,
  confusionMatrix,
  expectedCalibrationError,
  type Prediction,
  percentile,
} from "@intentql/eval-metrics";
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../support/prng.ts";

const labels = [
  { name: "alarm_set", scenario: "alarm" },
  { name: "alarm_remove", scenario: "alarm" },
  { name: "play_music", scenario: "play" },
  { name: "unused_intent", scenario: "zzz" },
];

// gold → predicted (score):   0→0 (.9), 0→0 (.8), 0→1 (.6), 1→1 (.7), 1→2 (.55), 2→2 (.95), 2→2 (.85), 2→0 (.4)
const preds: Prediction[] = [
  { gold: 0, predicted: 0, score: 0.9 },
  { gold: 0, predicted: 0, score: 0.8 },
  { gold: 0, predicted: 1, score: 0.6 },
  { gold: 1, predicted: 1, score: 0.7 },
  { gold: 1, predicted: 2, score: 0.55, outOfScope: true },
  { gold: 2, predicted: 2, score: 0.95 },
  { gold: 2, predicted: 2, score: 0.85 },
  { gold: 2, predicted: 0, score: 0.4, outOfScope: true },
];

describe("computeMetrics (hand-computed fixture)", () => {
  const m = computeMetrics(preds, labels);

  it("accuracy = 5/8", () => {
    expect(m.n).toBe(8);
    expect(m.accuracy).toBeCloseTo(5 / 8, 12);
  });

  it("per-label precision, recall, F1 and support", () => {
    // alarm_set: tp 2, predicted 3 (two own + one from play_music), support 3 → P 2/3, R 2/3, F1 2/3
    // alarm_remove: tp 1, predicted 2, support 2 → P 1/2, R 1/2, F1 1/2
    // play_music: tp 2, predicted 3, support 3 → P 2/3, R 2/3, F1 2/3
    expect(m.perLabel[0]).toMatchObject({ label: "alarm_set", support: 3 });
    expect(m.perLabel[0]!.precision).toBeCloseTo(2 / 3, 12);
    expect(m.perLabel[0]!.recall).toBeCloseTo(2 / 3, 12);
    expect(m.perLabel[1]!.f1).toBeCloseTo(1 / 2, 12);
    expect(m.perLabel[2]!.f1).toBeCloseTo(2 / 3, 12);
    expect(m.perLabel[3]).toEqual({ label: "unused_intent", precision: 0, recall: 0, f1: 0, support: 0 });
  });

  it("F1-macro averages only labels seen in gold or predictions (scikit-learn's default)", () => {
    expect(m.f1Macro).toBeCloseTo((2 / 3 + 1 / 2 + 2 / 3) / 3, 12);
  });

  it("weighted F1 weighs by support", () => {
    expect(m.f1Weighted).toBeCloseTo((3 * (2 / 3) + 2 * (1 / 2) + 3 * (2 / 3)) / 8, 12);
  });

  it("per-scenario accuracy", () => {
    expect(m.perScenario).toEqual([
      { scenario: "alarm", accuracy: 3 / 5, support: 5 },
      { scenario: "play", accuracy: 2 / 3, support: 3 },
    ]);
  });

  it("confusion matrix is gold × predicted", () => {
    expect(m.confusion).toEqual([
      [2, 1, 0, 0],
      [0, 1, 1, 0],
      [1, 0, 2, 0],
      [0, 0, 0, 0],
    ]);
  });

  it("out-of-scope rate", () => {
    expect(m.outOfScopeRate).toBeCloseTo(2 / 8, 12);
  });
});

describe("expectedCalibrationError", () => {
  it("is 0 for a perfectly calibrated bin and |acc − conf| weighted otherwise", () => {
    // Two bins with 10 bins total: (0.3,0.4] holds .4 (wrong) → |0 − .4| ; (0.9,1] holds .95 and .95 (both right) → |1 − .95|
    const p: Prediction[] = [
      { gold: 0, predicted: 1, score: 0.4 },
      { gold: 0, predicted: 0, score: 0.95 },
      { gold: 1, predicted: 1, score: 0.95 },
    ];
    expect(expectedCalibrationError(p, 10)).toBeCloseTo((1 / 3) * 0.4 + (2 / 3) * 0.05, 12);
    expect(expectedCalibrationError([], 10)).toBe(0);
  });

  it("puts a score of exactly 1 in the last bin", () => {
    expect(expectedCalibrationError([{ gold: 0, predicted: 0, score: 1 }], 15)).toBeCloseTo(0, 12);
  });
});

describe("input checks and edge cases", () => {
  it("rejects labels outside the table", () => {
    expect(() => confusionMatrix([{ gold: 4, predicted: 0, score: 1 }], 4)).toThrow(
      /gold label 4 is outside 0…3/,
    );
    expect(() => confusionMatrix([{ gold: 0, predicted: -1, score: 1 }], 4)).toThrow(/predicted label -1/);
  });

  it("an empty run has zeros, not NaN", () => {
    const m = computeMetrics([], labels);
    expect([m.accuracy, m.f1Macro, m.f1Weighted, m.ece, m.outOfScopeRate]).toEqual([0, 0, 0, 0, 0]);
  });

  it("percentile uses the nearest rank", () => {
    const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 95)).toBe(10);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile([], 99)).toBe(0);
  });
});

describe("bootstrapMetrics", () => {
  // 2 labels, 400 texts, 320 right: accuracy 0.8
  const twoLabels = [
    [180, 20],
    [60, 140],
  ];

  it("agrees with the binomial standard error of accuracy", () => {
    const b = bootstrapMetrics(twoLabels, mulberry32(1), 2000);
    const binomial = Math.sqrt((0.8 * 0.2) / 400);
    expect(b.accuracy.standardError).toBeGreaterThan(binomial * 0.9);
    expect(b.accuracy.standardError).toBeLessThan(binomial * 1.1);
    expect(b.accuracy.interval95[0]).toBeLessThan(0.8);
    expect(b.accuracy.interval95[1]).toBeGreaterThan(0.8);
  });

  it("has no spread when every prediction is right", () => {
    const b = bootstrapMetrics(
      [
        [5, 0],
        [0, 7],
      ],
      mulberry32(2),
      50,
    );
    expect(b.accuracy).toEqual({ standardError: 0, interval95: [1, 1] });
    expect(b.f1Macro).toEqual({ standardError: 0, interval95: [1, 1] });
  });

  it("lets an intent with one text move F1-macro far more than accuracy", () => {
    // 1,000 texts of label 0 (900 right, 100 taken for label 1), label 1's one text right
    const b = bootstrapMetrics(
      [
        [900, 100, 0],
        [0, 0, 0],
        [0, 0, 1],
      ],
      mulberry32(3),
      1000,
    );
    expect(b.f1Macro.standardError).toBeGreaterThan(5 * b.accuracy.standardError);
  });

  it("reproduces with the same seed, and refuses an empty matrix or fewer than 2 resamples", () => {
    expect(bootstrapMetrics(twoLabels, mulberry32(4), 100)).toEqual(
      bootstrapMetrics(twoLabels, mulberry32(4), 100),
    );
    expect(() => bootstrapMetrics([[0]], mulberry32(5))).toThrow(/at least one prediction/);
    expect(() => bootstrapMetrics(twoLabels, mulberry32(5), 1)).toThrow(/resamples must be an integer ≥ 2/);
  });
});
