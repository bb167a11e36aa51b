-- 0002_add_job_leases: what the queue consumer needs to stay safe under at-least-once delivery.
--
-- A job message names a run and a wake-up number (`{"run_id", "seq"}`); the run keeps the number of the
-- wake-up it expects (`job_seq`), so a message for an earlier one is recognised as stale and dropped. The
-- delivery that works on a run holds a short lease (`lease_token` = its message id, `lease_expires_at`),
-- taken and released by conditional UPDATEs in worker_src/backend/leases.js: two deliveries never work on
-- one run at the same time, and a lease left by a crashed delivery expires. `polls` counts task queries for
-- the poll budget and the growing delay. One task per run and one asset per (run, index) were already
-- enforced by 0001 (`provider_task_id` column + `runs_provider_task`, `run_assets` primary key).

ALTER TABLE runs ADD COLUMN job_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN polls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_token TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_at TEXT;
