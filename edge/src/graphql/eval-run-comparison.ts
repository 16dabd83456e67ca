/** Two succeeded eval runs side by side: accuracy, F1-macro and per-intent F1 deltas. */
import { GraphQLError } from "graphql";
import type { EvalRun, IntentDelta } from "../eval/eval-run-store.ts";
import { builder, INTENT_ROWS } from "./builder.ts";
import { ErrorCode } from "./errors.ts";
import { evals, intentOf } from "./eval-context.ts";
import { EvalRunRef, runOrFail } from "./eval-run.ts";
import { IntentRef } from "./intent.ts";

const IntentDeltaRef = builder.objectRef<IntentDelta>("IntentDelta").implement({
  authScopes: { eval: true },
  fields: (t) => ({
    intent: t.field({ type: IntentRef, resolve: (d, _a, ctx) => intentOf(ctx, d.intent) }),
    f1A: t.exposeFloat("f1A"),
    f1B: t.exposeFloat("f1B"),
    delta: t.exposeFloat("delta", { description: "f1B − f1A" }),
    support: t.exposeInt("support"),
  }),
});

const ComparisonRef = builder
  .objectRef<{ a: EvalRun; b: EvalRun; intents: IntentDelta[] }>("EvalRunComparison")
  .implement({
    authScopes: { eval: true },
    fields: (t) => ({
      a: t.field({ type: EvalRunRef, resolve: (c) => c.a }),
      b: t.field({ type: EvalRunRef, resolve: (c) => c.b }),
      accuracyDelta: t.float({ resolve: (c) => c.b.metrics!.accuracy - c.a.metrics!.accuracy }),
      f1MacroDelta: t.float({ resolve: (c) => c.b.metrics!.f1Macro - c.a.metrics!.f1Macro }),
      intents: t.field({
        type: [IntentDeltaRef],
        complexity: { field: 1, multiplier: INTENT_ROWS },
        description: "Largest change first.",
        resolve: (c) => c.intents,
      }),
    }),
  });

builder.queryFields((t) => ({
  compareEvalRuns: t.field({
    type: ComparisonRef,
    args: { a: t.arg.id({ required: true }), b: t.arg.id({ required: true }) },
    authScopes: { eval: true },
    resolve: async (_r, args, ctx) => {
      const [a, b] = await Promise.all([runOrFail(ctx, String(args.a)), runOrFail(ctx, String(args.b))]);
      if (!a.metrics || !b.metrics)
        throw new GraphQLError("both runs must have succeeded to be compared", {
          extensions: { code: ErrorCode.BAD_USER_INPUT },
        });
      return { a, b, intents: evals(ctx).compare(a, b) };
    },
  }),
}));
