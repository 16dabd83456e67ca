import { builder, INTENT_ROWS, type IntentInfo, type IntentMetricsInfo } from "./builder.ts";

// Eval results, so the eval scope (as EvalRun's), though Intent itself is catalog: a classify-only
// key, the kind handed to apps, reads the intents but not how the model measured on them.
export const IntentMetricsRef = builder.objectRef<IntentMetricsInfo>("IntentMetrics").implement({
  authScopes: { eval: true },
  description: "How a model did on this intent in the latest finished eval run (Intent.latestMetrics).",
  fields: (t) => ({
    evalRunId: t.exposeID("evalRunId"),
    precision: t.exposeFloat("precision"),
    recall: t.exposeFloat("recall"),
    f1: t.exposeFloat("f1"),
    support: t.exposeInt("support", { description: "Gold examples of this intent in the run." }),
  }),
});

export const IntentRef = builder.objectRef<IntentInfo>("Intent").implement({
  authScopes: { catalog: true },
  description: "One of the labels the model predicts (MASSIVE: scenario_action).",
  fields: (t) => ({
    id: t.exposeInt("id", { description: "Index of this intent's logit." }),
    name: t.exposeString("name"),
    scenario: t.exposeString("scenario"),
    action: t.exposeString("action"),
    description: t.exposeString("description"),
    examples: t.exposeStringList("examples", { description: "Example utterances (hand-written)." }),
    latestMetrics: t.field({
      type: IntentMetricsRef,
      nullable: true,
      authScopes: { eval: true },
      description:
        "From the latest finished eval run of `model` (a served model's name or an alias), on whichever dataset it measured; of any model when `model` is omitted (the run id tells which). Null until one exists. Needs the eval scope.",
      args: {
        model: t.arg.string({
          required: false,
          description: "A model name or alias; at most 4 distinct ones per request (TOO_MANY_MODELS).",
        }),
      },
      resolve: (intent, { model }, ctx) => ctx.latestIntentMetrics(intent.name, model ?? null),
    }),
  }),
});

builder.queryFields((t) => ({
  intents: t.field({
    type: [IntentRef],
    complexity: { field: 1, multiplier: INTENT_ROWS },
    description:
      "Every intent of a model, in logit order; only one scenario's when `scenario` is given. `model` is any served model (see `models`); the edge's default when omitted.",
    authScopes: { catalog: true },
    args: {
      scenario: t.arg.string({ required: false }),
      model: t.arg.string({ required: false }),
    },
    resolve: async (_root, { scenario, model }, ctx) =>
      (model == null ? ctx.intents.all() : await ctx.intents.ofModel(model)).filter(
        (i) => scenario == null || i.scenario === scenario,
      ),
  }),
  intent: t.field({
    type: IntentRef,
    nullable: true,
    authScopes: { catalog: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, ctx) => ctx.intents.byName(name) ?? null,
  }),
  scenarios: t.stringList({
    description: "Scenario names (the part of an intent before its action), sorted.",
    authScopes: { catalog: true },
    resolve: (_root, _args, ctx) => [...new Set(ctx.intents.all().map((i) => i.scenario))].sort(),
  }),
}));
