import { computeMetrics, type LabelInfo, percentile, type RunMetrics } from "@intentql/eval-metrics";
import type { Db } from "./dataset-store.ts";

/** misclassified(first:) returns at most this many rows a page. */
export const MAX_MISCLASSIFIED_PAGE = 500;

export type EvalRunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export const TERMINAL: ReadonlySet<EvalRunStatus> = new Set(["succeeded", "failed", "cancelled"]);

export interface EvalRun {
  id: string;
  datasetId: string;
  split: string;
  model: string;
  status: EvalRunStatus;
  total: number;
  done: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  heartbeatAt: string | null;
  error: string | null;
  busyMs: number;
  metrics: StoredMetrics | null;
  /** The API key that started it (null: started before keys were recorded, or key-less tests). */
  keyId: string | null;
}

/** RunMetrics plus the run's speed: what `eval_runs.metrics` holds once a run succeeded. */
export interface StoredMetrics extends RunMetrics {
  latencyMs: { p50: number; p95: number; p99: number };
  textsPerSecond: number;
}

export interface PendingRow {
  idx: number;
  text: string;
  label: string;
}

export interface PredictionRecord {
  idx: number;
  gold: string;
  predicted: string;
  score: number;
  outOfScope: boolean;
  latencyMs: number;
}

interface RunRow {
  id: string;
  dataset_id: string;
  split: string;
  model: string;
  status: EvalRunStatus;
  total: number;
  done: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  heartbeat_at: string | null;
  error: string | null;
  busy_ms: number;
  metrics: string | null;
  key_id: string | null;
}

function toRun(r: RunRow): EvalRun {
  // The metrics text is parsed when first read: a run list that selects only ids parses none.
  let metrics: StoredMetrics | null | undefined;
  return {
    id: r.id,
    datasetId: r.dataset_id,
    split: r.split,
    model: r.model,
    status: r.status,
    total: r.total,
    done: r.done,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    heartbeatAt: r.heartbeat_at,
    error: r.error,
    busyMs: r.busy_ms,
    get metrics() {
      metrics ??= r.metrics ? (JSON.parse(r.metrics) as StoredMetrics) : null;
      return metrics;
    },
    keyId: r.key_id ?? null,
  };
}

const now = () => new Date().toISOString();

export interface NewRun {
  datasetId: string;
  split: string;
  model: string;
  total: number;
  /** The API key starting it (null: none, e.g. in tests). */
  keyId: string | null;
}

/** What one key may start: runs queued or running at once, and runs started in the last hour. */
export interface RunLimits {
  maxActive: number;
  maxPerHour: number;
}

/** Why createRun refused: a limit the key is at, or the key was revoked since its request began. */
export type RunRefusal = keyof RunLimits | "keyRevoked";

/**
 * A queued run, or why `input.keyId` may not start one. Counts, the key's revocation and the insert
 * are one statement, so runs started at once (aliases of one request, parallel requests) cannot all
 * slip under a limit, and a start that was already past its checks when its key was revoked
 * inserts nothing (revokeApiKey cancels only the runs that exist; session 14's second attack pass
 * made 24 of 24 such runs, which then ran to the end).
 */
