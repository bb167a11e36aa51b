-- 0003_add_run_rollups: per-interval aggregates of the runs, changed in the same D1 batch as every status
-- change, so the ops summary and `python -m infra report` read a bounded number of rows whatever the run count.
--
-- A run belongs to one cell per grain: (grain, bucket, mode, status, error_code), where `bucket` is the start
-- (unix seconds) of the interval its `created_at` falls in. The view `run_cells` is the one definition of a
-- run's cells and measures; worker_src/backend/rollups.js subtracts them before a status change and adds them
-- after it, in the change's own batch. `run_rollup_recount` recomputes every cell from the raw rows; the two
-- agree (tests/e2e/test_rollups.py) except where the retention purge removed runs (rollups outlive them) or
-- old minute cells.
--
-- Grains: 60 s (windows up to 6 h; kept 2 days), 3600 s (longer windows, up to their first midnight past two days;
-- kept 35 days) and 86400 s (the whole days of windows over two days; kept 400 days). The backend's cron purges
-- older cells (worker_src/backend/retention.js).
-- Measures: `runs` counts every cell. The others are recorded for terminal cells only (succeeded, failed,
-- dead_lettered), because an active run's polls or retries may still change without a status change:
--   polls, attempts, retries         sums over the cell's runs
--   queue_wait_runs, queue_wait_ms   runs with a known queue wait (async: queued → task submitted), its sum
--   task_runs, task_ms               runs with a known provider time (sync call; async submit_time → end_time)
--   latency_ms                       sum of request → terminal (completed_at − created_at), in ms
--   lat_le_<ms>                      cumulative histogram: runs whose latency is at most <ms> (`runs` is +Inf)
--
-- New run columns: `mode` (sync: created `running`; async: through the queue, also after a re-drive),
-- `retries` (failed deliveries retried), `queue_wait_ms`, `task_ms`, and `change_id`, a random token set by
-- each status change, which tells the batch's statements after the UPDATE that it happened.

ALTER TABLE runs ADD COLUMN mode TEXT NOT NULL DEFAULT 'sync' CHECK (mode IN ('sync', 'async'));
ALTER TABLE runs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN queue_wait_ms INTEGER;
ALTER TABLE runs ADD COLUMN task_ms INTEGER;
ALTER TABLE runs ADD COLUMN change_id TEXT;

UPDATE runs SET mode = 'async'
 WHERE EXISTS (SELECT 1 FROM run_events e
               WHERE e.run_id = runs.id AND e.type = 'status' AND e.to_status = 'queued');
UPDATE runs SET retries = (SELECT COUNT(*) FROM run_events e
                           WHERE e.run_id = runs.id AND e.type = 'attempt_failed')
 WHERE mode = 'async';

CREATE TABLE run_rollups (
  grain           INTEGER NOT NULL CHECK (grain IN (60, 3600, 86400)),
  bucket          INTEGER NOT NULL,
  mode            TEXT NOT NULL,
  status          TEXT NOT NULL,
  error_code      TEXT NOT NULL,
  runs            INTEGER NOT NULL,
  polls           INTEGER NOT NULL,
  attempts        INTEGER NOT NULL,
  retries         INTEGER NOT NULL,
  queue_wait_runs INTEGER NOT NULL,
  queue_wait_ms   INTEGER NOT NULL,
  task_runs       INTEGER NOT NULL,
  task_ms         INTEGER NOT NULL,
  latency_ms      INTEGER NOT NULL,
  lat_le_100       INTEGER NOT NULL,
  lat_le_125       INTEGER NOT NULL,
  lat_le_150       INTEGER NOT NULL,
  lat_le_200       INTEGER NOT NULL,
  lat_le_250       INTEGER NOT NULL,
  lat_le_300       INTEGER NOT NULL,
  lat_le_400       INTEGER NOT NULL,
  lat_le_500       INTEGER NOT NULL,
  lat_le_600       INTEGER NOT NULL,
  lat_le_800       INTEGER NOT NULL,
  lat_le_1000      INTEGER NOT NULL,
  lat_le_1250      INTEGER NOT NULL,
  lat_le_1500      INTEGER NOT NULL,
  lat_le_2000      INTEGER NOT NULL,
  lat_le_2500      INTEGER NOT NULL,
  lat_le_3000      INTEGER NOT NULL,
  lat_le_4000      INTEGER NOT NULL,
  lat_le_5000      INTEGER NOT NULL,
  lat_le_6000      INTEGER NOT NULL,
  lat_le_8000      INTEGER NOT NULL,
  lat_le_10000     INTEGER NOT NULL,
  lat_le_12500     INTEGER NOT NULL,
  lat_le_15000     INTEGER NOT NULL,
  lat_le_20000     INTEGER NOT NULL,
  lat_le_25000     INTEGER NOT NULL,
  lat_le_30000     INTEGER NOT NULL,
  lat_le_40000     INTEGER NOT NULL,
  lat_le_50000     INTEGER NOT NULL,
  lat_le_60000     INTEGER NOT NULL,
  lat_le_80000     INTEGER NOT NULL,
  lat_le_100000    INTEGER NOT NULL,
  lat_le_125000    INTEGER NOT NULL,
  lat_le_150000    INTEGER NOT NULL,
  lat_le_200000    INTEGER NOT NULL,
  lat_le_250000    INTEGER NOT NULL,
  lat_le_300000    INTEGER NOT NULL,
  lat_le_400000    INTEGER NOT NULL,
  lat_le_500000    INTEGER NOT NULL,
  lat_le_600000    INTEGER NOT NULL,
  lat_le_800000    INTEGER NOT NULL,
  lat_le_1000000   INTEGER NOT NULL,
  lat_le_1800000   INTEGER NOT NULL,
  lat_le_3600000   INTEGER NOT NULL,
  lat_le_86400000  INTEGER NOT NULL,
  PRIMARY KEY (grain, bucket, mode, status, error_code)
) WITHOUT ROWID;

