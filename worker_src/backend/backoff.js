// @ts-check
/**
 * Delays of the queue consumer, from the stack's `queues.polling` settings.
 *
 * - The first task query is delivered just after the task is expected to be done: `expected_task_seconds` (the
 *   settings' hint), or, with `learn_from_recent_runs`, the mean provider time of the last hours' succeeded async
 *   tasks (their own `submit_time → end_time`, from the rollups, so the estimate does not feed on how late we
 *   polled), kept within a quarter to four times the hint.
 * - Later queries, and the deliveries after a failed attempt, back off exponentially: initial, 2×, 4×, … up to
 *   the cap. A task that takes longer than expected therefore costs a few polls, never an unbounded number.
 */

import { STATUS } from "./contract.js";
import { MAX_DELAY_SECONDS } from "./jobs.js";
import { GRAIN } from "./rollups.js";

/** The first query comes this much after the expected end (tasks vary; a query just before the end costs a poll). */
const FIRST_POLL_MARGIN = 1.1;
/** Recent tasks needed before their mean replaces the hint. */
const LEARN_MIN_TASKS = 5;
/** How far back the mean looks: the current and the previous hour cell. */
const LEARN_HOURS = 2;

/**
 * Seconds the task is expected to take, and where that figure came from.
 * @param {D1Database} db @param {import("./config.js").Jobs} jobs @param {number} [nowMs]
 * @returns {Promise<{seconds: number, source: "settings" | "recent_runs", tasks: number}>}
 */
export async function expectedTaskSeconds(db, jobs, nowMs = Date.now()) {
  const hint = { seconds: jobs.expectedTaskSeconds, source: /** @type {const} */ ("settings"), tasks: 0 };
  if (!jobs.learnFromRecentRuns) return hint;
  const since = Math.floor(nowMs / 1000 / GRAIN.HOUR - (LEARN_HOURS - 1)) * GRAIN.HOUR;
  const row = /** @type {{tasks: number | null, ms: number | null} | null} */ (await db
    .prepare(`SELECT SUM(task_runs) AS tasks, SUM(task_ms) AS ms FROM run_rollups
              WHERE grain = ? AND bucket >= ? AND mode = 'async' AND status = ?`)
    .bind(GRAIN.HOUR, since, STATUS.SUCCEEDED)
    .first());
  const tasks = Number(row?.tasks ?? 0);
  if (tasks < LEARN_MIN_TASKS) return { ...hint, tasks };
  const mean = Number(row?.ms) / tasks / 1000;
  const seconds = Math.min(jobs.expectedTaskSeconds * 4, Math.max(jobs.expectedTaskSeconds / 4, mean));
  return { seconds: Math.round(seconds * 10) / 10, source: "recent_runs", tasks };
}

/**
 * Seconds between the submit and the first task query, for a task expected to take `expectedSeconds`: the query
 * should be delivered 10 % after that, and a message that became due still waits for its batch to fill, up to
 * the consumer's `max_batch_timeout` (all of it when traffic is light), so that wait is taken off the delay.
 * @param {import("./config.js").Jobs} jobs @param {number} expectedSeconds
 */
export function firstPollDelay(jobs, expectedSeconds) {
  const due = Math.round(expectedSeconds * FIRST_POLL_MARGIN) - jobs.batchWaitSeconds;
  return Math.min(MAX_DELAY_SECONDS, Math.max(1, due));
}

/**
 * Seconds before the next task query when `done` (≥ 1) queries have been made: initial, 2×, 4×, … up to the cap.
 * @param {import("./config.js").Jobs} jobs @param {number} done
 */
export function pollDelay(jobs, done) {
  return grow(jobs, Math.max(0, done - 1));
}

/**
 * Seconds before delivery `attempt + 1` after attempt `attempt` (1-based) failed; a provider's `Retry-After`
 * wins when it asks for longer.
 * @param {import("./config.js").Jobs} jobs @param {number} attempt @param {number | null} [retryAfter]
 */
export function retryDelay(jobs, attempt, retryAfter = null) {
  const backoff = grow(jobs, Math.max(0, attempt - 1));
  return Math.min(MAX_DELAY_SECONDS, Math.max(backoff, retryAfter ?? 0));
}

/** @param {import("./config.js").Jobs} jobs @param {number} step */
function grow(jobs, step) {
  return Math.min(jobs.maxDelaySeconds, jobs.initialDelaySeconds * 2 ** Math.min(step, 20));
}
