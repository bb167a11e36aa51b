// @ts-check
/**
 * The dead-letter queue's consumer. A job message lands here after `queues.jobs.max_retries + 1` failed
 * deliveries; if it was the wake-up its run still expects and nobody is working on the run, the run becomes
 * `dead_lettered` with the last recorded error (the `attempt_failed` event of its latest life), ready for
 * an operator's re-drive. A dead letter of a stale duplicate leaves the run alone.
 */

import { ack, retry } from "./consumer.js";
import { EVENT, STATUS, TERMINAL } from "./contract.js";
import { unleased } from "./leases.js";
import { getRun, transition } from "./runs.js";

/**
 * @param {import("./config.js").Env} env @param {import("./config.js").AsyncConfig} cfg
 * @param {import("./jobs.js").Job} job @param {import("./consumer.js").Delivery} delivery
 * @param {import("./log.js").Invocation} log  the message's log line (queue.js writes it with the decision)
 * @returns {Promise<import("./consumer.js").Decision>}
 */
export async function handleDeadLetter(env, cfg, job, delivery, log) {
  const db = env.DB;
  const run = await getRun(db, job.run_id);
  if (!run) return ack("unknown_run");
  if (TERMINAL.includes(run.status)) return ack("finished");
  if (job.seq !== run.job_seq) return ack("stale");
  const last = await lastAttemptError(db, run.id);
  const error = last ?? { code: "dead_lettered", message: `the job failed ${cfg.jobs.maxAttempts} deliveries` };
  log.note({ error: `${error.code}: ${error.message}` });
  const guard = unleased();
  const moved = await transition(db, run.id, STATUS.DEAD_LETTERED, {
    set: { error_code: error.code, error_message: error.message },
    guard: { sql: `job_seq = ? AND ${guard.sql}`, params: [job.seq, ...guard.params] },
    detail: { code: error.code, attempts: cfg.jobs.maxAttempts, dead_letter_attempt: delivery.attempts },
  });
  if (moved) return ack("dead_lettered");
  // A live delivery holds the run (or it moved on meanwhile): look again once its lease may have run out.
  return retry("run_busy", cfg.jobs.initialDelaySeconds);
}

/**
 * The error of the latest failed attempt since the run was last (re-)queued.
 * @param {D1Database} db @param {string} runId @returns {Promise<{code: string, message: string} | null>}
 */
export async function lastAttemptError(db, runId) {
  const row = /** @type {{detail: string | null} | null} */ (
    await db
      .prepare(
        `SELECT detail FROM run_events
         WHERE run_id = ? AND type = ?
           AND id > COALESCE((SELECT MAX(id) FROM run_events WHERE run_id = ? AND to_status = ?), 0)
         ORDER BY id DESC LIMIT 1`,
      )
      .bind(runId, EVENT.ATTEMPT_FAILED, runId, STATUS.QUEUED)
      .first()
  );
  const detail = row?.detail ? JSON.parse(row.detail) : null;
  return detail && typeof detail.code === "string" ? { code: detail.code, message: String(detail.message ?? "") } : null;
}
