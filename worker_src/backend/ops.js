// @ts-check
/**
 * The operational summary (`GET /api/ops/summary`): run counts by status over a window, the oldest run still
 * in progress, how many runs wait in `dead_lettered` for a re-drive, request → `succeeded` latency
 * percentiles, and the latest failures. Every query is served by an index of 0001 (status, created_at);
 * the percentiles sort only the window's succeeded runs.
 */

import { ACTIVE, STATUS, STATUSES } from "./contract.js";
import { invalid } from "./http.js";

const WINDOW = /^(\d{1,4})([mhd])$/;
const UNIT_SECONDS = { m: 60, h: 3600, d: 86400 };
export const WINDOW_DEFAULT = "24h";
const WINDOW_MAX_SECONDS = 30 * 86400;
const FAILURES_SHOWN = 10;
const DURATION_MS = "CAST(ROUND((julianday(completed_at) - julianday(created_at)) * 86400000) AS INTEGER)";

/**
 * `window` as seconds: `30m`, `24h`, `7d` … up to 30 days.
 * @param {string | null} value @returns {{text: string, seconds: number}}
 */
export function parseWindow(value) {
  const text = value ?? WINDOW_DEFAULT;
  const match = WINDOW.exec(text);
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[/** @type {"m" | "h" | "d"} */ (match[2])] : 0;
  if (!match || seconds < 60 || seconds > WINDOW_MAX_SECONDS) {
    throw invalid("window", "must be a duration such as 30m, 24h or 7d, from 1m to 30d");
  }
  return { text, seconds };
}

/**
 * @param {D1Database} db @param {{text: string, seconds: number}} window @param {number} [nowMs]
 */
export async function opsSummary(db, window, nowMs = Date.now()) {
  const until = new Date(nowMs).toISOString();
  const since = new Date(nowMs - window.seconds * 1000).toISOString();
  const count = (/** @type {string} */ status) =>
    db.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = ? AND created_at >= ?").bind(status, since);
  const oldest = (/** @type {string} */ status) =>
    db.prepare("SELECT id, status, created_at FROM runs WHERE status = ? ORDER BY created_at, id LIMIT 1").bind(status);
  const failures = (/** @type {string} */ status) =>
    db
      .prepare(
        `SELECT id, status, error_code, error_message, created_at, completed_at FROM runs
         WHERE status = ? AND created_at >= ? ORDER BY created_at DESC, id DESC LIMIT ?`,
      )
      .bind(status, since, FAILURES_SHOWN);
  const ENDED = [STATUS.FAILED, STATUS.DEAD_LETTERED];
  const results = await db.batch([
    ...STATUSES.map(count),
    ...ACTIVE.map(oldest),
    ...ENDED.map(failures),
    db.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = ?").bind(STATUS.DEAD_LETTERED),
  ]);
  const rows = (/** @type {number} */ i) => /** @type {Record<string, any>[]} */ (results[i].results);
  /** @type {Record<string, number>} */
  const counts = Object.fromEntries(STATUSES.map((status, i) => [status, Number(rows(i)[0].n)]));
  const active = ACTIVE.map((_, i) => rows(STATUSES.length + i)[0]).filter(Boolean);
  const first = active.sort((a, b) => (a.created_at < b.created_at ? -1 : 1))[0];
  const failed = ENDED.flatMap((_, i) => rows(STATUSES.length + ACTIVE.length + i))
    .sort((a, b) => (a.created_at < b.created_at ? 1 : -1))
    .slice(0, FAILURES_SHOWN);
  return {
    window: { text: window.text, seconds: window.seconds, since, until },
    counts,
    total: Object.values(counts).reduce((a, b) => a + b, 0),
    dead_lettered: Number(rows(results.length - 1)[0].n),
    oldest_active: first
      ? {
          run_id: first.id,
          status: first.status,
          created_at: first.created_at,
          age_seconds: Math.max(0, Math.round((nowMs - Date.parse(first.created_at)) / 1000)),
        }
      : null,
    latency_ms: await percentiles(db, since, counts[STATUS.SUCCEEDED]),
    latest_failures: failed.map((r) => ({
      run_id: r.id,
      status: r.status,
      error: r.error_code ? { code: r.error_code, message: r.error_message } : null,
      created_at: r.created_at,
      completed_at: r.completed_at,
    })),
  };
}

/**
 * p50/p95 of request → `succeeded` over the window's succeeded runs (nearest rank), null without any.
 * @param {D1Database} db @param {string} since @param {number} n
 */
async function percentiles(db, since, n) {
  if (n === 0) return { succeeded: 0, p50: null, p95: null };
  const at = (/** @type {number} */ q) =>
    db
      .prepare(
        `SELECT ${DURATION_MS} AS ms FROM runs WHERE status = ? AND created_at >= ?
         ORDER BY ms LIMIT 1 OFFSET ?`,
      )
      .bind(STATUS.SUCCEEDED, since, Math.max(0, Math.ceil(q * n) - 1));
  const [p50, p95] = await db.batch([at(0.5), at(0.95)]);
  const ms = (/** @type {D1Result} */ r) => {
    const row = /** @type {{ms: number} | undefined} */ (r.results[0]);
    return row ? Number(row.ms) : null;
  };
  return { succeeded: n, p50: ms(p50), p95: ms(p95) };
}
