/** An eval run's metrics: overall, per intent, per scenario, and the confusion matrix. */
import type { PerLabel } from "@intentql/eval-metrics";
import type { StoredMetrics } from "../eval/eval-run-store.ts";
import { builder, INTENT_ROWS } from "./builder.ts";
import { intentOf } from "./eval-context.ts";
import { IntentRef } from "./intent.ts";

const IntentEvalMetricsRef = builder.objectRef<PerLabel>("IntentEvalMetrics").implement({
  authScopes: { eval: true },
  fields: (t) => ({
    intent: t.field({ type: IntentRef, resolve: (l, _a, ctx) => intentOf(ctx, l.label) }),
    precision: t.exposeFloat("precision"),
    recall: t.exposeFloat("recall"),
    f1: t.exposeFloat("f1"),
    support: t.exposeInt("support"),
  }),
});

const ScenarioAccuracyRef = builder
  .objectRef<{ scenario: string; accuracy: number; support: number }>("ScenarioAccuracy")
  .implement({
    authScopes: { eval: true },
    fields: (t) => ({
      scenario: t.exposeString("scenario"),
      accuracy: t.exposeFloat("accuracy"),
      support: t.exposeInt("support"),
    }),
  });

const ConfusionRef = builder
  .objectRef<{ labels: string[]; counts: number[][] }>("ConfusionMatrix")
  .implement({
    authScopes: { eval: true },
    description:
      "counts[gold][predicted], rows and columns in `labels` order (sorted by name, so grouped by scenario).",
    fields: (t) => ({
      // A list of scalars has no selection for the multiplier, so it is priced by its values: at
      // one field each, 16 aliases of 500 runs' matrices (57 MB) once passed.
      labels: t.exposeStringList("labels", { complexity: INTENT_ROWS }),
      counts: t.field({
        type: t.listRef(t.listRef("Int")),
        complexity: INTENT_ROWS * INTENT_ROWS,
        resolve: (c) => c.counts,
      }),
    }),
  });

export const EvalMetricsRef = builder.objectRef<StoredMetrics>("EvalMetrics").implement({
  authScopes: { eval: true },
  fields: (t) => ({
    n: t.exposeInt("n"),
    accuracy: t.exposeFloat("accuracy"),
    f1Macro: t.exposeFloat("f1Macro", {
      description: "Mean F1 over intents present in gold or predictions.",
    }),
    f1Weighted: t.exposeFloat("f1Weighted"),
    ece: t.exposeFloat("ece", {
      description: "Expected calibration error of the calibrated score (15 bins).",
    }),
    outOfScopeRate: t.exposeFloat("outOfScopeRate"),
    latencyP50Ms: t.float({ description: "Upstream batch latency.", resolve: (m) => m.latencyMs.p50 }),
    latencyP95Ms: t.float({ resolve: (m) => m.latencyMs.p95 }),
    latencyP99Ms: t.float({ resolve: (m) => m.latencyMs.p99 }),
    textsPerSecond: t.exposeFloat("textsPerSecond"),
    perIntent: t.field({
      complexity: { field: 1, multiplier: INTENT_ROWS },
      type: [IntentEvalMetricsRef],
      resolve: (m) => m.perLabel,
    }),
    perScenario: t.field({ type: [ScenarioAccuracyRef], resolve: (m) => m.perScenario }),
    confusion: t.field({
      type: ConfusionRef,
      resolve: (m) => ({ labels: m.perLabel.map((l) => l.label), counts: m.confusion }),
    }),
  }),
});
