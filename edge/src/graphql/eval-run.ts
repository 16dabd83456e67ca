/**
 * Eval runs: measure the served model on a dataset split through the production path, keep every
 * prediction, follow the run live. Resolvers call `ctx.evals` (eval-context.ts).
 */
import { GraphQLError } from "graphql";
import { type EvalRun, MAX_MISCLASSIFIED_PAGE } from "../eval/eval-run-store.ts";
import { builder, type GraphQLContext, rowsOf } from "./builder.ts";
import { DatasetRef } from "./dataset.ts";
import { ErrorCode } from "./errors.ts";
import { evals } from "./eval-context.ts";
import { EvalMetricsRef } from "./eval-metrics.ts";
import { MisclassifiedConnectionRef } from "./misclassified.ts";

/** evalRuns(first:) returns this many runs when `first` is left out or null, and at most the max. */
const EVAL_RUNS_PAGE = 50;
const MAX_EVAL_RUNS_PAGE = 500;
/**
 * What one listed run costs besides its selection: listRuns reads the whole row, its stored metrics
 * text included (~20 KB for 60 intents), whatever is selected. Without it, twenty aliases of
 * `evalRuns(first: 500) { id }` (10,000 rows, ~2 s on the dev box) cost 10,020 and passed.
 */
const RUN_ROW_COST = 10;
/** misclassified(first:) likewise. */
const MISCLASSIFIED_PAGE = 20;

const EvalRunStatusEnum = builder.enumType("EvalRunStatus", {
  values: ["queued", "running", "succeeded", "failed", "cancelled"] as const,
});

export const EvalRunRef = builder.objectRef<EvalRun>("EvalRun").implement({
  authScopes: { eval: true },
  description: "One measurement of a served model on a dataset split, through the production path.",
  fields: (t) => ({
    id: t.exposeID("id"),
    dataset: t.field({
      type: DatasetRef,
      resolve: async (r, _a, ctx) => {
        const d = await ctx.datasetById(r.datasetId);
        if (!d) throw new GraphQLError(`dataset ${r.datasetId} is gone`);
        return d;
      },
    }),
    split: t.exposeString("split"),
    model: t.exposeString("model"),
    status: t.field({ type: EvalRunStatusEnum, resolve: (r) => r.status }),
    total: t.exposeInt("total"),
    done: t.exposeInt("done"),
    progress: t.float({
      description: "done / total",
      resolve: (r) => (r.total === 0 ? 1 : r.done / r.total),
    }),
    textsPerSecond: t.float({
      nullable: true,
      resolve: (r) => (r.busyMs > 0 ? r.done / (r.busyMs / 1000) : null),
    }),
    etaSeconds: t.float({
      nullable: true,
      description: "Remaining texts at the run's pace so far.",
      resolve: (r) => (r.busyMs > 0 && r.done > 0 ? ((r.total - r.done) * r.busyMs) / r.done / 1000 : null),
    }),
    createdAt: t.exposeString("createdAt"),
    startedAt: t.exposeString("startedAt", { nullable: true }),
    finishedAt: t.exposeString("finishedAt", { nullable: true }),
    error: t.exposeString("error", { nullable: true }),
    metrics: t.field({ type: EvalMetricsRef, nullable: true, resolve: (r) => r.metrics }),
    misclassified: t.field({
      type: MisclassifiedConnectionRef,
      // its edges list counts 1: the page size is counted here
      complexity: (args) => rowsOf(args.first, MISCLASSIFIED_PAGE, MAX_MISCLASSIFIED_PAGE),
      args: {
        first: t.arg.int({ defaultValue: MISCLASSIFIED_PAGE }),
        after: t.arg.string(),
        intent: t.arg.string({ description: "Only errors where this intent is the gold or the prediction." }),
      },
      resolve: (r, args, ctx) =>
        evals(ctx).misclassified(r, {
          first: args.first ?? MISCLASSIFIED_PAGE,
          after: args.after ?? null,
          intent: args.intent ?? null,
        }),
    }),
  }),
});

const StartEvalRunInput = builder.inputType("StartEvalRunInput", {
  fields: (t) => ({
    dataset: t.string({ required: true, description: "Dataset id or name." }),
    split: t.string({ defaultValue: "test" }),
    model: t.string({ description: "Upstream model; the server's default when omitted." }),
  }),
});

export async function runOrFail(ctx: GraphQLContext, id: string): Promise<EvalRun> {
  const run = await evals(ctx).run(id);
  if (!run) throw new GraphQLError(`no eval run ${id}`, { extensions: { code: ErrorCode.BAD_USER_INPUT } });
  return run;
}

builder.queryFields((t) => ({
  evalRuns: t.field({
    type: [EvalRunRef],
    description: "Newest first.",
    args: { first: t.arg.int({ defaultValue: EVAL_RUNS_PAGE }) },
    complexity: (args) => {
      const rows = rowsOf(args.first, EVAL_RUNS_PAGE, MAX_EVAL_RUNS_PAGE);
      return { field: rows.field + rows.multiplier * RUN_ROW_COST, multiplier: rows.multiplier };
    },
    authScopes: { eval: true },
    resolve: (_r, args, ctx) => {
      return evals(ctx).runs(Math.max(1, Math.min(args.first ?? EVAL_RUNS_PAGE, MAX_EVAL_RUNS_PAGE)));
    },
  }),
  evalRun: t.field({
    type: EvalRunRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    authScopes: { eval: true },
    resolve: (_r, args, ctx) => {
      return evals(ctx).run(String(args.id));
    },
  }),
}));

builder.mutationFields((t) => ({
  startEvalRun: t.field({
    type: EvalRunRef,
    description:
      "Returns at once; the run goes on in the background (poll evalRun or subscribe to evalRunProgress).",
    args: { input: t.arg({ type: StartEvalRunInput, required: true }) },
    authScopes: { eval: true },
    resolve: (_r, { input }, ctx) => {
      return evals(ctx).startRun({
        dataset: input.dataset,
        split: input.split ?? "test",
        model: input.model ?? null,
        keyId: ctx.auth?.keyId ?? null,
      });
    },
  }),
  cancelEvalRun: t.field({
    type: EvalRunRef,
    args: { id: t.arg.id({ required: true }) },
    authScopes: { eval: true },
    resolve: (_r, args, ctx) => {
      return evals(ctx).cancelRun(String(args.id));
    },
  }),
}));

builder.subscriptionFields((t) => ({
  evalRunProgress: t.field({
    type: EvalRunRef,
    description: "The run's state every second while it changes, then its final state (SSE).",
    args: { id: t.arg.id({ required: true }) },
    authScopes: { eval: true },
    subscribe: async (_r, args, ctx) => {
      const service = evals(ctx);
      const place = await ctx.subscriptions.enter();
      return service.watch(String(args.id), {
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        stillAllowed: async () => {
          if (!(await ctx.subscriptions.keyStillValid())) return false;
          if (!(await place.stillHeld()))
            throw new GraphQLError("this subscription's place lapsed; subscribe again", {
              extensions: { code: ErrorCode.RATE_LIMITED },
            });
          return true;
        },
        onEnd: place.release,
      }) as AsyncIterable<EvalRun>;
    },
    resolve: (run) => run,
  }),
}));
