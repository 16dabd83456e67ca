/**
 * Datasets and eval runs: import labelled data, measure the served model on it through the production
 * path, keep every prediction, compare runs. Resolvers call `ctx.evals`, which the edge provides
 * (edge/src/eval); the shapes below are what it returns.
 */
import { GraphQLError } from "graphql";
import { builder, type GraphQLContext, type IntentInfo } from "./builder.ts";
import { ErrorCode } from "./errors.ts";
import { IntentRef } from "./intent.ts";

export interface DatasetInfo {
  id: string;
  name: string;
  sha256: string;
  rowCount: number;
  splits: Record<string, number>;
  createdAt: string;
}

export interface PerLabelInfo {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface EvalMetricsInfo {
  n: number;
  accuracy: number;
  f1Macro: number;
  f1Weighted: number;
  ece: number;
  outOfScopeRate: number;
  perLabel: PerLabelInfo[];
  perScenario: { scenario: string; accuracy: number; support: number }[];
  confusion: number[][];
  latencyMs: { p50: number; p95: number; p99: number };
  textsPerSecond: number;
}

export type EvalRunStatusName = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface EvalRunInfo {
  id: string;
  datasetId: string;
  split: string;
  model: string;
  status: EvalRunStatusName;
  total: number;
  done: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  busyMs: number;
  metrics: EvalMetricsInfo | null;
}

export interface MisclassifiedInfo {
  idx: number;
  text: string;
  gold: string;
  predicted: string;
  score: number;
}

export interface MisclassifiedPageInfo {
  edges: { cursor: string; node: MisclassifiedInfo }[];
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface IntentDeltaInfo {
  intent: string;
  f1A: number;
  f1B: number;
  delta: number;
  support: number;
}

export interface DatasetUploadInfo {
  id: string;
  name: string;
  parts: number;
  bytes: number;
  received: number[];
}

/** What the edge provides for this part of the schema. */
export interface EvalService {
  datasets(): Promise<DatasetInfo[]>;
  dataset(idOrName: string): Promise<DatasetInfo | null>;
  importDataset(input: {
    name: string;
    content: string;
    split?: string | null;
  }): Promise<{ dataset: DatasetInfo; created: boolean }>;
  /** Files larger than one request, in parts (resumable; see edge/src/eval/dataset-upload-store.ts). */
  startDatasetUpload(input: {
    name: string;
    split?: string | null;
    sha256: string;
    parts: number;
    bytes: number;
  }): Promise<DatasetUploadInfo>;
  uploadDatasetPart(id: string, index: number, content: string): Promise<DatasetUploadInfo>;
  finishDatasetUpload(id: string): Promise<{ dataset: DatasetInfo; created: boolean }>;
  runs(first: number): Promise<EvalRunInfo[]>;
  /** Also restarts a running run whose worker went quiet (a crash or restart): see edge/src/eval. */
  run(id: string): Promise<EvalRunInfo | null>;
  startRun(input: { dataset: string; split: string; model: string | null }): Promise<EvalRunInfo>;
  cancelRun(id: string): Promise<EvalRunInfo>;
  misclassified(
    run: EvalRunInfo,
    args: { first: number; after: string | null; intent: string | null },
  ): Promise<MisclassifiedPageInfo>;
  compare(a: EvalRunInfo, b: EvalRunInfo): IntentDeltaInfo[];
  /** Progress updates until the run ends (polls D1; ends with the final state). */
  watch(id: string, signal?: AbortSignal): AsyncIterable<EvalRunInfo>;
}

declare module "./builder.ts" {
  interface GraphQLContext {
    /** Absent where no D1 is bound (e.g. schema printing). */
    evals?: EvalService;
  }
}

function evals(ctx: GraphQLContext): EvalService {
  if (!ctx.evals) throw new GraphQLError("eval runs are not configured on this server");
  return ctx.evals;
}

function intentOf(ctx: GraphQLContext, name: string): IntentInfo {
  const intent = ctx.intents.byName(name);
  if (intent) return intent;
  // A dataset label the catalog lacks cannot be imported; keep answering rather than failing a page.
  const [scenario = name, ...action] = name.split("_");
  return { id: -1, name, scenario, action: action.join("_"), description: "", examples: [] };
}

export const DatasetRef = builder.objectRef<DatasetInfo>("Dataset").implement({
  authScopes: { $any: { eval: true, admin: true } },
  description: "Labelled utterances imported into D1. Same content, same dataset (by sha256).",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    sha256: t.exposeString("sha256"),
    rowCount: t.exposeInt("rowCount"),
    splits: t.field({
      type: [
        builder.objectRef<{ name: string; count: number }>("DatasetSplit").implement({
          authScopes: { $any: { eval: true, admin: true } },
          fields: (s) => ({ name: s.exposeString("name"), count: s.exposeInt("count") }),
        }),
      ],
      resolve: (d) => Object.entries(d.splits).map(([name, count]) => ({ name, count })),
    }),
    createdAt: t.exposeString("createdAt"),
  }),
});

