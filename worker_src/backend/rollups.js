// @ts-check
/**
 * Run rollups (migrations 0003, 0005): cells of runs per interval of their creation, by mode, status and error
 * code, with counts, a cumulative latency histogram and the terminal runs' polls, attempts, retries, queue wait,
 * provider time (with its histogram and the runs near the upstream request budget), download time and bytes. A run's cells are defined once, by the view `run_cells`; every status change subtracts them
 * before its UPDATE and adds them after it, in the same batch (runs.js), so the cells always equal a recount
 * of the raw rows (the view `run_rollup_recount`) and the ops summary reads a bounded number of rows.
 */

import { ASYNC_RULE } from "./contract.js";

/**
 * Interval lengths in seconds, with the longest window whose series each draws (`WINDOW_MAX_SECONDS`) and how long
 * its cells are kept (`KEPT_SECONDS`, purged by retention.js); `cellsFor` picks the cells of a window.
 */
export const GRAIN = Object.freeze({ MINUTE: 60, HOUR: 3600, DAY: 86400 });
const WINDOW_MAX_SECONDS = Object.freeze({ [GRAIN.MINUTE]: 6 * 3600, [GRAIN.HOUR]: 7 * 86400, [GRAIN.DAY]: 30 * 86400 });
export const KEPT_SECONDS = Object.freeze({ [GRAIN.MINUTE]: 2 * 86400, [GRAIN.HOUR]: 35 * 86400, [GRAIN.DAY]: 400 * 86400 });

/**
 * Upper bounds (ms) of the latency histogram, columns `lat_le_<ms>` of 0003: `lat_le_X` counts the terminal runs
 * whose request → terminal time is at most X ms (cumulative, as Prometheus' `le` buckets); `runs` is +Inf.
 * @type {readonly number[]}
 */
export const LATENCY_BOUNDS_MS = Object.freeze([
  100, 125, 150, 200, 250, 300, 400, 500, 600, 800,
  1000, 1250, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000,
  10000, 12500, 15000, 20000, 25000, 30000, 40000, 50000, 60000, 80000,
  100000, 125000, 150000, 200000, 250000, 300000, 400000, 500000, 600000, 800000,
  1000000, 1800000, 3600000, 86400000,
]);

/**
 * Upper bounds (ms) of the provider-time histogram (0005), columns `task_le_<ms>`: a subset of the latency bounds
 * covering the upstream request timeouts settings allow (up to 300 s) and the longest async tasks; `timed_runs` is
 * +Inf.
 * @type {readonly number[]}
 */
export const TASK_BOUNDS_MS = Object.freeze([
  1000, 2000, 3000, 5000, 8000, 10000, 15000, 20000, 25000, 30000, 40000, 50000, 60000, 80000, 100000,
  125000, 150000, 200000, 250000, 300000, 600000, 3600000,
]);

const KEYS = ["grain", "bucket", "mode", "status", "error_code"];
/** @type {readonly string[]} */
export const HISTOGRAM = Object.freeze(LATENCY_BOUNDS_MS.map((ms) => `lat_le_${ms}`));
/** @type {readonly string[]} */
export const TASK_HISTOGRAM = Object.freeze(TASK_BOUNDS_MS.map((ms) => `task_le_${ms}`));
/**
 * Every measure column of `run_rollups`, in table order (tests/infra/test_rollups.py holds it to the migrations).
 * @type {readonly string[]}
 */
export const MEASURES = Object.freeze([
  "runs", "polls", "attempts", "retries", "queue_wait_runs", "queue_wait_ms", "task_runs", "task_ms", "latency_ms",
  ...HISTOGRAM,
  "timed_runs", "task_near_budget", ...TASK_HISTOGRAM, "download_runs", "download_ms", "download_near_budget",
  "image_bytes",
]);

/**
 * 0005's budget flag: 1 when `ms` came within `ASYNC_RULE.nearBudgetMargin` of `budgetMs` (at or above
 * (1 − margin) × budget), else 0.
 * @param {number} ms @param {number} budgetMs @returns {0 | 1}
 */
