-- API keys. The key itself is never stored: `key_hash` is hex HMAC-SHA256(API_KEY_PEPPER, key), so a
-- copy of this table is useless without the Worker's secret. `id` is the key's public part
-- (iql_<id>_<secret>) and finds the row; the hash is then compared in constant time.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY NOT NULL,
  key_hash TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  -- comma-separated subset of: classify, eval, admin
  scopes TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  revoked_at TEXT
);