const IntentEvalMetricsRef = builder.objectRef<PerLabelInfo>("IntentEvalMetrics").implement({
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
      labels: t.exposeStringList("labels"),
      counts: t.field({ type: t.listRef(t.listRef("Int")), resolve: (c) => c.counts }),
    }),
  });

const EvalMetricsRef = builder.objectRef<EvalMetricsInfo>("EvalMetrics").implement({
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
    perIntent: t.field({ type: [IntentEvalMetricsRef], resolve: (m) => m.perLabel }),
    perScenario: t.field({ type: [ScenarioAccuracyRef], resolve: (m) => m.perScenario }),
    confusion: t.field({
      type: ConfusionRef,
      resolve: (m) => ({ labels: m.perLabel.map((l) => l.label), counts: m.confusion }),
    }),
  }),
});

const MisclassifiedRef = builder.objectRef<MisclassifiedInfo>("MisclassifiedPrediction").implement({
  authScopes: { eval: true },
  fields: (t) => ({
    index: t.int({ description: "Row index in the dataset split.", resolve: (p) => p.idx }),
    text: t.exposeString("text"),
    gold: t.field({ type: IntentRef, resolve: (p, _a, ctx) => intentOf(ctx, p.gold) }),
    predicted: t.field({ type: IntentRef, resolve: (p, _a, ctx) => intentOf(ctx, p.predicted) }),
    score: t.exposeFloat("score"),
  }),
});

const PageInfoRef = builder
  .objectRef<{ hasNextPage: boolean; endCursor: string | null }>("PageInfo")
  .implement({
    authScopes: { eval: true },
    fields: (t) => ({
      hasNextPage: t.exposeBoolean("hasNextPage"),
      endCursor: t.exposeString("endCursor", { nullable: true }),
    }),
  });

const MisclassifiedConnectionRef = builder
  .objectRef<MisclassifiedPageInfo>("MisclassifiedConnection")
  .implement({
    authScopes: { eval: true },
    fields: (t) => ({
      edges: t.field({
        type: [
          builder.objectRef<{ cursor: string; node: MisclassifiedInfo }>("MisclassifiedEdge").implement({
            authScopes: { eval: true },
            fields: (e) => ({
              cursor: e.exposeString("cursor"),
              node: e.field({ type: MisclassifiedRef, resolve: (x) => x.node }),
            }),
          }),
        ],
        resolve: (c) => c.edges,
      }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c }),
    }),
  });

const EvalRunStatusEnum = builder.enumType("EvalRunStatus", {
  values: ["queued", "running", "succeeded", "failed", "cancelled"] as const,
});

