// @ts-check
/**
 * Job messages: the only thing that goes on the jobs queue is `{"run_id", "seq"}` — a wake-up for one run —
 * never a prompt, a header or a credential. D1 holds the state; `seq` tells the consumer whether a delivery
 * is the wake-up the run expects (see leases.js and migrations/0002).
 */

import { RUN_ID } from "./contract.js";

/** Queues accept a delay of at most 12 hours. */
export const MAX_DELAY_SECONDS = 43200;

/** @typedef {{run_id: string, seq: number}} Job */

/**
 * A job from a message body, or null when the body is not one (logged and dropped by the consumer).
 * @param {unknown} body @returns {Job | null}
 */
export function parseJob(body) {
  if (body === null || typeof body !== "object") return null;
  const { run_id: runId, seq } = /** @type {Record<string, unknown>} */ (body);
  if (typeof runId !== "string" || !RUN_ID.test(runId)) return null;
  if (typeof seq !== "number" || !Number.isInteger(seq) || seq < 0) return null;
  return { run_id: runId, seq };
}

/**
 * Send the wake-up `seq` of a run, after `delaySeconds`.
 * @param {import("./config.js").Env} env @param {string} runId @param {number} seq @param {number} [delaySeconds]
 */
export async function sendJob(env, runId, seq, delaySeconds = 0) {
  if (!env.JOBS) throw new Error("the JOBS queue binding is missing (queues.enabled is off for this stack?)");
  /** @type {Job} */
  const job = { run_id: runId, seq };
  const delay = Math.min(Math.max(0, Math.round(delaySeconds)), MAX_DELAY_SECONDS);
  await env.JOBS.send(job, { contentType: "json", ...(delay > 0 ? { delaySeconds: delay } : {}) });
}
