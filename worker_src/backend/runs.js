// @ts-check
/**
 * D1 access for runs, their assets and their events. Bound parameters only. Every status change is a
 * conditional UPDATE plus its audit event and its rollup cells (rollups.js) in one batch (one transaction), so a
 * run is never half-written, never moved backwards (see state.js), and the rollups never disagree with it.
 */

import { EVENT, STATUS, TERMINAL } from "./contract.js";
import { cellsStatement } from "./rollups.js";
import { predecessors } from "./state.js";

export const PROVIDER = "dashscope";

/**
 * @typedef {object} RunRow
 * @property {string} id
 * @property {string} request_id         ours, never a client's
 * @property {string | null} client_request_id  the client's own X-Request-Id (0006)
 * @property {string | null} idempotency_key
 * @property {string} request_hash
 * @property {string} provider
 * @property {string} model
 * @property {string | null} provider_request_id
 * @property {string | null} provider_task_id
 * @property {string} status
 * @property {string} prompt
 * @property {string} parameters   JSON
 * @property {string | null} error_code
 * @property {string | null} error_message
 * @property {number} attempts
 * @property {string} created_at
 * @property {string} updated_at
 * @property {string | null} completed_at
 * @property {number} job_seq            the job wake-up this run expects (0002; async only)
 * @property {number} polls              task queries so far (0002; async only)
 * @property {string | null} lease_token  message id of the delivery working on the run (0002)
 * @property {string | null} lease_expires_at
 * @property {"sync" | "async"} mode          sync: carried by one request; async: through the queue (0003)
 * @property {number} retries                 failed deliveries retried (0003)
 * @property {number | null} queue_wait_ms    async: queued → task submitted (0003)
 * @property {number | null} task_ms          the provider's time: the sync call, or the task's submit → end (0003)
 * @property {string | null} change_id        token of the latest status change (0003; see transitionStatements)
 * @property {0 | 1 | null} task_near_budget  task_ms came within the margin of the upstream request timeout (0005)
 * @property {number | null} download_ms     storing the results: download and R2 write (0005)
 * @property {0 | 1 | null} download_near_budget  download_ms came within the margin of the download timeout (0005)
 * @property {number | null} image_bytes     bytes stored for the run (0005)
 */

/**
 * @typedef {object} AssetRow
 * @property {string} run_id
 * @property {number} idx
 * @property {string} r2_key
 * @property {string} sha256
 * @property {number} bytes
 * @property {string} content_type
 * @property {string} source_host
 * @property {string} created_at
 */

/**
 * @typedef {object} EventRow
 * @property {number} id
 * @property {string} at
 * @property {string} type
 * @property {string | null} from_status
 * @property {string | null} to_status
 * @property {string | null} detail   JSON
 */

/** Columns a transition may set besides status/updated_at; anything else is a programming error. */
const SETTABLE = [
  "provider_request_id", "provider_task_id", "error_code", "error_message", "completed_at",
  "job_seq", "polls", "lease_token", "lease_expires_at", "mode", "queue_wait_ms", "task_ms",
  "task_near_budget", "download_ms", "download_near_budget", "image_bytes",
];

export function now() {
  return new Date().toISOString();
}

/**
 * @typedef {object} NewRun
 * @property {string} id
 * @property {string} requestId
 * @property {string | null} clientRequestId
 * @property {string | null} idempotencyKey
 * @property {string} requestHash
 * @property {string} model
 * @property {string} status
 * @property {string} prompt
 * @property {Record<string, unknown>} parameters
 * @property {string} createdAt
 */

/**
 * Insert a run, its first event and its rollup cells atomically. A run created `queued` goes through the queue
 * (mode `async`); the sync path creates it `running`.
 * @param {D1Database} db @param {NewRun} run
 * @returns {Promise<boolean>} false when another run already holds the idempotency key
 */
