-- Datasets (labelled utterances) and eval runs with every prediction.
-- A dataset is identified by the sha256 of its normalised rows: importing the same content again
-- returns the same dataset. Predictions are keyed (run_id, idx): a resumed run can only ever write a
-- row once, so a crash can neither lose nor double-count a prediction.

CREATE TABLE IF NOT EXISTS datasets (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  row_count INTEGER NOT NULL,
  splits TEXT NOT NULL,            -- JSON object: split -> row count
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS dataset_rows (
  dataset_id TEXT NOT NULL REFERENCES datasets(id),
  split TEXT NOT NULL,
  idx INTEGER NOT NULL,            -- 0-based position within (dataset, split)
  text TEXT NOT NULL,
  label TEXT NOT NULL,
  PRIMARY KEY (dataset_id, split, idx)
);

CREATE TABLE IF NOT EXISTS eval_runs (
  id TEXT PRIMARY KEY,
  dataset_id TEXT NOT NULL REFERENCES datasets(id),
  split TEXT NOT NULL,
  model TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  total INTEGER NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  heartbeat_at TEXT,               -- last chunk written; a stale one on a running run gets it re-kicked
  error TEXT,
  busy_ms REAL NOT NULL DEFAULT 0, -- time spent classifying, for texts/s
  metrics TEXT                     -- JSON RunMetrics once succeeded
);
CREATE INDEX IF NOT EXISTS eval_runs_created ON eval_runs (created_at DESC);

CREATE TABLE IF NOT EXISTS predictions (
  run_id TEXT NOT NULL REFERENCES eval_runs(id),
  idx INTEGER NOT NULL,
  gold TEXT NOT NULL,
  predicted TEXT NOT NULL,
  score REAL NOT NULL,
  out_of_scope INTEGER NOT NULL,
  latency_ms REAL NOT NULL,        -- of the upstream batch this text was in
  PRIMARY KEY (run_id, idx)
);
CREATE INDEX IF NOT EXISTS predictions_wrong ON predictions (run_id, gold, idx) WHERE gold <> predicted;