CREATE VIEW run_cells AS
SELECT
  run_id, change_id, grain, created_s / grain * grain AS bucket, mode, status, error_code,
  1 AS runs,
  ended * polls AS polls,
  ended * attempts AS attempts,
  ended * retries AS retries,
  ended AND queue_wait_ms IS NOT NULL AS queue_wait_runs,
  CASE WHEN ended THEN IFNULL(queue_wait_ms, 0) ELSE 0 END AS queue_wait_ms,
  ended AND task_ms IS NOT NULL AS task_runs,
  CASE WHEN ended THEN IFNULL(task_ms, 0) ELSE 0 END AS task_ms,
  CASE WHEN ended THEN latency_ms ELSE 0 END AS latency_ms,
  ended AND latency_ms <= 100 AS lat_le_100,
  ended AND latency_ms <= 125 AS lat_le_125,
  ended AND latency_ms <= 150 AS lat_le_150,
  ended AND latency_ms <= 200 AS lat_le_200,
  ended AND latency_ms <= 250 AS lat_le_250,
  ended AND latency_ms <= 300 AS lat_le_300,
  ended AND latency_ms <= 400 AS lat_le_400,
  ended AND latency_ms <= 500 AS lat_le_500,
  ended AND latency_ms <= 600 AS lat_le_600,
  ended AND latency_ms <= 800 AS lat_le_800,
  ended AND latency_ms <= 1000 AS lat_le_1000,
  ended AND latency_ms <= 1250 AS lat_le_1250,
  ended AND latency_ms <= 1500 AS lat_le_1500,
  ended AND latency_ms <= 2000 AS lat_le_2000,
  ended AND latency_ms <= 2500 AS lat_le_2500,
  ended AND latency_ms <= 3000 AS lat_le_3000,
  ended AND latency_ms <= 4000 AS lat_le_4000,
  ended AND latency_ms <= 5000 AS lat_le_5000,
  ended AND latency_ms <= 6000 AS lat_le_6000,
  ended AND latency_ms <= 8000 AS lat_le_8000,
  ended AND latency_ms <= 10000 AS lat_le_10000,
  ended AND latency_ms <= 12500 AS lat_le_12500,
  ended AND latency_ms <= 15000 AS lat_le_15000,
  ended AND latency_ms <= 20000 AS lat_le_20000,
  ended AND latency_ms <= 25000 AS lat_le_25000,
  ended AND latency_ms <= 30000 AS lat_le_30000,
  ended AND latency_ms <= 40000 AS lat_le_40000,
  ended AND latency_ms <= 50000 AS lat_le_50000,
  ended AND latency_ms <= 60000 AS lat_le_60000,
  ended AND latency_ms <= 80000 AS lat_le_80000,
  ended AND latency_ms <= 100000 AS lat_le_100000,
  ended AND latency_ms <= 125000 AS lat_le_125000,
  ended AND latency_ms <= 150000 AS lat_le_150000,
  ended AND latency_ms <= 200000 AS lat_le_200000,
  ended AND latency_ms <= 250000 AS lat_le_250000,
  ended AND latency_ms <= 300000 AS lat_le_300000,
  ended AND latency_ms <= 400000 AS lat_le_400000,
  ended AND latency_ms <= 500000 AS lat_le_500000,
  ended AND latency_ms <= 600000 AS lat_le_600000,
  ended AND latency_ms <= 800000 AS lat_le_800000,
  ended AND latency_ms <= 1000000 AS lat_le_1000000,
  ended AND latency_ms <= 1800000 AS lat_le_1800000,
  ended AND latency_ms <= 3600000 AS lat_le_3600000,
  ended AND latency_ms <= 86400000 AS lat_le_86400000
