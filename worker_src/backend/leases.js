// @ts-check
/**
 * The consumer's lease on a run, in D1. A delivery works on a run only while it holds the lease, taken by
 * one conditional UPDATE (the run expects this wake-up, is not finished, and nobody holds an unexpired
 * lease), so a duplicate or concurrent delivery can never submit a second task or persist twice. The lease
 * names the holding message id and expires, so the redelivery of a crashed attempt takes over later.
 */

import { ACTIVE } from "./contract.js";
import { now } from "./runs.js";

/**
 * How long one step may hold a run: a provider call and a download, with a margin.
 * @param {import("./config.js").Config} cfg
 */
export function leaseSeconds(cfg) {
  return Math.ceil((cfg.upstreamTimeoutMs + cfg.downloadTimeoutMs) / 1000) + 30;
}

/**
 * Take the lease for wake-up `seq` of a run.
 * @param {D1Database} db @param {string} runId @param {number} seq @param {string} token @param {number} seconds
 * @returns {Promise<boolean>} false when the run is finished, expects another wake-up, or is leased
 */
export async function acquireLease(db, runId, seq, token, seconds) {
  const at = now();
  const until = new Date(Date.parse(at) + seconds * 1000).toISOString();
  const result = await db
    .prepare(
      `UPDATE runs SET lease_token = ?, lease_expires_at = ?
       WHERE id = ? AND job_seq = ? AND status IN (${ACTIVE.map(() => "?").join(", ")})
         AND (lease_token IS NULL OR lease_expires_at <= ?)`,
    )
    .bind(token, until, runId, seq, ...ACTIVE, at)
    .run();
  return result.meta.changes === 1;
}

/**
 * The condition "this delivery still holds the lease", for transitions made under it.
 * @param {string} token @returns {import("./runs.js").Guard}
 */
export function heldBy(token) {
  return { sql: "lease_token = ?", params: [token] };
}

/**
 * The condition "nobody holds an unexpired lease".
 * @returns {import("./runs.js").Guard}
 */
export function unleased() {
  return { sql: "(lease_token IS NULL OR lease_expires_at <= ?)", params: [now()] };
}

/**
 * Give the lease back, optionally moving the run to its next wake-up (`{job_seq, polls}`) or counting a
 * failed delivery that will be retried (`retried`, the run's `retries`), in the same UPDATE.
 * @param {D1Database} db @param {string} runId @param {string} token
 * @param {{job_seq?: number, polls?: number, retried?: boolean}} [next]
 * @returns {Promise<boolean>} false when the lease was no longer held
 */
export async function releaseLease(db, runId, token, next = {}) {
  const columns = /** @type {("job_seq" | "polls")[]} */ (["job_seq", "polls"]).filter((c) => next[c] !== undefined);
  const assignments = ["lease_token = NULL", "lease_expires_at = NULL", ...columns.map((c) => `${c} = ?`)];
  if (next.retried) assignments.push("retries = retries + 1");
  const result = await db
    .prepare(`UPDATE runs SET ${assignments.join(", ")} WHERE id = ? AND lease_token = ?`)
    .bind(...columns.map((c) => /** @type {number} */ (next[c])), runId, token)
    .run();
  return result.meta.changes === 1;
}
