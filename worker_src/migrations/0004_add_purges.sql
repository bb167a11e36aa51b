-- 0004_add_purges: what the retention purge removed, one row per cron tick that removed anything.
--
-- The backend's cron (worker_src/backend/retention.js) deletes ended runs older than METADATA_RETENTION_DAYS with
-- their events and asset rows, and rollup cells past their grain's keep time, in small batches. The ops summary
-- shows the latest row and the sums over its window; rows older than 30 days (the longest window) are purged too.

CREATE TABLE purges (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  at      TEXT NOT NULL,              -- when the tick ran (ISO-8601 UTC, like every time in this database)
  cutoff  TEXT,                       -- ended runs created before this were due; NULL when runs are kept forever
  runs    INTEGER NOT NULL,
  events  INTEGER NOT NULL,
  assets  INTEGER NOT NULL,
  cells   INTEGER NOT NULL,           -- rollup cells
  ms      INTEGER NOT NULL,           -- how long the tick's purge took
  more    INTEGER NOT NULL CHECK (more IN (0, 1))   -- 1: the tick stopped at its batch limit with runs still due
);

CREATE INDEX purges_at ON purges (at);
