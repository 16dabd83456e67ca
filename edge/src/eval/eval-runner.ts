import type { D1Database } from "@cloudflare/workers-types";
import type { LabelInfo } from "@intentql/eval-metrics";
import type { RateDecision } from "../limits/rate-limiter.ts";
import {
  cancelRunsOfKey,
  type EvalRun,
  finishRun,
  getRun,
  keyRevoked,
  markRunning,
  type PredictionRecord,
  pendingRows,
  recordPredictions,
  TERMINAL,
} from "./eval-run-store.ts";

export interface ClassifiedText {
  label: string;
  score: number;
  outOfScope: boolean;
}

export interface EvalRunnerDeps {
  db: D1Database;
  /** The production path: tokenizer → batched V2 infer → calibrated label. */
  classify(texts: string[], model: string): Promise<ClassifiedText[]>;
  /** The run's model's labels (name and scenario), in logit order, for its metrics. */
  labelsOf(model: string): Promise<readonly LabelInfo[]>;
  /**
   * The texts-per-key quota of the key that started the run (the one classify draws from): each
   * chunk is charged to it before it goes upstream, so a run is paced by its key's quota instead of
   * being a way around it. Absent: runs are not paced (tests, and runs with no key recorded).
   */
  admit?(keyId: string, texts: number): Promise<RateDecision>;
}

export interface RunSliceOptions {
  /** Texts per upstream call (one D1 transaction each). */
  chunkSize: number;
  /** Stop after this long so that one invocation stays well inside the Worker's limits. */
  budgetMs: number;
  /** Injected in tests to simulate a crash between two chunks. */
  afterChunk?: (done: number) => void | Promise<void>;
}

/** "more": call again now; `{ pausedForMs }`: the key's quota is spent, call again after that long. */
export type SliceOutcome = "more" | "finished" | "ended" | { pausedForMs: number };

/**
 * Works on a run for at most `budgetMs`, or until its key's quota is spent: takes the rows without a
 * prediction, classifies them a chunk at a time and commits each chunk with the run's progress.
 * Everything it needs to continue lives in D1, so a crash anywhere loses at most the chunk in
 * flight, which the next slice redoes.
 */
export async function runSlice(
  deps: EvalRunnerDeps,
  runId: string,
  options: RunSliceOptions,
): Promise<SliceOutcome> {
  const started = Date.now();
  let run: EvalRun | null = await getRun(deps.db, runId);
  if (!run || TERMINAL.has(run.status)) return "ended";
  // A run started in an isolate that still trusted its key after the revocation (key cache TTL)
  // exists past revokeApiKey's cancel: it ends here, at its next slice.
  if (run.keyId && (await keyRevoked(deps.db, run.keyId))) {
    await cancelRunsOfKey(deps.db, run.keyId);
    return "ended";
  }
  await markRunning(deps.db, runId);
  while (Date.now() - started < options.budgetMs) {
    const rows = await pendingRows(deps.db, run, options.chunkSize);
    if (rows.length === 0) {
      await finishRun(deps.db, run, await deps.labelsOf(run.model));
      return "finished";
    }
    if (run.keyId && deps.admit) {
      const decision = await deps.admit(run.keyId, rows.length);
      if (!decision.ok) return { pausedForMs: Math.max(1, decision.retryAfterSeconds) * 1000 };
    }
    const t0 = performance.now();
    const results = await deps.classify(
      rows.map((r) => r.text),
      run.model,
    );
    const latencyMs = performance.now() - t0;
    if (results.length !== rows.length)
      throw new Error(`classifier returned ${results.length} results for ${rows.length} texts`);
    const records: PredictionRecord[] = rows.map((row, i) => ({
      idx: row.idx,
      gold: row.label,
      predicted: results[i]!.label,
      score: results[i]!.score,
      outOfScope: results[i]!.outOfScope,
      latencyMs,
    }));
    // Re-read the status right before the write: a cancel that landed meanwhile wins.
    run = await getRun(deps.db, runId);
    if (!run || TERMINAL.has(run.status)) return "ended";
    await recordPredictions(deps.db, runId, records, latencyMs);
    await options.afterChunk?.(run.done + records.length);
  }
  return "more";
}
