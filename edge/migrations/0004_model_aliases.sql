-- Model aliases: a name (`default`, `stable`, …) that classify(model:) and eval runs accept in place
-- of a served model, pinned to one version of it, so that switching and rolling back the model in
-- use is one admin call and never a Worker deploy.
CREATE TABLE model_aliases (
  alias TEXT PRIMARY KEY NOT NULL,
  model TEXT NOT NULL,
  version TEXT NOT NULL,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
