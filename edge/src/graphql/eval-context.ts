/**
 * What the edge provides for the dataset and eval-run part of the schema (`ctx.evals`, built in
 * edge/src/eval/eval-service.ts), and the helpers the types' resolvers share. The shapes are the
 * stores' own (edge/src/eval): one definition each.
 */
import { GraphQLError } from "graphql";
import type { Dataset } from "../eval/dataset-store.ts";
import type { DatasetUpload } from "../eval/dataset-upload-store.ts";
import type { EvalRun, IntentDelta, MisclassifiedPage } from "../eval/eval-run-store.ts";
import type { GraphQLContext, IntentInfo } from "./builder.ts";

/** What the edge provides for this part of the schema. */
export interface EvalService {
  datasets(first: number, sha256?: string): Promise<Dataset[]>;
  dataset(idOrName: string): Promise<Dataset | null>;
  importDataset(input: {
    name: string;
    content: string;
    split?: string | null;
  }): Promise<{ dataset: Dataset; created: boolean }>;
  /** Files larger than one request, in parts (resumable; see edge/src/eval/dataset-upload-store.ts). */
  startDatasetUpload(input: {
    name: string;
    split?: string | null;
    sha256: string;
    parts: number;
    bytes: number;
  }): Promise<DatasetUpload>;
  uploadDatasetPart(id: string, index: number, content: string): Promise<DatasetUpload>;
  finishDatasetUpload(id: string): Promise<{ dataset: Dataset; created: boolean }>;
  runs(first: number): Promise<EvalRun[]>;
  /** Also restarts a running run whose worker went quiet (a crash or restart): see edge/src/eval. */
  run(id: string): Promise<EvalRun | null>;
  /** `keyId`: the caller's key, which the run's texts are charged to and which may have only so many runs going. */
  startRun(input: {
    dataset: string;
    split: string;
    model: string | null;
    keyId: string | null;
  }): Promise<EvalRun>;
  cancelRun(id: string): Promise<EvalRun>;
  misclassified(
    run: EvalRun,
    args: { first: number; after: string | null; intent: string | null },
  ): Promise<MisclassifiedPage>;
  compare(a: EvalRun, b: EvalRun): IntentDelta[];
  /** Progress updates until the run ends (polls D1; ends with the final state). */
  watch(id: string, options?: WatchOptions): AsyncIterable<EvalRun>;
}

export interface WatchOptions {
  /** Ends the polling when the client goes away. */
  signal?: AbortSignal;
  /** Asked before each poll; false ends the stream with UNAUTHENTICATED (a key revoked meanwhile). */
  stillAllowed?: () => Promise<boolean>;
  /** Called once when the stream ends, however it ends (a subscription's place in its gate). */
  onEnd?: () => void;
}

declare module "./builder.ts" {
  interface GraphQLContext {
    /** Absent where no D1 is bound (e.g. schema printing). */
    evals?: EvalService;
  }
}

export function evals(ctx: GraphQLContext): EvalService {
  if (!ctx.evals) throw new GraphQLError("eval runs are not configured on this server");
  return ctx.evals;
}

export function intentOf(ctx: GraphQLContext, name: string): IntentInfo {
  const intent = ctx.intents.byName(name);
  if (intent) return intent;
  // A dataset label the catalog lacks cannot be imported; keep answering rather than failing a page.
  const [scenario = name, ...action] = name.split("_");
  return { id: -1, name, scenario, action: action.join("_"), description: "", examples: [] };
}
