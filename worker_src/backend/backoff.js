// @ts-check
/**
 * Delays of the queue consumer, both bounded exponential from the stack's `queues.polling` settings:
 * the next task query after `k` queries, and the next delivery after a failed attempt.
 */

import { MAX_DELAY_SECONDS } from "./jobs.js";

/**
 * Seconds before the next task query when `done` queries have been made: initial, 2×, 4×, … up to the cap.
 * @param {import("./config.js").Jobs} jobs @param {number} done
 */
export function pollDelay(jobs, done) {
  return grow(jobs, done);
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
