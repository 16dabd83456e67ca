-- The API key that started each run: a key has at most a few runs queued or running at once and
-- so many started an hour, and a run's texts are drawn from that key's texts-per-key quota as it
-- goes (docs/SECURITY.md). Runs from before this column have none, and are not paced.
ALTER TABLE eval_runs ADD COLUMN key_id TEXT;
CREATE INDEX IF NOT EXISTS eval_runs_key_active ON eval_runs (key_id, status);
CREATE INDEX IF NOT EXISTS eval_runs_key_created ON eval_runs (key_id, created_at);
