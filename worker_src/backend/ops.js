// @ts-check
/**
 * The operational summary (`GET /api/ops/summary`). Everything about the window comes from the rollup cells
 * (rollups.js): counts by status, runs per interval, the latency histogram and its percentiles, the terminal
 * runs' polls, attempts, retries, queue wait and provider time by mode, the error codes. A window reads at most
 * one cell per (interval, mode, status, error code), with the coarsest cells that cover it (`cellsFor`: minute
 * cells up to 6 h, hour cells, and day cells for the whole days of windows over two days), a few hundred rows
 * at most, so its cost does not depend on the number of runs (nor does the count of dead letters waiting, which
 * stops at `DEAD_LETTERS_COUNTED`). It starts at the beginning of the minute (up to
 * 6 h) or hour it begins in, for the cells and the latest failures alike. The oldest run in progress, the dead
 * letters waiting and the latest failures are index seeks on `runs` (0001), bounded by LIMIT or by the runs
 * waiting. `health` is the evidence for deciding on async (docs/runbook.md): per mode, failures by cause (what a
 * retry would absorb, failures.js), the provider time and the sync request time against the stack's budgets, the
 * runs that came within `ASYNC_RULE.nearBudgetMargin` of one, polls, retries, queue wait and dead letters.
 */

import { ACTIVE, ASYNC_RULE, STATUS, STATUSES, TERMINAL } from "./contract.js";
import { absorbed, causeOf } from "./failures.js";
import { invalid } from "./http.js";
import {
  HISTOGRAM, LATENCY_BOUNDS_MS, MEASURES, TASK_BOUNDS_MS, TASK_HISTOGRAM, cellsFor, percentile, rangesWhere,
} from "./rollups.js";

const DURATION = /^(\d{1,4})([mhd])$/;
const UNIT_SECONDS = { m: 60, h: 3600, d: 86400 };
export const WINDOW_DEFAULT = "24h";
const WINDOW_MAX_SECONDS = 30 * 86400;
const FAILURES_SHOWN = 10;
const ERRORS_SHOWN = 20;
/** Dead letters are counted up to this many: a backlog is a backlog, and counting it all would walk all of it. */
const DEAD_LETTERS_COUNTED = 1000;
/** Interval lengths a series may use; without `step` the shortest that gives at most `POINTS_AUTO` points. */
const STEPS = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400];
const POINTS_AUTO = 60;
const POINTS_MAX = 1000;
const MODES = /** @type {const} */ (["sync", "async"]);

/** @param {string | null} text @returns {number | null} seconds of `30m`, `24h`, `7d` … */
function duration(text) {
  const match = text === null ? null : DURATION.exec(text);
  return match ? Number(match[1]) * UNIT_SECONDS[/** @type {"m" | "h" | "d"} */ (match[2])] : null;
}

/**
 * `window` as seconds: `30m`, `24h`, `7d` … up to 30 days.
 * @param {string | null} value @returns {{text: string, seconds: number}}
 */
export function parseWindow(value) {
  const text = value ?? WINDOW_DEFAULT;
  const seconds = duration(text);
  if (seconds === null || seconds < 60 || seconds > WINDOW_MAX_SECONDS) {
    throw invalid("window", "must be a duration such as 30m, 24h or 7d, from 1m to 30d");
  }
  return { text, seconds };
}

/**
 * `step` of the series (`1h`, `1d`, …), or null to let the window choose; it must be a multiple of the cells the
 * window reads and give at most `POINTS_MAX` points.
 * @param {string | null} value @param {{seconds: number}} window @returns {number | null}
 */
export function parseStep(value, window) {
  if (value === null) return null;
  const seconds = duration(value);
  const grain = cellsFor(window.seconds, 0).series;
  if (seconds === null || !STEPS.includes(seconds) || seconds % grain !== 0 || window.seconds / seconds > POINTS_MAX) {
    const allowed = STEPS.filter((s) => s % grain === 0 && window.seconds / s <= POINTS_MAX).map(label);
    throw invalid("step", `must be one of ${allowed.join(", ")} for this window`);
  }
  return seconds;
}

/** @param {number} seconds */
function label(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  return seconds % 3600 === 0 ? `${seconds / 3600}h` : `${seconds / 60}m`;
}

