-- 0001_create_runs: workflow runs, the images each run stored in R2, and an append-only audit trail.
--
-- Timestamps are ISO-8601 UTC strings with milliseconds (`2026-01-02T03:04:05.678Z`), which sort
-- lexicographically in time order. Status transitions are made by conditional UPDATEs in
-- worker_src/backend/runs.js; the CHECK below only keeps unknown values out (it lists RunStatus of
-- infra/model/contract.py, and a test holds the two equal).
-- Every filter the API offers (status, since/until, request id, idempotency key, provider task id) is
-- served by an index.

CREATE TABLE runs (
  id                  TEXT PRIMARY KEY,
  request_id          TEXT NOT NULL,
  idempotency_key     TEXT,
  request_hash        TEXT NOT NULL,          -- sha256 of the validated request; tells a replay from a conflict
  provider            TEXT NOT NULL,
  model               TEXT NOT NULL,
  provider_request_id TEXT,
  provider_task_id    TEXT,
  status              TEXT NOT NULL CHECK (status IN
                        ('queued', 'submitted', 'running', 'persisting', 'succeeded', 'failed', 'dead_lettered')),
  prompt              TEXT NOT NULL,
  parameters          TEXT NOT NULL,          -- JSON object: negative_prompt, size, seed (as requested)
  error_code          TEXT,
  error_message       TEXT,
  attempts            INTEGER NOT NULL DEFAULT 0,
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  completed_at        TEXT
);

CREATE UNIQUE INDEX runs_idempotency_key ON runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX runs_provider_task ON runs (provider, provider_task_id) WHERE provider_task_id IS NOT NULL;
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_status_created ON runs (status, created_at, id);
CREATE INDEX runs_request_id ON runs (request_id, created_at, id);

CREATE TABLE run_assets (
  run_id       TEXT NOT NULL REFERENCES runs (id),
  idx          INTEGER NOT NULL CHECK (idx >= 0),
  r2_key       TEXT NOT NULL UNIQUE,
  sha256       TEXT NOT NULL,
  bytes        INTEGER NOT NULL CHECK (bytes >= 0),
  content_type TEXT NOT NULL,
  source_host  TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (run_id, idx)
);

CREATE TABLE run_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id      TEXT NOT NULL REFERENCES runs (id),
  at          TEXT NOT NULL,
  type        TEXT NOT NULL,                  -- EventType in infra/model/contract.py: status, job_sent, ...
  from_status TEXT,
  to_status   TEXT,
  detail      TEXT                            -- JSON object; never credentials or signed URLs
);

CREATE INDEX run_events_run ON run_events (run_id, id);
