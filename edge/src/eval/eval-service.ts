/**
 * The eval-run part of the GraphQL context: datasets and runs in D1, runs driven in the background by
 * a runner (the EvalRunner Durable Object in the Worker). Resolvers call this; it calls the stores.
 */
import type { D1Database } from "@cloudflare/workers-types";
import { MAX_NAME_CHARS } from "@intentql/schema";
import DataLoader from "dataloader";
import { GraphQLError } from "graphql";
import type { IntentMetricsInfo } from "../graphql/builder.ts";
import { ErrorCode } from "../graphql/errors.ts";
import type { EvalService } from "../graphql/eval-context.ts";
import {
  type Dataset,
  DatasetImportError,
  datasetLabels,
  datasetsById,
  getDataset,
  importDataset,
  listDatasets,
  MAX_IDS_PER_QUERY,
} from "./dataset-store.ts";
import { finishUpload, startUpload, uploadPart } from "./dataset-upload-store.ts";
import {
  cancelRun,
  compareRuns,
  createRun,
  type EvalRun,
  getRun,
  listRuns,
  misclassified,
  type RunLimits,
  runLimitReached,
  type StoredMetrics,
  TERMINAL,
} from "./eval-run-store.ts";

/** Starts (or restarts) the background work of a run. Idempotent: the runner resumes from D1. */
export interface RunnerLauncher {
  start(runId: string): Promise<void>;
}

export interface EvalServiceOptions {
  db: D1Database;
  /**
   * The label names of a served model (the embedded default, or one the edge learns): a run is
   * refused when its dataset split has labels its model does not know. Datasets themselves belong to
   * no model, so that two models can be compared on the same one.
   */
  labelsOf(model: string): Promise<readonly string[]>;
  /** A requested model name (null: none) → the served model it means (model aliases, the default). */
  resolveModel(name: string | null): Promise<string>;
  runner: RunnerLauncher;
  /** A running run whose last chunk is older than this is restarted when someone looks at it. */
  staleAfterMs?: number;
  /** Polling period of `watch`. */
  pollMs?: number;
  /** Runs one API key may have queued or running at once; more are refused (RATE_LIMITED). Default 4. */
  maxActiveRunsPerKey?: number;
  /** Runs one API key may start in an hour, cancelled ones included (RATE_LIMITED). Default 120. */
  maxRunsPerKeyPerHour?: number;
}

/** A refused import (bad rows, bad parts) is the caller's to fix: BAD_USER_INPUT with the row errors. */
async function asUserInput<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DatasetImportError)
      throw new GraphQLError(error.message, {
        extensions: { code: ErrorCode.BAD_USER_INPUT, rowErrors: error.rowErrors.slice(0, 100) },
      });
    throw error;
  }
}

const badInput = (message: string) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT } });

export function createEvalService(options: EvalServiceOptions): EvalService {
  const { db, runner } = options;
  const staleAfterMs = options.staleAfterMs ?? 30_000;
  const pollMs = options.pollMs ?? 1000;
  const runLimits = {
    maxActive: options.maxActiveRunsPerKey ?? 4,
    maxPerHour: options.maxRunsPerKeyPerHour ?? 120,
  };

  const runLimitError = (limit: keyof RunLimits) =>
    new GraphQLError(
      limit === "maxActive"
        ? `this API key has ${runLimits.maxActive} eval runs queued or running; wait for one to finish, or cancel one`
        : `this API key started ${runLimits.maxPerHour} eval runs in the last hour; wait before starting another`,
      { extensions: { code: ErrorCode.RATE_LIMITED, http: { status: 429 } } },
    );

  /** The watchdog: a crash or restart can drop a runner's alarm; looking at the run re-arms it. */
  async function kickIfStale(run: EvalRun): Promise<void> {
    if (TERMINAL.has(run.status)) return;
    const last = Date.parse(run.heartbeatAt ?? run.startedAt ?? run.createdAt);
    if (Date.now() - last > staleAfterMs) await runner.start(run.id).catch(() => undefined);
  }

  return {
    datasets: (first, sha256) => listDatasets(db, first, sha256),
    dataset: (idOrName) => getDataset(db, idOrName),
    importDataset: (input) =>
      asUserInput(() =>
        importDataset(db, {
          name: input.name,
          content: input.content,
          ...(input.split ? { split: input.split } : {}),
        }),
      ),
    startDatasetUpload: (input) => asUserInput(() => startUpload(db, input)),
    uploadDatasetPart: (id, index, content) => asUserInput(() => uploadPart(db, id, index, content)),
    finishDatasetUpload: (id) => asUserInput(() => finishUpload(db, id)),
    runs: (first) => listRuns(db, first),
    async run(id) {
      const run = await getRun(db, id);
      if (run) await kickIfStale(run);
      return run;
    },
    async startRun(input) {
      // A key at its limit is refused before the dataset split's labels are read (a scan of the
      // split): refusals stay as cheap as the two counts.
      const reached = await runLimitReached(db, input.keyId, runLimits);
      if (reached) throw runLimitError(reached);
      const dataset = await getDataset(db, input.dataset);
      if (!dataset) throw badInput(`no dataset "${input.dataset}"`);
      // own properties only: a split named "constructor" or "__proto__" is just not there
      const total = Object.hasOwn(dataset.splits, input.split) ? dataset.splits[input.split] : undefined;
      if (!total) {
        const splits = Object.keys(dataset.splits);
        const have =
          splits.slice(0, 10).join(", ") + (splits.length > 10 ? `, … (${splits.length} in all)` : "");
        const asked = input.split.length > MAX_NAME_CHARS ? `${input.split.slice(0, 40)}…` : input.split;
        throw badInput(`dataset ${dataset.name} has no split "${asked}" (it has ${have})`);
      }
      const model = await options.resolveModel(input.model ?? null);
      const known = new Set(await options.labelsOf(model));
      const unknown = (await datasetLabels(db, dataset.id, input.split)).filter((l) => !known.has(l));
      if (unknown.length > 0)
        throw badInput(
          `dataset ${dataset.name}/${input.split} has ${unknown.length} label(s) that model ${model} does not know: ${unknown.slice(0, 10).join(", ")}`,
        );
      const run = await createRun(
        db,
        { datasetId: dataset.id, split: input.split, model, total, keyId: input.keyId },
        runLimits,
      );
      if ("refused" in run)
        throw run.refused === "keyRevoked"
          ? new GraphQLError("the API key of this request was revoked", {
              extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
            })
          : runLimitError(run.refused);
      await runner.start(run.id);
      return run;
    },
    async cancelRun(id) {
      const run = await getRun(db, id);
      if (!run) throw badInput(`no eval run ${id}`);
      await cancelRun(db, id);
      return (await getRun(db, id))!;
    },
    misclassified: async (run, args) => {
      try {
        return await misclassified(db, run as EvalRun, args);
      } catch (error) {
        throw badInput((error as Error).message);
      }
    },
    compare: (a, b) => compareRuns(a.metrics as StoredMetrics, b.metrics as StoredMetrics),
    watch(id, { signal, stillAllowed, onEnd } = {}) {
      // A client that leaves (signal) or a server that stops reading (return()) ends the polling at
      // once: an async generator's return() would wait for its next yield, which may be minutes
      // away while the run makes no progress, polling D1 for nobody.
      const stop = new AbortController();
      // also when the stream never started (its generator's finally would not run)
      const onAbort = () => {
        stop.abort();
        end();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        signal?.removeEventListener("abort", onAbort);
        onEnd?.();
      };
      const poll = async function* () {
        try {
          let last = "";
          while (!stop.signal.aborted) {
            // the key may have been revoked since the stream began: it reads nothing more then
            if (stillAllowed && !(await stillAllowed()))
              throw new GraphQLError("the API key of this subscription is no longer valid", {
                extensions: { code: ErrorCode.UNAUTHENTICATED },
              });
            const run = await getRun(db, id);
            if (!run) throw badInput(`no eval run ${id}`);
            const key = `${run.status}:${run.done}`;
            if (key !== last) {
              last = key;
              yield run;
            }
            if (TERMINAL.has(run.status)) return;
            await kickIfStale(run);
            await sleep(pollMs, stop.signal);
          }
        } finally {
          end();
        }
      };
      const iterator = poll();
      const stoppable: AsyncIterableIterator<EvalRun> = {
        [Symbol.asyncIterator]() {
          return this;
        },
        next: () => iterator.next(),
        return: (value?: unknown) => {
          stop.abort();
          end(); // also when the generator never started (its finally would not run)
          return iterator.return(value as undefined);
        },
      };
      return stoppable;
    },
  };
}

