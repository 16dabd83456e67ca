import { builder, INTENT_ROWS, type MeasuredSplit, type ModelInfo } from "./builder.ts";
import { IntentRef } from "./intent.ts";

export const SplitMetricsRef = builder.objectRef<MeasuredSplit>("SplitMetrics").implement({
  authScopes: { catalog: true },
  description: "Scores on one data split, from the bundle's bundle.json.",
  fields: (t) => ({
    n: t.exposeInt("n"),
    accuracy: t.exposeFloat("accuracy"),
    f1Macro: t.exposeFloat("f1Macro"),
    note: t.exposeString("note", {
      nullable: true,
      description:
        "How and on which weights it was measured, from bundle.json (e.g. validation scored before the final refit on train+validation, so it is not a held-out score of the served weights).",
    }),
  }),
});

export const ModelRef = builder.objectRef<ModelInfo>("Model").implement({
  authScopes: { catalog: true },
  description: "A model bundle the upstream serves.",
  fields: (t) => ({
    name: t.exposeString("name"),
    version: t.exposeString("version"),
    provider: t.exposeString("provider", {
      nullable: true,
      description: "Where it runs upstream (e.g. CUDAExecutionProvider, CPUExecutionProvider).",
    }),
    variant: t.exposeString("variant", { nullable: true, description: "fp32, fp16 or int8." }),
    labels: t.field({
      complexity: { field: 1, multiplier: INTENT_ROWS },
      type: [IntentRef],
      resolve: (m) => m.labels,
    }),
    validation: t.field({
      type: SplitMetricsRef,
      nullable: true,
      description: "Read its note: a model refit on train+validation has no held-out validation score.",
      resolve: (m) => m.validation,
    }),
    test: t.field({
      type: SplitMetricsRef,
      nullable: true,
      description: "Held-out test score of the served weights (see note).",
      resolve: (m) => m.test,
    }),
    temperature: t.exposeFloat("temperature", { nullable: true, description: "Calibration temperature." }),
    outOfScopeThreshold: t.exposeFloat("outOfScopeThreshold", { nullable: true }),
  }),
});

builder.queryField("models", (t) =>
  t.field({
    type: [ModelRef],
    description: "The bundles the upstream serves.",
    authScopes: { catalog: true },
    resolve: (_root, _args, ctx) => ctx.models(),
  }),
);