export async function createRun(db: Db, input: NewRun): Promise<EvalRun>;
export async function createRun(
  db: Db,
  input: NewRun,
  limits: RunLimits,
): Promise<EvalRun | { refused: RunRefusal }>;
export async function createRun(
  db: Db,
  input: NewRun,
  limits: RunLimits = { maxActive: Number.MAX_SAFE_INTEGER, maxPerHour: Number.MAX_SAFE_INTEGER },
): Promise<EvalRun | { refused: RunRefusal }> {
  const id = `run_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  const created = now();
  const hourAgo = new Date(Date.parse(created) - 3_600_000).toISOString();
  const { meta } = await db
    .prepare(
      `INSERT INTO eval_runs (id, dataset_id, split, model, status, total, created_at, key_id)
       SELECT ?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7
       WHERE (SELECT COUNT(*) FROM eval_runs WHERE key_id IS ?7 AND status IN ('queued', 'running')) < ?8
         AND (SELECT COUNT(*) FROM eval_runs WHERE key_id IS ?7 AND created_at > ?9) < ?10
         AND NOT EXISTS (SELECT 1 FROM api_keys WHERE id = ?7 AND revoked_at IS NOT NULL)`,
    )
    .bind(
      id,
      input.datasetId,
      input.split,
      input.model,
      input.total,
      created,
      input.keyId,
      limits.maxActive,
      hourAgo,
      limits.maxPerHour,
    )
    .run();
  if (meta.changes === 1) return (await getRun(db, id))!;
  if (input.keyId && (await keyRevoked(db, input.keyId))) return { refused: "keyRevoked" };
  // which limit refused it (a place freed since the insert reads as the hourly one, as before)
  return { refused: (await runLimitReached(db, input.keyId, limits)) ?? "maxPerHour" };
}

/**
 * The limit a key's next run would break now, or null: two counts, for refusing before the costly
 * checks of a start (its dataset split's labels). createRun checks again, atomically, as it inserts.
 */
export async function runLimitReached(
  db: Db,
  keyId: string | null,
  limits: RunLimits,
): Promise<keyof RunLimits | null> {
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  const counts = await db
    .prepare(
      `SELECT (SELECT COUNT(*) FROM eval_runs WHERE key_id IS ?1 AND status IN ('queued', 'running')) AS active,
              (SELECT COUNT(*) FROM eval_runs WHERE key_id IS ?1 AND created_at > ?2) AS lastHour`,
    )
    .bind(keyId, hourAgo)
    .first<{ active: number; lastHour: number }>();
  if (counts!.active >= limits.maxActive) return "maxActive";
  return counts!.lastHour >= limits.maxPerHour ? "maxPerHour" : null;
}

export async function getRun(db: Db, id: string): Promise<EvalRun | null> {
  const row = await db.prepare("SELECT * FROM eval_runs WHERE id = ?").bind(id).first<RunRow>();
  return row ? toRun(row) : null;
}

export async function listRuns(db: Db, limit = 50): Promise<EvalRun[]> {
  const { results } = await db
    .prepare("SELECT * FROM eval_runs ORDER BY created_at DESC LIMIT ?")
    .bind(limit)
    .all<RunRow>();
  return results.map(toRun);
}

export async function markRunning(db: Db, id: string): Promise<void> {
  await db
    .prepare(
      "UPDATE eval_runs SET status = 'running', started_at = COALESCE(started_at, ?1), heartbeat_at = ?1 WHERE id = ?2 AND status IN ('queued', 'running')",
    )
    .bind(now(), id)
    .run();
}

/**
 * The next rows of the run's split that have no prediction yet, in dataset order. A run's
 * predictions are always a prefix of its split (each chunk is the first pending rows, written in
 * one transaction, by the run's one runner), so the rows after its highest idx are the pending ones:
 * the query starts there instead of skipping every row done (which made a run's D1 work quadratic:
 * 10,053 texts/s at the start of a 150k-row run, 1,442 near its end; session 14's second attack pass).
 */
export async function pendingRows(db: Db, run: EvalRun, limit: number): Promise<PendingRow[]> {
  const { results } = await db
    .prepare(
      `SELECT r.idx AS idx, r.text AS text, r.label AS label FROM dataset_rows r
       LEFT JOIN predictions p ON p.run_id = ?1 AND p.idx = r.idx
       WHERE r.dataset_id = ?2 AND r.split = ?3 AND p.idx IS NULL
         AND r.idx > (SELECT COALESCE(MAX(idx), -1) FROM predictions WHERE run_id = ?1)
       ORDER BY r.idx LIMIT ?4`,
    )
    .bind(run.id, run.datasetId, run.split, limit)
    .all<PendingRow>();
  return results;
}

/**
 * Writes a chunk of predictions and the run's progress in one transaction. INSERT OR IGNORE on the
 * (run_id, idx) key plus a `done` recounted from the table make a replayed chunk harmless.
 */
export async function recordPredictions(
  db: Db,
  runId: string,
  records: PredictionRecord[],
  busyMs: number,
): Promise<void> {
  if (records.length === 0) return;
  const payload = JSON.stringify(
    records.map((r) => [r.idx, r.gold, r.predicted, r.score, r.outOfScope ? 1 : 0, r.latencyMs]),
  );
  await db.batch([
    db
      .prepare(
        `INSERT OR IGNORE INTO predictions (run_id, idx, gold, predicted, score, out_of_scope, latency_ms)
         SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
                json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]')
         FROM json_each(?2)`,
      )
      .bind(runId, payload),
    db
      .prepare(
        `UPDATE eval_runs SET done = (SELECT COUNT(*) FROM predictions WHERE run_id = ?1),
           busy_ms = busy_ms + ?2, heartbeat_at = ?3 WHERE id = ?1`,
      )
      .bind(runId, busyMs, now()),
  ]);
}

export async function finishRun(db: Db, run: EvalRun, labels: readonly LabelInfo[]): Promise<EvalRun> {
  const { results } = await db
    .prepare(
      "SELECT gold, predicted, score, out_of_scope, latency_ms FROM predictions WHERE run_id = ? ORDER BY idx",
    )
    .bind(run.id)
    .all<{ gold: string; predicted: string; score: number; out_of_scope: number; latency_ms: number }>();
  const index = new Map(labels.map((l, i) => [l.name, i]));
  const metrics = computeMetrics(
    results.map((p) => ({
      gold: index.get(p.gold) ?? -1,
      predicted: index.get(p.predicted) ?? -1,
      score: p.score,
      outOfScope: p.out_of_scope === 1,
    })),
    labels,
  );
  const latencies = results.map((p) => p.latency_ms);
  const fresh = (await getRun(db, run.id))!;
  const stored: StoredMetrics = {
    ...metrics,
    latencyMs: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
    },
    textsPerSecond: fresh.busyMs > 0 ? results.length / (fresh.busyMs / 1000) : 0,
  };
  await db
    .prepare(
      "UPDATE eval_runs SET status = 'succeeded', finished_at = ?, metrics = ? WHERE id = ? AND status = 'running'",
    )
    .bind(now(), JSON.stringify(stored), run.id)
    .run();
  return (await getRun(db, run.id))!;
}

/**
 * Ends the queued or running runs whose `column` is `value` with `status` (and `error`, where one
 * is given); returns how many. Runs that had already ended keep their state.
 */
async function endActiveRuns(
  db: Db,
  where: { column: "id" | "key_id"; value: string },
  status: "failed" | "cancelled",
  error: string | null,
): Promise<number> {
  const r = await db
    .prepare(
      `UPDATE eval_runs SET status = ?, finished_at = ?, error = COALESCE(?, error)
       WHERE ${where.column} = ? AND status IN ('queued', 'running')`,
    )
    .bind(status, now(), error, where.value)
    .run();
  return r.meta.changes ?? 0;
}

export async function failRun(db: Db, id: string, error: string): Promise<void> {
  await endActiveRuns(db, { column: "id", value: id }, "failed", error.slice(0, 2000));
}

/** Cancels a queued or running run; returns false when it had already ended. */
export async function cancelRun(db: Db, id: string): Promise<boolean> {
  return (await endActiveRuns(db, { column: "id", value: id }, "cancelled", null)) > 0;
}

/** Whether `keyId` names a revoked API key (a run's key that was never stored reads as not revoked). */
export async function keyRevoked(db: Db, keyId: string): Promise<boolean> {
  const row = await db
    .prepare("SELECT 1 AS revoked FROM api_keys WHERE id = ? AND revoked_at IS NOT NULL")
    .bind(keyId)
    .first<{ revoked: number }>();
  return row !== null;
}

/** Cancels every queued or running run a key started (the key was revoked); returns how many. */
export function cancelRunsOfKey(db: Db, keyId: string): Promise<number> {
  return endActiveRuns(db, { column: "key_id", value: keyId }, "cancelled", "its API key was revoked");
}

export interface MisclassifiedPrediction {
  idx: number;
  text: string;
  gold: string;
  predicted: string;
  score: number;
}

export interface MisclassifiedPage {
  edges: { cursor: string; node: MisclassifiedPrediction }[];
  hasNextPage: boolean;
  endCursor: string | null;
}

const MISCLASSIFIED_COLUMNS = `SELECT p.idx AS idx, r.text AS text, p.gold AS gold, p.predicted AS predicted, p.score AS score
       FROM predictions p JOIN dataset_rows r ON r.dataset_id = ?2 AND r.split = ?3 AND r.idx = p.idx`;

/** A page of a run's wrong predictions after idx ?4: a range of predictions_wrong_idx (migration 0007). */
export const MISCLASSIFIED_SQL = `${MISCLASSIFIED_COLUMNS}
       WHERE p.run_id = ?1 AND p.gold <> p.predicted AND p.idx > ?4
       ORDER BY p.idx LIMIT ?5`;

/**
 * The same for intent ?6, wrong as gold or as prediction: a page from each of two index ranges
 * (predictions_wrong by gold, predictions_wrong_predicted), merged. One `gold = ?6 OR predicted = ?6`
 * filter would use neither index and scan the run.
 */
export const MISCLASSIFIED_OF_INTENT_SQL = `${MISCLASSIFIED_COLUMNS}
       WHERE p.run_id = ?1 AND p.idx IN (
         SELECT idx FROM (SELECT idx FROM predictions WHERE run_id = ?1 AND gold <> predicted AND gold = ?6
                          AND idx > ?4 ORDER BY idx LIMIT ?5)
         UNION
         SELECT idx FROM (SELECT idx FROM predictions WHERE run_id = ?1 AND gold <> predicted AND predicted = ?6
                          AND idx > ?4 ORDER BY idx LIMIT ?5))
       ORDER BY p.idx LIMIT ?5`;

/** Wrong predictions of a run in dataset order, keyset-paginated by idx (the cursor is the idx). */
export async function misclassified(
  db: Db,
  run: EvalRun,
  opts: { first: number; after?: string | null; intent?: string | null },
): Promise<MisclassifiedPage> {
  const first = Math.max(1, Math.min(opts.first, MAX_MISCLASSIFIED_PAGE));
  const after = opts.after == null || opts.after === "" ? -1 : Number.parseInt(atob(opts.after), 10);
  if (!Number.isFinite(after)) throw new Error("invalid cursor");
  const statement =
    opts.intent == null
      ? db.prepare(MISCLASSIFIED_SQL).bind(run.id, run.datasetId, run.split, after, first + 1)
      : db
          .prepare(MISCLASSIFIED_OF_INTENT_SQL)
          .bind(run.id, run.datasetId, run.split, after, first + 1, opts.intent);
  const { results } = await statement.all<MisclassifiedPrediction>();
  const page = results.slice(0, first);
  const edges = page.map((node) => ({ cursor: btoa(String(node.idx)), node }));
  return { edges, hasNextPage: results.length > first, endCursor: edges.at(-1)?.cursor ?? null };
}

export interface IntentDelta {
  intent: string;
  f1A: number;
  f1B: number;
  delta: number;
  support: number;
}

/** Per-intent F1 deltas (b − a), largest change first. */
export function compareRuns(a: StoredMetrics, b: StoredMetrics): IntentDelta[] {
  const byLabel = new Map(a.perLabel.map((l) => [l.label, l]));
  return b.perLabel
    .map((lb) => {
      const la = byLabel.get(lb.label);
      const f1A = la?.f1 ?? 0;
      return {
        intent: lb.label,
        f1A,
        f1B: lb.f1,
        delta: lb.f1 - f1A,
        support: Math.max(lb.support, la?.support ?? 0),
      };
    })
    .sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta) || x.intent.localeCompare(y.intent));
}