/**
 * One request's dataset reads by id (EvalRun.dataset): the runs of a page, however many and however
 * aliased, cost one D1 query per 100 distinct datasets instead of one per run.
 */
export function datasetByIdLoader(db: D1Database): (id: string) => Promise<Dataset | null> {
  const loader = new DataLoader<string, Dataset | null>((ids) => datasetsById(db, ids), {
    maxBatchSize: MAX_IDS_PER_QUERY,
  });
  return (id) => loader.load(id);
}

/** The newest succeeded run, of any model and of one (migration 0006 indexes both). */
export const LATEST_RUN_SQL =
  "SELECT id, metrics FROM eval_runs WHERE status = 'succeeded' ORDER BY finished_at DESC LIMIT 1";
export const LATEST_RUN_OF_MODEL_SQL =
  "SELECT id, metrics FROM eval_runs WHERE status = 'succeeded' AND model = ? ORDER BY finished_at DESC LIMIT 1";

/** Distinct `model:` names one request may ask `Intent.latestMetrics` about (one D1 read each). */
export const MAX_METRICS_MODELS = 4;

/**
 * Per-intent metrics of the newest succeeded run, for `Intent.latestMetrics`: of `model` (a model
 * name or an alias, resolved by `resolveModel`; runs store the model they measured by name) or of
 * any model when it is null. One D1 read per distinct model per GraphQL request, however many
 * intents ask; more than MAX_METRICS_MODELS distinct models → TOO_MANY_MODELS.
 */
export function latestIntentMetricsLoader(
  db: D1Database,
  resolveModel: (name: string) => Promise<string>,
): (intent: string, model?: string | null) => Promise<IntentMetricsInfo | null> {
  const latest = new Map<string | null, Promise<{ id: string; metrics: StoredMetrics } | null>>();
  const newest = async (model: string | null) => {
    const query =
      model === null
        ? db.prepare(LATEST_RUN_SQL)
        : db.prepare(LATEST_RUN_OF_MODEL_SQL).bind(await resolveModel(model));
    // a failed read is an error on the field, as for every other eval read, not "no run yet"
    const row = await query.first<{ id: string; metrics: string }>();
    return row ? { id: row.id, metrics: JSON.parse(row.metrics) as StoredMetrics } : null;
  };
  return async (intent, model = null) => {
    let run = latest.get(model);
    if (!run) {
      const named = [...latest.keys()].filter((k) => k !== null).length;
      if (model !== null && named >= MAX_METRICS_MODELS)
        throw new GraphQLError(
          `latestMetrics: more than ${MAX_METRICS_MODELS} distinct models in one request`,
          {
            extensions: { code: ErrorCode.TOO_MANY_MODELS },
          },
        );
      run = newest(model);
      latest.set(model, run);
    }
    const found = await run;
    const label = found?.metrics.perLabel.find((l) => l.label === intent);
    return found && label
      ? {
          evalRunId: found.id,
          precision: label.precision,
          recall: label.recall,
          f1: label.f1,
          support: label.support,
        }
      : null;
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
