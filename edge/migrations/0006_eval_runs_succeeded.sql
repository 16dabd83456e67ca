-- Intent.latestMetrics reads the newest succeeded run, of any model or of one: without these, both
-- queries scanned every run and sorted them (and read each one's metrics JSON) per request; a
-- history of 5,000 runs took 10-22 ms a query (session 14's attack pass), with them ~0.01 ms.
CREATE INDEX IF NOT EXISTS eval_runs_succeeded ON eval_runs (finished_at DESC) WHERE status = 'succeeded';
CREATE INDEX IF NOT EXISTS eval_runs_succeeded_model ON eval_runs (model, finished_at DESC) WHERE status = 'succeeded';