/**
 * The stack's settings the summary reports against (config.js).
 * @typedef {Pick<import("./config.js").Config,
 *   "retentionDays" | "mediaExpireDays" | "upstreamTimeoutMs" | "downloadTimeoutMs" | "asyncEnabled">} Stack
 * @param {D1Database} db @param {{text: string, seconds: number}} window @param {Stack} stack
 * @param {{step?: number | null, nowMs?: number}} [options]
 */
export async function opsSummary(db, window, stack, options = {}) {
  const nowMs = options.nowMs ?? Date.now();
  const { series: grain, start, ranges } = cellsFor(window.seconds, nowMs);
  const step = options.step ?? STEPS.find((s) => s >= grain && window.seconds / s <= POINTS_AUTO) ?? 86400;
  const since = new Date(start * 1000).toISOString();
  const all = rangesWhere(ranges);
  // The series can read the same cells when its step is a multiple of each range's grain, else its own grain's.
  const drawn = rangesWhere(ranges.every((r) => step % r.grain === 0) ? ranges : [{ grain, from: start, to: null }]);
  const cells = `FROM run_rollups WHERE ${all.sql}`;
  const terminal = TERMINAL.map(() => "?").join(", ");
  const sums = MEASURES.map((m) => `SUM(${m}) AS ${m}`);
  const ENDED = [STATUS.FAILED, STATUS.DEAD_LETTERED];
  const oldest = (/** @type {string} */ status) =>
    db.prepare("SELECT id, status, created_at FROM runs WHERE status = ? ORDER BY created_at, id LIMIT 1").bind(status);
  const failures = (/** @type {string} */ status) =>
    db
      .prepare(
        `SELECT id, status, error_code, error_message, created_at, completed_at FROM runs
         WHERE status = ? AND created_at >= ? ORDER BY created_at DESC, id DESC LIMIT ?`,
      )
      .bind(status, since, FAILURES_SHOWN);
  const results = await db.batch([
    db.prepare(`SELECT bucket - bucket % ? AS t, status, SUM(runs) AS runs FROM run_rollups WHERE ${drawn.sql}
                GROUP BY t, status`)
      .bind(step, ...drawn.params),
    db.prepare(`SELECT mode, status, ${sums.join(", ")} ${cells} AND status IN (${terminal}) GROUP BY mode, status`)
      .bind(...all.params, ...TERMINAL),
    db.prepare(`SELECT mode, status, error_code, SUM(runs) AS runs ${cells} AND error_code <> ''
                GROUP BY mode, status, error_code HAVING SUM(runs) > 0 ORDER BY runs DESC, error_code LIMIT ?`)
      .bind(...all.params, ERRORS_SHOWN),
    // Every code of the window's ended failures, for their causes: at most one row per (mode, status, code).
    db.prepare(`SELECT mode, status, error_code, SUM(runs) AS runs ${cells} AND status IN (?, ?)
                GROUP BY mode, status, error_code HAVING SUM(runs) > 0`)
      .bind(...all.params, ...ENDED),
    db.prepare("SELECT COUNT(*) AS n FROM (SELECT 1 FROM runs WHERE status = ? LIMIT ?)")
      .bind(STATUS.DEAD_LETTERED, DEAD_LETTERS_COUNTED + 1),
    ...ACTIVE.map(oldest),
    ...ENDED.map(failures),
    db.prepare("SELECT at, cutoff, runs, events, assets, cells, ms, more FROM purges ORDER BY id DESC LIMIT 1"),
    db.prepare(`SELECT COUNT(*) AS ticks, IFNULL(SUM(runs), 0) AS runs, IFNULL(SUM(events), 0) AS events,
                IFNULL(SUM(assets), 0) AS assets, IFNULL(SUM(cells), 0) AS cells FROM purges WHERE at >= ?`).bind(since),
  ]);
  const rows = (/** @type {number} */ i) => /** @type {Record<string, any>[]} */ (results[i].results);
  const series = seriesOf(rows(0), start, nowMs, step);
  /** @type {Record<string, number>} */
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const point of series) for (const s of STATUSES) counts[s] += point.counts[s];
  const byMode = byModeOf(rows(1));
  const le = LATENCY_BOUNDS_MS.map((_, i) => MODES.reduce((n, m) => n + byMode[m].succeeded.latency_le[i], 0));
  const succeeded = MODES.reduce((n, m) => n + byMode[m].succeeded.runs, 0);
  const latencySum = MODES.reduce((n, m) => n + byMode[m].succeeded.latency_ms, 0);
  const FIRST_OLDEST = 5;
  const active = ACTIVE.map((_, i) => rows(FIRST_OLDEST + i)[0]).filter(Boolean);
  const first = active.sort((a, b) => (a.created_at < b.created_at ? -1 : 1))[0];
  const purgeAt = FIRST_OLDEST + ACTIVE.length + ENDED.length;
  const [last] = rows(purgeAt);
  const [purged] = rows(purgeAt + 1);
  const failed = ENDED.flatMap((_, i) => rows(FIRST_OLDEST + ACTIVE.length + i))
    .sort((a, b) => (a.created_at < b.created_at ? 1 : -1))
    .slice(0, FAILURES_SHOWN);
  return {
    window: { text: window.text, seconds: window.seconds, since, until: new Date(nowMs).toISOString(),
      cell_seconds: ranges[0].grain },
    counts,
    total: Object.values(counts).reduce((a, b) => a + b, 0),
    dead_lettered: Math.min(DEAD_LETTERS_COUNTED, Number(rows(4)[0].n)),
    dead_lettered_capped: Number(rows(4)[0].n) > DEAD_LETTERS_COUNTED,
    oldest_active: first
      ? {
          run_id: first.id,
          status: first.status,
          created_at: first.created_at,
          age_seconds: Math.max(0, Math.round((nowMs - Date.parse(first.created_at)) / 1000)),
        }
      : null,
    latency_ms: {
      succeeded,
      p50: percentile(le, succeeded, 0.5),
      p95: percentile(le, succeeded, 0.95),
      p99: percentile(le, succeeded, 0.99),
      mean: succeeded ? Math.round(latencySum / succeeded) : null,
      le,
    },
    latency_bounds_ms: LATENCY_BOUNDS_MS,
    series: { step_seconds: step, points: series.map((p) => ({ at: new Date(p.t * 1000).toISOString(), counts: p.counts })) },
    by_mode: byMode,
    errors: rows(2).map((r) => ({ mode: r.mode, status: r.status, code: r.error_code, runs: Number(r.runs) })),
    health: healthOf(byMode, rows(3), stack),
    retention: {
      days: stack.retentionDays,
      media_expire_days: stack.mediaExpireDays,
      last_purge: last ? { ...last, more: last.more === 1 } : null,
      purged_in_window: purged,
    },
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
 * Every step from the window's first cell to now, with zeros where no run was created.
 * @param {Record<string, any>[]} rows @param {number} start @param {number} nowMs @param {number} step
 */
function seriesOf(rows, start, nowMs, step) {
  /** @type {Map<number, Record<string, number>>} */
  const points = new Map();
  for (let t = Math.floor(start / step) * step; t <= nowMs / 1000; t += step) {
    points.set(t, Object.fromEntries(STATUSES.map((s) => [s, 0])));
  }
  for (const row of rows) {
    const point = points.get(Number(row.t));
    if (point && row.status in point) point[row.status] += Number(row.runs);
  }
  return [...points].map(([t, counts]) => ({ t, counts }));
}

/**
 * The failures of one mode and cause, with their codes.
 * @typedef {{mode: string, cause: string, absorbed: boolean, runs: number,
 *   codes: {status: string, code: string, runs: number}[]}} Failures
 */

/**
 * The evidence for deciding on async, per mode, from the terminal cells' measures and the failures' codes.
 * @param {ReturnType<typeof byModeOf>} byMode @param {Record<string, any>[]} codes @param {Stack} stack
 */
function healthOf(byMode, codes, stack) {
  /** @type {Map<string, Failures>} */
  const causes = new Map();
  for (const r of codes) {
    const cause = causeOf(r.error_code);
    const key = `${r.mode}/${cause}`;
    /** @type {Failures} */
    const entry = causes.get(key) ?? { mode: r.mode, cause, absorbed: absorbed(cause), runs: 0, codes: [] };
    entry.runs += Number(r.runs);
    entry.codes.push({ status: r.status, code: r.error_code, runs: Number(r.runs) });
    causes.set(key, entry);
  }
  const failures = [...causes.values()].sort((a, b) => b.runs - a.runs || (a.cause < b.cause ? -1 : 1));
  const sum = (/** @type {(typeof byMode)["sync"]} */ cells, /** @type {(c: any) => number} */ pick) =>
    TERMINAL.reduce((n, status) => n + pick(cells[status]), 0);
  const modes = Object.fromEntries(MODES.map((mode) => {
    const cells = byMode[mode];
    const ended = sum(cells, (c) => c.runs);
    const mine = failures.filter((f) => f.mode === mode);
    const timedLe = TASK_BOUNDS_MS.map((_, i) => sum(cells, (c) => c.timed.le[i]));
    const timed = sum(cells, (c) => c.timed.runs);
    const requestLe = LATENCY_BOUNDS_MS.map((_, i) => sum(cells, (c) => c.latency_le[i]));
    const downloads = sum(cells, (c) => c.download.runs);
    const waits = sum(cells, (c) => c.queue_wait.runs);
    return [mode, {
      ended,
      succeeded: cells.succeeded.runs,
      dead_lettered: cells.dead_lettered.runs,
      absorbed: mine.filter((f) => f.absorbed).reduce((n, f) => n + f.runs, 0),
      not_absorbed: mine.filter((f) => !f.absorbed).reduce((n, f) => n + f.runs, 0),
      polls: sum(cells, (c) => c.polls),
      retries: sum(cells, (c) => c.retries),
      queue_wait_mean_ms: waits ? Math.round(sum(cells, (c) => c.queue_wait.ms) / waits) : null,
      provider: {
        runs: timed, near_budget: sum(cells, (c) => c.timed.near_budget),
        p50: percentile(timedLe, timed, 0.5, TASK_BOUNDS_MS), p95: percentile(timedLe, timed, 0.95, TASK_BOUNDS_MS),
        p99: percentile(timedLe, timed, 0.99, TASK_BOUNDS_MS),
      },
      download: {
        runs: downloads, near_budget: sum(cells, (c) => c.download.near_budget),
        mean_ms: downloads ? Math.round(sum(cells, (c) => c.download.ms) / downloads) : null,
      },
      request: {
        runs: ended, p50: percentile(requestLe, ended, 0.5), p95: percentile(requestLe, ended, 0.95),
        p99: percentile(requestLe, ended, 0.99), mean_ms: ended ? Math.round(sum(cells, (c) => c.latency_ms) / ended) : null,
      },
      image_bytes: sum(cells, (c) => c.image_bytes),
    }];
  }));
  return {
    async_enabled: stack.asyncEnabled,
    budgets: {
      upstream_request_ms: stack.upstreamTimeoutMs, download_ms: stack.downloadTimeoutMs,
      near_budget_margin: ASYNC_RULE.nearBudgetMargin,
    },
    task_bounds_ms: TASK_BOUNDS_MS,
    by_mode: modes,
    failures,
  };
}

/**
 * The terminal cells' measures, for both modes and every terminal status (zeros where there were none).
 * @param {Record<string, any>[]} rows
 */
function byModeOf(rows) {
  const empty = () => ({
    runs: 0, polls: 0, attempts: 0, retries: 0, queue_wait: { runs: 0, ms: 0 }, task: { runs: 0, ms: 0 },
    latency_ms: 0, latency_le: LATENCY_BOUNDS_MS.map(() => 0),
    timed: { runs: 0, near_budget: 0, le: TASK_BOUNDS_MS.map(() => 0) },
    download: { runs: 0, ms: 0, near_budget: 0 }, image_bytes: 0,
  });
  /** @type {Record<"sync" | "async", Record<string, ReturnType<typeof empty>>>} */
  const out = { sync: {}, async: {} };
  for (const mode of MODES) for (const status of TERMINAL) out[mode][status] = empty();
  for (const r of rows) {
    const cell = out[/** @type {"sync" | "async"} */ (r.mode)]?.[r.status];
    if (!cell) continue;
    Object.assign(cell, {
      runs: Number(r.runs), polls: Number(r.polls), attempts: Number(r.attempts), retries: Number(r.retries),
      queue_wait: { runs: Number(r.queue_wait_runs), ms: Number(r.queue_wait_ms) },
      task: { runs: Number(r.task_runs), ms: Number(r.task_ms) },
      latency_ms: Number(r.latency_ms), latency_le: HISTOGRAM.map((column) => Number(r[column])),
      timed: {
        runs: Number(r.timed_runs), near_budget: Number(r.task_near_budget),
        le: TASK_HISTOGRAM.map((column) => Number(r[column])),
      },
      download: { runs: Number(r.download_runs), ms: Number(r.download_ms), near_budget: Number(r.download_near_budget) },
      image_bytes: Number(r.image_bytes),
    });
  }
  return out;
}
