// @ts-check
/**
 * The retention purge, run by the backend's cron after the sweeper (infra/model/bindings.py `SWEEP_CRON`).
 *
 * Ended runs (succeeded, failed, dead_lettered) created more than `METADATA_RETENTION_DAYS` ago are deleted with
 * their events and asset rows; their images are R2's to delete, by the bucket's lifecycle, which the settings
 * make expire first (infra/model/settings.py). A run still in progress is never purged, however old: it shows as
 * the oldest active run on /ops. Rollup cells are kept longer than runs, for as long as their grain serves a
 * window (rollups.js `KEPT_SECONDS`), and the purge log itself for the longest window.
 *
 * Bounded so it never holds D1 long: each transaction deletes at most `BATCH_RUNS` runs (with their few events
 * and assets), a tick runs at most `MAX_BATCHES` of them, and one statement per grain deletes at most
 * `BATCH_CELLS` cells; whatever is left waits for the next tick (`more` in the log says so).
 */

import { TERMINAL } from "./contract.js";
import { GRAIN, KEPT_SECONDS } from "./rollups.js";

export const BATCH_RUNS = 100;
export const MAX_BATCHES = 20;
export const BATCH_CELLS = 5000;
/** The purge log is read for the ops summary's windows, at most 30 days. */
const LOG_KEPT_SECONDS = 30 * 86400;
const DAY_MS = 86400000;

/**
 * @typedef {object} Purged
 * @property {string | null} cutoff  ended runs created before this were due; null when runs are kept forever
 * @property {number} runs
 * @property {number} events
 * @property {number} assets
 * @property {number} cells
 * @property {boolean} more          the tick stopped at MAX_BATCHES with runs still due
 * @property {number} ms
 */

/**
 * One tick of the purge; it is recorded in `purges` (0004) when it removed anything.
 * @param {D1Database} db @param {import("./config.js").Config} cfg @param {Date} [at]
 * @returns {Promise<Purged>}
 */
export async function purgeExpired(db, cfg, at = new Date()) {
  const started = Date.now();
  const cutoff = cfg.retentionDays === null ? null : new Date(at.getTime() - cfg.retentionDays * DAY_MS).toISOString();
  const done = { cutoff, runs: 0, events: 0, assets: 0, cells: 0, more: false, ms: 0 };
  for (let batch = 0; cutoff !== null; batch++) {
    const ids = await dueRuns(db, cutoff);
    if (ids.length === 0) break;
    if (batch === MAX_BATCHES) {
      done.more = true;
      break;
    }
    const removed = await deleteRuns(db, ids, cutoff);
    done.runs += removed.runs;
    done.events += removed.events;
    done.assets += removed.assets;
  }
  done.cells = await deleteCells(db, at);
  done.ms = Date.now() - started;
  const stamp = at.toISOString();
  const logCutoff = new Date(at.getTime() - LOG_KEPT_SECONDS * 1000).toISOString();
  /** @type {D1PreparedStatement[]} */
  const log = [db.prepare("DELETE FROM purges WHERE at < ?").bind(logCutoff)];
  if (done.runs + done.events + done.assets + done.cells > 0) {
    log.push(db
      .prepare("INSERT INTO purges (at, cutoff, runs, events, assets, cells, ms, more) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(stamp, cutoff, done.runs, done.events, done.assets, done.cells, done.ms, done.more ? 1 : 0));
  }
  await db.batch(log);
  return done;
}

/**
 * Up to `BATCH_RUNS` ended runs created before `cutoff`, oldest first per status (a seek on runs_status_created).
 * @param {D1Database} db @param {string} cutoff @returns {Promise<string[]>}
 */
async function dueRuns(db, cutoff) {
  const results = await db.batch(TERMINAL.map((status) =>
    db.prepare("SELECT id, created_at FROM runs WHERE status = ? AND created_at < ? ORDER BY created_at LIMIT ?")
      .bind(status, cutoff, BATCH_RUNS)));
  return results
    .flatMap((r) => /** @type {{id: string, created_at: string}[]} */ (r.results))
    .sort((a, b) => (a.created_at < b.created_at ? -1 : 1))
    .slice(0, BATCH_RUNS)
    .map((r) => r.id);
}

/**
 * Delete runs with their events and assets in one transaction, each statement conditional on the run still
 * being ended and old (a run re-driven in the meantime keeps everything).
 * @param {D1Database} db @param {string[]} ids @param {string} cutoff
 */
async function deleteRuns(db, ids, cutoff) {
  const terminal = TERMINAL.map(() => "?").join(", ");
  // CROSS JOIN keeps this order: one primary-key lookup per listed id, not a walk of every run that is due.
  const due = `SELECT r.id FROM json_each(?) AS j CROSS JOIN runs AS r ON r.id = j.value
               WHERE r.status IN (${terminal}) AND r.created_at < ?`;
  const params = [JSON.stringify(ids), ...TERMINAL, cutoff];
  const [events, assets, runs] = await db.batch([
    db.prepare(`DELETE FROM run_events WHERE run_id IN (${due})`).bind(...params),
    db.prepare(`DELETE FROM run_assets WHERE run_id IN (${due})`).bind(...params),
    db.prepare(`DELETE FROM runs WHERE id IN (${due})`).bind(...params),
  ]);
  return { events: events.meta.changes, assets: assets.meta.changes, runs: runs.meta.changes };
}

/**
 * Cells past their grain's keep time, at most `BATCH_CELLS` per grain and tick.
 * @param {D1Database} db @param {Date} at @returns {Promise<number>}
 */
async function deleteCells(db, at) {
  const keys = "grain, bucket, mode, status, error_code";
  const results = await db.batch(Object.values(GRAIN).map((grain) =>
    db
      .prepare(`DELETE FROM run_rollups WHERE (${keys}) IN (
                  SELECT ${keys} FROM run_rollups WHERE grain = ? AND bucket < ? LIMIT ?)`)
      .bind(grain, Math.floor(at.getTime() / 1000) - KEPT_SECONDS[grain], BATCH_CELLS)));
  return results.reduce((n, r) => n + r.meta.changes, 0);
}
