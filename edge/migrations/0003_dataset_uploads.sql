-- Dataset uploads in parts: a file larger than one request body travels as numbered parts, each
-- written once (a re-sent part replaces itself), and becomes a dataset only when every part is
-- there and the whole matches its sha256. An interrupted upload resumes where it stopped; nothing is
-- imported until the end, and then atomically (edge/src/eval/dataset-store.ts).

CREATE TABLE IF NOT EXISTS dataset_uploads (
  id TEXT PRIMARY KEY,             -- up_<16 hex of sha256(content sha256, name, split)>: the same file resumes
  name TEXT NOT NULL,
  split TEXT,
  content_sha256 TEXT NOT NULL,
  parts INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS dataset_upload_parts (
  upload_id TEXT NOT NULL REFERENCES dataset_uploads(id),
  idx INTEGER NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (upload_id, idx)
);
