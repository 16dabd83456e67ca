-- Query.datasets and Query.apiKeys page the newest rows (ORDER BY created_at DESC LIMIT ?), and a
-- run start finds a dataset by id or name: each scanned its table (session 15's attack pass listed
-- 5,000 datasets 20 times in one request). These make each an index range.
CREATE INDEX IF NOT EXISTS datasets_created ON datasets (created_at DESC);
CREATE INDEX IF NOT EXISTS datasets_name ON datasets (name, created_at DESC);
CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_at DESC, id);