FROM (
  SELECT id AS run_id, change_id, unixepoch(created_at) AS created_s, mode, status,
         IFNULL(error_code, '') AS error_code, polls, attempts, retries, queue_wait_ms, task_ms,
         status IN ('succeeded', 'failed', 'dead_lettered') AS ended,
         CAST(ROUND((julianday(completed_at) - julianday(created_at)) * 86400000) AS INTEGER) AS latency_ms
  FROM runs
) CROSS JOIN (SELECT 60 AS grain UNION ALL SELECT 3600 UNION ALL SELECT 86400);

CREATE VIEW run_rollup_recount AS
SELECT
  grain, bucket, mode, status, error_code,
  SUM(runs) AS runs, SUM(polls) AS polls, SUM(attempts) AS attempts, SUM(retries) AS retries,
  SUM(queue_wait_runs) AS queue_wait_runs, SUM(queue_wait_ms) AS queue_wait_ms,
  SUM(task_runs) AS task_runs, SUM(task_ms) AS task_ms, SUM(latency_ms) AS latency_ms,
  SUM(lat_le_100) AS lat_le_100, SUM(lat_le_125) AS lat_le_125, SUM(lat_le_150) AS lat_le_150,
  SUM(lat_le_200) AS lat_le_200, SUM(lat_le_250) AS lat_le_250, SUM(lat_le_300) AS lat_le_300,
  SUM(lat_le_400) AS lat_le_400, SUM(lat_le_500) AS lat_le_500, SUM(lat_le_600) AS lat_le_600,
  SUM(lat_le_800) AS lat_le_800, SUM(lat_le_1000) AS lat_le_1000, SUM(lat_le_1250) AS lat_le_1250,
  SUM(lat_le_1500) AS lat_le_1500, SUM(lat_le_2000) AS lat_le_2000, SUM(lat_le_2500) AS lat_le_2500,
  SUM(lat_le_3000) AS lat_le_3000, SUM(lat_le_4000) AS lat_le_4000, SUM(lat_le_5000) AS lat_le_5000,
  SUM(lat_le_6000) AS lat_le_6000, SUM(lat_le_8000) AS lat_le_8000, SUM(lat_le_10000) AS lat_le_10000,
  SUM(lat_le_12500) AS lat_le_12500, SUM(lat_le_15000) AS lat_le_15000, SUM(lat_le_20000) AS lat_le_20000,
  SUM(lat_le_25000) AS lat_le_25000, SUM(lat_le_30000) AS lat_le_30000, SUM(lat_le_40000) AS lat_le_40000,
  SUM(lat_le_50000) AS lat_le_50000, SUM(lat_le_60000) AS lat_le_60000, SUM(lat_le_80000) AS lat_le_80000,
  SUM(lat_le_100000) AS lat_le_100000, SUM(lat_le_125000) AS lat_le_125000, SUM(lat_le_150000) AS lat_le_150000,
  SUM(lat_le_200000) AS lat_le_200000, SUM(lat_le_250000) AS lat_le_250000, SUM(lat_le_300000) AS lat_le_300000,
  SUM(lat_le_400000) AS lat_le_400000, SUM(lat_le_500000) AS lat_le_500000, SUM(lat_le_600000) AS lat_le_600000,
  SUM(lat_le_800000) AS lat_le_800000, SUM(lat_le_1000000) AS lat_le_1000000, SUM(lat_le_1800000) AS lat_le_1800000,
  SUM(lat_le_3600000) AS lat_le_3600000, SUM(lat_le_86400000) AS lat_le_86400000
FROM run_cells
GROUP BY grain, bucket, mode, status, error_code;

INSERT INTO run_rollups SELECT * FROM run_rollup_recount;