export function nearBudget(ms, budgetMs) {
  return ms >= (1 - ASYNC_RULE.nearBudgetMargin) * budgetMs ? 1 : 0;
}

/**
 * Add (`sign` 1) or subtract (−1) the cells of the runs that `filter` selects from `run_cells`; a cell that does
 * not exist yet is created.
 * @param {D1Database} db @param {1 | -1} sign @param {string} filter @param {(string | number | null)[]} params
 */
export function cellsStatement(db, sign, filter, params) {
  const signed = MEASURES.map((m) => `${sign} * ${m}`);
  return db
    .prepare(
      `INSERT INTO run_rollups (${[...KEYS, ...MEASURES].join(", ")})
       SELECT ${[...KEYS, ...signed].join(", ")} FROM run_cells WHERE ${filter}
       ON CONFLICT (${KEYS.join(", ")}) DO UPDATE SET ${MEASURES.map((m) => `${m} = ${m} + excluded.${m}`).join(", ")}`,
    )
    .bind(...params);
}

/**
 * A run of cells of one grain, from bucket `from` (inclusive) to `to` (exclusive; null: up to now).
 * @typedef {{grain: number, from: number, to: number | null}} Range
 */

/**
 * The cells a window reads. It starts at the beginning of the minute (windows up to 6 h) or hour it falls in
 * (`start`); `ranges` covers it with the fewest cells: minute or hour cells, and for windows over two days hour
 * cells up to the first UTC midnight, day cells after it. `series` is the grain of its runs-per-interval series
 * (minute, hour, or day cells past 7 days), whose steps are multiples of it.
 * @param {number} windowSeconds @param {number} nowMs
 * @returns {{series: number, start: number, ranges: Range[]}}
 */
export function cellsFor(windowSeconds, nowMs) {
  const series = Object.values(GRAIN).find((g) => windowSeconds <= WINDOW_MAX_SECONDS[g]) ?? GRAIN.DAY;
  const fine = series === GRAIN.MINUTE ? GRAIN.MINUTE : GRAIN.HOUR;
  const start = Math.floor((nowMs / 1000 - windowSeconds) / fine) * fine;
  if (fine === GRAIN.MINUTE || windowSeconds <= 2 * GRAIN.DAY) return { series, start, ranges: [{ grain: fine, from: start, to: null }] };
  const midnight = Math.ceil(start / GRAIN.DAY) * GRAIN.DAY;
  return {
    series,
    start,
    ranges: [{ grain: GRAIN.HOUR, from: start, to: midnight }, { grain: GRAIN.DAY, from: midnight, to: null }],
  };
}

/**
 * `grain = ? AND bucket …` for each range, OR-ed (SQLite seeks each on the primary key), with its parameters.
 * @param {Range[]} ranges @returns {{sql: string, params: number[]}}
 */
export function rangesWhere(ranges) {
  const sql = ranges.map((r) => (r.to === null ? "(grain = ? AND bucket >= ?)" : "(grain = ? AND bucket >= ? AND bucket < ?)"));
  return { sql: `(${sql.join(" OR ")})`, params: ranges.flatMap((r) => (r.to === null ? [r.grain, r.from] : [r.grain, r.from, r.to])) };
}

/**
 * Nearest-rank percentile from a cumulative histogram: the upper bound of the bucket holding rank ⌈q·n⌉, or the
 * last bound when the rank lies beyond it; null without any run.
 * @param {number[]} le cumulative counts per bound @param {number} n all runs (+Inf) @param {number} q 0 < q ≤ 1
 * @param {readonly number[]} [bounds] the histogram's bounds (default: the latency histogram's)
 */
export function percentile(le, n, q, bounds = LATENCY_BOUNDS_MS) {
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil(q * n));
  const i = le.findIndex((count) => count >= rank);
  return bounds[i === -1 ? bounds.length - 1 : i];
}
