-- 0005_add_budget_measures: how close each run came to the stack's time budgets, how long storing its results took and
-- how many bytes they were, in the run and its rollup cells, so `infra report` and the /ops "sync health" view read
-- request-duration percentiles and the runs near a budget from the cells (docs/runbook.md "Deciding on async").
--
-- New run columns, set by the backend when it measures them (NULL before this migration and where never measured):
--   task_near_budget      1 when the provider's time (`task_ms`: the sync call, or the async task's submit → end) was
--                         at least (1 - ASYNC_RULE.near_budget_margin) × the upstream request timeout the run ran
--                         under, else 0; for an async task it says how a sync call would have fared
--   download_ms           storing the results: download and R2 write, for a run that succeeded
--   download_near_budget  the same test of download_ms against the download timeout
--   image_bytes           the bytes stored for the run
-- New measures (terminal cells only, as in 0003; runs that ended before this migration have none, so cells and the
-- recount of 0003's `differences()` agree without a backfill):
--   timed_runs            runs with a task_near_budget (the task histogram's +Inf)
--   task_near_budget      of them, those near the upstream request budget
--   task_le_<ms>          cumulative histogram of task_ms over the timed runs (a subset of 0003's bounds)
--   download_runs, download_ms, download_near_budget, image_bytes   runs with a download_ms, its sum, those near the
--                         download budget, the bytes stored
-- The table has 86 columns: D1 allows 100 per table.
-- The views are replaced with the new measures; their 0003 part is unchanged.

ALTER TABLE runs ADD COLUMN task_near_budget INTEGER CHECK (task_near_budget IN (0, 1));
ALTER TABLE runs ADD COLUMN download_ms INTEGER;
ALTER TABLE runs ADD COLUMN download_near_budget INTEGER CHECK (download_near_budget IN (0, 1));
ALTER TABLE runs ADD COLUMN image_bytes INTEGER;

ALTER TABLE run_rollups ADD COLUMN timed_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_near_budget INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_1000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_2000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_3000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_5000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_8000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_10000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_15000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_20000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_25000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_30000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_40000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_50000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_60000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_80000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_100000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_125000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_150000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_200000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_250000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_300000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_600000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN task_le_3600000 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN download_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN download_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN download_near_budget INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_rollups ADD COLUMN image_bytes INTEGER NOT NULL DEFAULT 0;

DROP VIEW run_rollup_recount;
DROP VIEW run_cells;

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
  ended AND latency_ms <= 86400000 AS lat_le_86400000,
  ended AND task_near_budget IS NOT NULL AS timed_runs,
  ended AND IFNULL(task_near_budget, 0) = 1 AS task_near_budget,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 1000 AS task_le_1000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 2000 AS task_le_2000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 3000 AS task_le_3000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 5000 AS task_le_5000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 8000 AS task_le_8000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 10000 AS task_le_10000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 15000 AS task_le_15000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 20000 AS task_le_20000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 25000 AS task_le_25000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 30000 AS task_le_30000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 40000 AS task_le_40000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 50000 AS task_le_50000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 60000 AS task_le_60000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 80000 AS task_le_80000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 100000 AS task_le_100000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 125000 AS task_le_125000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 150000 AS task_le_150000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 200000 AS task_le_200000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 250000 AS task_le_250000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 300000 AS task_le_300000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 600000 AS task_le_600000,
  ended AND task_near_budget IS NOT NULL AND task_ms <= 3600000 AS task_le_3600000,
  ended AND download_ms IS NOT NULL AS download_runs,
  CASE WHEN ended THEN IFNULL(download_ms, 0) ELSE 0 END AS download_ms,
  ended AND IFNULL(download_near_budget, 0) = 1 AS download_near_budget,
  CASE WHEN ended THEN IFNULL(image_bytes, 0) ELSE 0 END AS image_bytes
FROM (
  SELECT id AS run_id, change_id, unixepoch(created_at) AS created_s, mode, status,
         IFNULL(error_code, '') AS error_code, polls, attempts, retries, queue_wait_ms, task_ms,
         task_near_budget, download_ms, download_near_budget, image_bytes,
         status IN ('succeeded', 'failed', 'dead_lettered') AS ended,
         CAST(ROUND((julianday(completed_at) - julianday(created_at)) * 86400000) AS INTEGER) AS latency_ms
  FROM runs
) CROSS JOIN (SELECT 60 AS grain UNION ALL SELECT 3600 UNION ALL SELECT 86400);

CREATE VIEW run_rollup_recount AS
SELECT
  grain, bucket, mode, status, error_code,
  SUM(runs) AS runs, SUM(polls) AS polls, SUM(attempts) AS attempts, SUM(retries) AS retries,
  SUM(queue_wait_runs) AS queue_wait_runs, SUM(queue_wait_ms) AS queue_wait_ms, SUM(task_runs) AS task_runs,
  SUM(task_ms) AS task_ms, SUM(latency_ms) AS latency_ms, SUM(lat_le_100) AS lat_le_100,
  SUM(lat_le_125) AS lat_le_125, SUM(lat_le_150) AS lat_le_150, SUM(lat_le_200) AS lat_le_200,
  SUM(lat_le_250) AS lat_le_250, SUM(lat_le_300) AS lat_le_300, SUM(lat_le_400) AS lat_le_400,
  SUM(lat_le_500) AS lat_le_500, SUM(lat_le_600) AS lat_le_600, SUM(lat_le_800) AS lat_le_800,
  SUM(lat_le_1000) AS lat_le_1000, SUM(lat_le_1250) AS lat_le_1250, SUM(lat_le_1500) AS lat_le_1500,
  SUM(lat_le_2000) AS lat_le_2000, SUM(lat_le_2500) AS lat_le_2500, SUM(lat_le_3000) AS lat_le_3000,
  SUM(lat_le_4000) AS lat_le_4000, SUM(lat_le_5000) AS lat_le_5000, SUM(lat_le_6000) AS lat_le_6000,
  SUM(lat_le_8000) AS lat_le_8000, SUM(lat_le_10000) AS lat_le_10000, SUM(lat_le_12500) AS lat_le_12500,
  SUM(lat_le_15000) AS lat_le_15000, SUM(lat_le_20000) AS lat_le_20000, SUM(lat_le_25000) AS lat_le_25000,
  SUM(lat_le_30000) AS lat_le_30000, SUM(lat_le_40000) AS lat_le_40000, SUM(lat_le_50000) AS lat_le_50000,
  SUM(lat_le_60000) AS lat_le_60000, SUM(lat_le_80000) AS lat_le_80000, SUM(lat_le_100000) AS lat_le_100000,
  SUM(lat_le_125000) AS lat_le_125000, SUM(lat_le_150000) AS lat_le_150000, SUM(lat_le_200000) AS lat_le_200000,
  SUM(lat_le_250000) AS lat_le_250000, SUM(lat_le_300000) AS lat_le_300000, SUM(lat_le_400000) AS lat_le_400000,
  SUM(lat_le_500000) AS lat_le_500000, SUM(lat_le_600000) AS lat_le_600000, SUM(lat_le_800000) AS lat_le_800000,
  SUM(lat_le_1000000) AS lat_le_1000000, SUM(lat_le_1800000) AS lat_le_1800000,
  SUM(lat_le_3600000) AS lat_le_3600000, SUM(lat_le_86400000) AS lat_le_86400000, SUM(timed_runs) AS timed_runs,
  SUM(task_near_budget) AS task_near_budget, SUM(task_le_1000) AS task_le_1000, SUM(task_le_2000) AS task_le_2000,
  SUM(task_le_3000) AS task_le_3000, SUM(task_le_5000) AS task_le_5000, SUM(task_le_8000) AS task_le_8000,
  SUM(task_le_10000) AS task_le_10000, SUM(task_le_15000) AS task_le_15000, SUM(task_le_20000) AS task_le_20000,
  SUM(task_le_25000) AS task_le_25000, SUM(task_le_30000) AS task_le_30000, SUM(task_le_40000) AS task_le_40000,
  SUM(task_le_50000) AS task_le_50000, SUM(task_le_60000) AS task_le_60000, SUM(task_le_80000) AS task_le_80000,
  SUM(task_le_100000) AS task_le_100000, SUM(task_le_125000) AS task_le_125000,
  SUM(task_le_150000) AS task_le_150000, SUM(task_le_200000) AS task_le_200000,
  SUM(task_le_250000) AS task_le_250000, SUM(task_le_300000) AS task_le_300000,
  SUM(task_le_600000) AS task_le_600000, SUM(task_le_3600000) AS task_le_3600000,
  SUM(download_runs) AS download_runs, SUM(download_ms) AS download_ms,
  SUM(download_near_budget) AS download_near_budget, SUM(image_bytes) AS image_bytes
FROM run_cells
GROUP BY grain, bucket, mode, status, error_code;