export const EvalRunRef = builder.objectRef<EvalRunInfo>("EvalRun").implement({
  authScopes: { eval: true },
  description: "One measurement of a served model on a dataset split, through the production path.",
  fields: (t) => ({
    id: t.exposeID("id"),
    dataset: t.field({
      type: DatasetRef,
      resolve: async (r, _a, ctx) => {
        const d = await evals(ctx).dataset(r.datasetId);
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
      args: {
        first: t.arg.int({ defaultValue: 20 }),
        after: t.arg.string(),
        intent: t.arg.string({ description: "Only errors where this intent is the gold or the prediction." }),
      },
      resolve: (r, args, ctx) =>
        evals(ctx).misclassified(r, {
          first: args.first ?? 20,
          after: args.after ?? null,
          intent: args.intent ?? null,
        }),
    }),
  }),
});

const IntentDeltaRef = builder.objectRef<IntentDeltaInfo>("IntentDelta").implement({
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
  .objectRef<{ a: EvalRunInfo; b: EvalRunInfo; intents: IntentDeltaInfo[] }>("EvalRunComparison")
  .implement({
    authScopes: { eval: true },
    fields: (t) => ({
      a: t.field({ type: EvalRunRef, resolve: (c) => c.a }),
      b: t.field({ type: EvalRunRef, resolve: (c) => c.b }),
      accuracyDelta: t.float({ resolve: (c) => c.b.metrics!.accuracy - c.a.metrics!.accuracy }),
      f1MacroDelta: t.float({ resolve: (c) => c.b.metrics!.f1Macro - c.a.metrics!.f1Macro }),
      intents: t.field({
        type: [IntentDeltaRef],
        description: "Largest change first.",
        resolve: (c) => c.intents,
      }),
    }),
  });

async function runOrFail(ctx: GraphQLContext, id: string): Promise<EvalRunInfo> {
  const run = await evals(ctx).run(id);
  if (!run) throw new GraphQLError(`no eval run ${id}`, { extensions: { code: ErrorCode.BAD_USER_INPUT } });
  return run;
}

builder.queryFields((t) => ({
  datasets: t.field({
    type: [DatasetRef],
    authScopes: { eval: true },
    resolve: (_r, _a, ctx) => {
      return evals(ctx).datasets();
    },
  }),
  evalRuns: t.field({
    type: [EvalRunRef],
    description: "Newest first.",
    args: { first: t.arg.int({ defaultValue: 50 }) },
    authScopes: { eval: true },
    resolve: (_r, args, ctx) => {
      return evals(ctx).runs(Math.max(1, Math.min(args.first ?? 50, 500)));
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

const ImportDatasetInput = builder.inputType("ImportDatasetInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    content: t.string({
      required: true,
      description: 'JSONL: MASSIVE official rows ({"utt","intent","partition"}) or {"text","label_text"}.',
    }),
    split: t.string({
      description:
        "Official files: keep only this partition. Other files: file rows under this split (default test).",
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

export const ImportResultRef = builder
  .objectRef<{ dataset: DatasetInfo; created: boolean }>("ImportDatasetResult")
  .implement({
    authScopes: { admin: true },
    fields: (t) => ({
      dataset: t.field({ type: DatasetRef, resolve: (r) => r.dataset }),
      created: t.exposeBoolean("created", {
        description: "false when the same content was already imported",
      }),
    }),
  });

builder.mutationFields((t) => ({
  importDataset: t.field({
    type: ImportResultRef,
    args: { input: t.arg({ type: ImportDatasetInput, required: true }) },
    authScopes: { admin: true },
    resolve: (_r, { input }, ctx) => {
      return evals(ctx).importDataset(input);
    },
  }),
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
    subscribe: (_r, args, ctx) => {
      return evals(ctx).watch(String(args.id), ctx.signal) as AsyncIterable<EvalRunInfo>;
    },
    resolve: (run) => run,
  }),
}));

const DatasetUploadRef = builder.objectRef<DatasetUploadInfo>("DatasetUpload").implement({
  description: "A dataset file on its way in parts; it becomes a dataset at finishDatasetUpload.",
  authScopes: { admin: true },
  fields: (t) => ({
    id: t.exposeID("id", {
      description: "The same file, name and split always get the same id: resume with it.",
    }),
    name: t.exposeString("name"),
    parts: t.exposeInt("parts"),
    bytes: t.exposeInt("bytes"),
    received: t.exposeIntList("received", { description: "Part indices already stored." }),
    missing: t.intList({
      description: "Part indices still to send.",
      resolve: (u) => Array.from({ length: u.parts }, (_, i) => i).filter((i) => !u.received.includes(i)),
    }),
  }),
});

const StartDatasetUploadInput = builder.inputType("StartDatasetUploadInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    split: t.string({ description: "As importDataset's split." }),
    sha256: t.string({ required: true, description: "Hex sha256 of the whole file's UTF-8 bytes." }),
    parts: t.int({ required: true, description: "Number of parts, each at most 512 KiB." }),
    bytes: t.int({ required: true, description: "UTF-8 bytes of the whole file (at most 16 MiB)." }),
  }),
});

builder.mutationFields((t) => ({
  startDatasetUpload: t.field({
    type: DatasetUploadRef,
    description:
      "Starts (or resumes) a dataset upload in parts, for files above importDataset's 1 MiB body. Needs the `admin` scope.",
    authScopes: { admin: true },
    args: { input: t.arg({ type: StartDatasetUploadInput, required: true }) },
    resolve: (_r, { input }, ctx) => evals(ctx).startDatasetUpload(input),
  }),
  uploadDatasetPart: t.field({
    type: DatasetUploadRef,
    description: "Stores one part (sending a part again replaces it). Needs the `admin` scope.",
    authScopes: { admin: true },
    args: {
      id: t.arg.id({ required: true }),
      index: t.arg.int({ required: true }),
      content: t.arg.string({ required: true }),
    },
    resolve: (_r, args, ctx) => evals(ctx).uploadDatasetPart(String(args.id), args.index, args.content),
  }),
  finishDatasetUpload: t.field({
    type: ImportResultRef,
    description:
      "Checks the parts against the file's sha256 and imports it as importDataset does (atomically, idempotently). Needs the `admin` scope.",
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => evals(ctx).finishDatasetUpload(String(args.id)),
  }),
}));
