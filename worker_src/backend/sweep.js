// @ts-check
/**
 * The sweeper of abandoned sync runs, run by the backend's cron trigger (infra/model/bindings.py `SWEEP_CRON`).
 *
 * In sync mode one request carries a run from `running` to a terminal status. If the Worker dies mid-request
 * (evicted, redeployed, crashed), nothing else will ever move that run: it stays `running`/`persisting`, and a
 * `persisting` run may have left objects in R2. A sync run that has not changed for longer than any live
 * request can keep it (`SWEEP_AFTER_SECONDS`: provider call + download + margin) is therefore failed with the
 * code `abandoned`, and whatever it stored under its key prefix is deleted.
 *
 * Async runs are never touched: their deliveries hold leases and are redelivered (see leases.js).
 */

import { EVENT, STATUS } from "./contract.js";
import { assetKey, deleteObjects } from "./persist.js";
import { failRun } from "./workflow.js";

/** Non-terminal statuses a sync run can be left in (the sync path never records `queued`). */
const STRANDED = Object.freeze([STATUS.SUBMITTED, STATUS.RUNNING, STATUS.PERSISTING]);
/** Runs handled per tick; the rest wait for the next one (a tick must stay well inside a cron's CPU budget). */
const SWEEP_BATCH = 50;

/**
 * "This is a sync run": it never passed through `queued`. Every async run is created `queued` (routes.js
 * `generateAsync`) and an operator re-drive moves a run back to `queued` too, while the sync path creates a
 * run `running` and never queues it. The lease columns (0002) cannot tell: a freshly queued async run has
 * `job_seq = 0` and no lease, exactly like a sync run. The status events, written in the same transaction
 * as every status change, are the reliable record. Served by the `run_events_run` index.
 */
const NEVER_QUEUED = `NOT EXISTS (SELECT 1 FROM run_events e
  WHERE e.run_id = runs.id AND e.type = ? AND e.to_status = ?)`;

/**
 * The condition a run must still meet when the sweeper fails it, bound like everything else.
 * @param {string} cutoff @returns {import("./runs.js").Guard}
 */
function stranded(cutoff) {
  return {
    sql: `status IN (${STRANDED.map(() => "?").join(", ")}) AND updated_at < ? AND ${NEVER_QUEUED}`,
    params: [...STRANDED, cutoff, EVENT.STATUS, STATUS.QUEUED],
  };
}

/**
 * @typedef {object} SweptRun
 * @property {string} id
 * @property {string} status      the status it was stuck in
 * @property {number} stuckSeconds
 * @property {number} objectsDeleted
 */

/**
 * Fail every sync run that has been non-terminal since before `cfg.sweepAfterSeconds` ago, at most
 * `SWEEP_BATCH` per call, oldest first.
 * @param {import("./config.js").Env} env @param {import("./config.js").Config} cfg
 * @param {import("./log.js").Invocation} log  the cron tick's (a failed clean-up is noted there)
 * @param {Date} [at]
 * @returns {Promise<SweptRun[]>}
 */
export async function sweepAbandonedRuns(env, cfg, log, at = new Date()) {
  const cutoff = new Date(at.getTime() - cfg.sweepAfterSeconds * 1000).toISOString();
  const where = stranded(cutoff);
  const { results } = await env.DB
    .prepare(`SELECT id, status, created_at, updated_at FROM runs WHERE ${where.sql} ORDER BY updated_at LIMIT ?`)
    .bind(...where.params, SWEEP_BATCH)
    .all();
  /** @type {SweptRun[]} */
  const swept = [];
  for (const row of /** @type {{id: string, status: string, created_at: string, updated_at: string}[]} */ (results)) {
    const done = await abandon(env, row, cutoff, at, log);
    if (done) swept.push(done);
  }
  return swept;
}

/**
 * Fail one run, but only if it is still in a stranded status, unchanged since before `cutoff` and never
 * queued (the UPDATE and its event are conditional on all three, so a run that moved on in the meantime is
 * left as it is); then remove what it may have stored.
 * @param {import("./config.js").Env} env
 * @param {{id: string, status: string, created_at: string, updated_at: string}} row
 * @param {string} cutoff @param {Date} at @param {import("./log.js").Invocation} log
 * @returns {Promise<SweptRun | null>}
 */
async function abandon(env, row, cutoff, at, log) {
  const stuckSeconds = Math.round((at.getTime() - Date.parse(row.updated_at)) / 1000);
  const error = {
    code: "abandoned",
    message: `the run was stuck in '${row.status}' for ${describe(stuckSeconds)} (the backend stopped mid-request)`,
  };
  const detail = { stage: "sweep", stuck_in: row.status, stuck_seconds: stuckSeconds, since: row.updated_at };
  if (!(await failRun(env.DB, row.id, error, detail, false, stranded(cutoff)))) return null;
  const objectsDeleted = await removeStored(env, row.id, row.created_at, log);
  return { id: row.id, status: row.status, stuckSeconds, objectsDeleted };
}

/**
 * Delete the R2 objects under the run's prefix and its `run_assets` rows, unless the run succeeded (a run the
 * sweeper failed never did; the condition keeps this safe on its own).
 * @param {import("./config.js").Env} env @param {string} runId @param {string} createdAt
 * @param {import("./log.js").Invocation} log
 * @returns {Promise<number>} objects deleted
 */
async function removeStored(env, runId, createdAt, log) {
  await env.DB
    .prepare("DELETE FROM run_assets WHERE run_id = ? AND NOT EXISTS (SELECT 1 FROM runs WHERE id = ? AND status = ?)")
    .bind(runId, runId, STATUS.SUCCEEDED)
    .run();
  const prefix = runPrefix(runId, createdAt);
  let deleted = 0;
  /** @type {string | undefined} */
  let cursor;
  do {
    const page = await env.MEDIA.list({ prefix, cursor });
    const keys = page.objects.map((o) => o.key);
    await deleteObjects(env.MEDIA, keys, log);
    deleted += keys.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return deleted;
}

/**
 * `<MEDIA_KEY_PREFIX><yyyy>/<mm>/<dd>/<run_id>/`: the folder persist.js writes a run's assets into.
 * @param {string} runId @param {string} createdAt
 */
function runPrefix(runId, createdAt) {
  const key = assetKey(runId, createdAt, 0, "x");
  return key.slice(0, key.lastIndexOf("/") + 1);
}

/** @param {number} seconds */
function describe(seconds) {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