export async function createRun(db, run) {
  const insert = db
    .prepare(
      `INSERT INTO runs (id, request_id, client_request_id, idempotency_key, request_hash, provider, model, status,
                         prompt, parameters, attempts, created_at, updated_at, mode)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
    )
    .bind(
      run.id, run.requestId, run.clientRequestId, run.idempotencyKey, run.requestHash, PROVIDER, run.model, run.status,
      run.prompt, JSON.stringify(run.parameters), run.createdAt, run.createdAt,
      run.status === STATUS.QUEUED ? "async" : "sync",
    );
  const event = eventStatement(db, run.id, run.createdAt, EVENT.STATUS, null, run.status, { request_id: run.requestId });
  try {
    await db.batch([insert, event, cellsStatement(db, 1, "run_id = ?", [run.id])]);
  } catch (err) {
    if (String(err).includes("UNIQUE constraint failed: runs.idempotency_key")) return false;
    throw err;
  }
  return true;
}

/**
 * @typedef {object} Change
 * @property {Record<string, string | number | null>} [set]   columns from SETTABLE
 * @property {boolean} [countAttempt]                          attempts = attempts + 1
 * @property {Record<string, unknown>} [detail]                 recorded on the status event
 * @property {string} [at]
 * @property {Guard} [guard]                                    further conditions besides the status
 */

/**
 * An extra condition on a transition (`lease_token = ?`), bound like everything else; it guards the UPDATE
 * and its event alike, so an event is recorded only for a change that happened.
 * @typedef {{sql: string, params: (string | number | null)[]}} Guard
 */

/**
 * Move a run to `to` if, and only if, its current status is a legal predecessor; the status event is written
 * in the same transaction (it records the status the run actually left).
 * @param {D1Database} db @param {string} id @param {string} to @param {Change} [change]
 * @returns {Promise<boolean>} false when the run was not in a predecessor status (nothing was written)
 */
export async function transition(db, id, to, change = {}) {
  const { before, update, after } = transitionStatements(db, id, to, change);
  const results = await db.batch([...before, update, ...after]);
  return results[before.length].meta.changes === 1;
}

/**
 * Store the assets of a `persisting` run and mark it `succeeded`, all or nothing.
 * @param {D1Database} db @param {string} id
 * @param {Omit<AssetRow, "run_id" | "created_at">[]} assets
 * @param {Change} [change]
 * @returns {Promise<boolean>} false when the run was no longer `persisting` (no asset row was written)
 */
export async function completeRun(db, id, assets, change = {}) {
  const at = change.at ?? now();
  const guard = change.guard ? ` AND (${change.guard.sql})` : "";
  const inserts = assets.map((a) =>
    db
      .prepare(
        `INSERT INTO run_assets (run_id, idx, r2_key, sha256, bytes, content_type, source_host, created_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM runs WHERE id = ? AND status = ?${guard})`,
      )
      .bind(id, a.idx, a.r2_key, a.sha256, a.bytes, a.content_type, a.source_host, at, id, STATUS.PERSISTING,
        ...(change.guard?.params ?? [])),
  );
  const { before, update, after } = transitionStatements(db, id, STATUS.SUCCEEDED, { ...change, at });
  const results = await db.batch([...inserts, ...before, update, ...after]);
  return results[inserts.length + before.length].meta.changes === 1;
}

/**
 * The statements of one status change, run in this order in one batch. Those before the UPDATE carry its
 * condition and see the run as it was: the status event (recording the status the run actually leaves) and
 * the subtraction of its rollup cells. The UPDATE sets a fresh `change_id`; the statement after it adds the
 * run's new cells only where that token landed, i.e. only if the UPDATE happened.
 * @param {D1Database} db @param {string} id @param {string} to @param {Change} change
 */
function transitionStatements(db, id, to, change) {
  const at = change.at ?? now();
  const from = predecessors(to);
  /** @type {Record<string, string | number | null>} */
  const set = { ...change.set };
  if (TERMINAL.includes(to)) Object.assign(set, { completed_at: at, lease_token: null, lease_expires_at: null });
  if (to === STATUS.QUEUED) set.completed_at = null;
  for (const column of Object.keys(set)) {
    if (!SETTABLE.includes(column)) throw new Error(`transition cannot set column '${column}'`);
  }
  const changeId = crypto.randomUUID();
  const assignments = ["status = ?", "updated_at = ?", "change_id = ?", ...Object.keys(set).map((c) => `${c} = ?`)];
  if (change.countAttempt) assignments.push("attempts = attempts + 1");
  const guard = change.guard ? ` AND (${change.guard.sql})` : "";
  const guardParams = change.guard?.params ?? [];
  const where = `id = ? AND status IN (${from.map(() => "?").join(", ")})${guard}`;
  const event = db
    .prepare(
      `INSERT INTO run_events (run_id, at, type, from_status, to_status, detail)
       SELECT id, ?, ?, status, ?, ? FROM runs WHERE ${where}`,
    )
    .bind(at, EVENT.STATUS, to, change.detail ? JSON.stringify(change.detail) : null, id, ...from, ...guardParams);
  const leave = cellsStatement(db, -1, `run_id IN (SELECT id FROM runs WHERE ${where})`, [id, ...from, ...guardParams]);
  const update = db
    .prepare(`UPDATE runs SET ${assignments.join(", ")} WHERE ${where}`)
    .bind(to, at, changeId, ...Object.values(set), id, ...from, ...guardParams);
  const enter = cellsStatement(db, 1, "run_id = ? AND change_id = ?", [id, changeId]);
  return { before: [event, leave], update, after: [enter] };
}

/**
 * An audit event that is not a status change (`EVENT`: a job sent, a task polled, a delivery skipped, ...).
 * @param {D1Database} db @param {string} runId @param {string} type @param {Record<string, unknown>} detail
 */
export async function addEvent(db, runId, type, detail) {
  await eventStatement(db, runId, now(), type, null, null, detail).run();
}

/**
 * @param {D1Database} db @param {string} runId @param {string} at @param {string} type
 * @param {string | null} from @param {string | null} to @param {Record<string, unknown> | null} detail
 */
function eventStatement(db, runId, at, type, from, to, detail) {
  return db
    .prepare("INSERT INTO run_events (run_id, at, type, from_status, to_status, detail) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(runId, at, type, from, to, detail ? JSON.stringify(detail) : null);
}

/** @param {D1Database} db @param {string} id @returns {Promise<RunRow | null>} */
export async function getRun(db, id) {
  return db.prepare("SELECT * FROM runs WHERE id = ?").bind(id).first();
}

/** @param {D1Database} db @param {string} key @returns {Promise<RunRow | null>} */
export async function findByIdempotencyKey(db, key) {
  return db.prepare("SELECT * FROM runs WHERE idempotency_key = ?").bind(key).first();
}

/** @param {D1Database} db @param {string[]} runIds @returns {Promise<Map<string, AssetRow[]>>} */
export async function getAssets(db, runIds) {
  /** @type {Map<string, AssetRow[]>} */
  const byRun = new Map(runIds.map((id) => [id, []]));
  if (runIds.length === 0) return byRun;
  // One bound JSON array instead of one parameter per id (D1 caps bound parameters per query).
  const { results } = await db
    .prepare("SELECT * FROM run_assets WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, idx")
    .bind(JSON.stringify(runIds))
    .all();
  for (const row of /** @type {AssetRow[]} */ (results)) byRun.get(row.run_id)?.push(row);
  return byRun;
}

/** @param {D1Database} db @param {string} runId @returns {Promise<EventRow[]>} */
export async function getEvents(db, runId) {
  const { results } = await db
    .prepare("SELECT id, at, type, from_status, to_status, detail FROM run_events WHERE run_id = ? ORDER BY id")
    .bind(runId)
    .all();
  return /** @type {EventRow[]} */ (results);
}

/**
 * Newest first, keyset-paginated on (created_at, id): the cursor is a row-value comparison, which SQLite turns
 * into a seek on the same index as the filters (see 0001, and 0006 for client_request_id), so page 1,000 costs
 * what page 1 does. Of `until` and the cursor only the tighter upper bound is sent: SQLite seeks on one of them
 * and would filter by the other, walking every run between them.
 * @param {D1Database} db @param {import("./validate.js").ListQuery} q
 * @returns {Promise<{rows: RunRow[], more: boolean}>}
 */
export async function listRuns(db, q) {
  const cursor = q.cursor && !(q.until && q.until <= q.cursor.createdAt) ? q.cursor : null;
  /** @type {[string, (string | null)[]][]} */
  const filters = [
    ["status = ?", [q.status]],
    ["request_id = ?", [q.requestId]],
    ["client_request_id = ?", [q.clientRequestId]],
    ["created_at >= ?", [q.since]],
    ["created_at < ?", [cursor ? null : q.until]],
    ["(created_at, id) < (?, ?)", cursor ? [cursor.createdAt, cursor.id] : [null]],
  ];
  const used = filters.filter(([, values]) => values.every((v) => v !== null && v !== ""));
  const where = used.length ? `WHERE ${used.map(([clause]) => clause).join(" AND ")}` : "";
  const sql = `SELECT * FROM runs ${where} ORDER BY created_at DESC, id DESC LIMIT ?`;
  const { results } = await db.prepare(sql).bind(...used.flatMap(([, values]) => values), q.limit + 1).all();
  const rows = /** @type {RunRow[]} */ (results);
  return { rows: rows.slice(0, q.limit), more: rows.length > q.limit };
}
