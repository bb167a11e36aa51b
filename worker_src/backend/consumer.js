// @ts-check
/**
 * The jobs queue consumer: one delivery moves one run one step, under the run's lease (leases.js).
 *
 *   queued     → submit the async task, record its id (`submitted`), wake up again when it should be done
 *   submitted  → query the task: PENDING stays, RUNNING → `running`; wake up again after a growing delay
 *   running      SUCCEEDED → `persisting` → results streamed into R2 exactly as the sync path → `succeeded`
 *                FAILED / CANCELED / UNKNOWN → `failed` with the provider's code and message
 *   persisting → (a redelivery after a crash) query the task again for its URLs and store them
 *
 * Polling sends a new message (`seq + 1`) with `delaySeconds`; `message.retry` is kept for failed attempts
 * (throttling, 5xx, timeouts, our own errors) because Queues count every retry towards `max_retries`: the
 * poll budget is `queues.polling.max_polls`, the failure budget `queues.jobs.max_retries`. A provider 4xx
 * other than 408/429 fails the run at once. Every outcome is a `Decision`; queue.js acks or retries.
 */

import { expectedTaskSeconds, firstPollDelay, pollDelay, retryDelay } from "./backoff.js";
import { EVENT, STATUS, TERMINAL } from "./contract.js";
import { UpstreamError, queryTask, submitTask } from "./dashscope.js";
import { sendJob } from "./jobs.js";
import { acquireLease, heldBy, leaseSeconds, releaseLease } from "./leases.js";
import { nearBudget } from "./rollups.js";
import { addEvent, getRun, transition } from "./runs.js";
import { failRun, storeResults } from "./workflow.js";

/**
 * @typedef {{action: "ack", outcome: string} | {action: "retry", outcome: string, delaySeconds: number}} Decision
 * @typedef {{id: string, attempts: number}} Delivery
 * @typedef {{env: import("./config.js").Env, cfg: import("./config.js").AsyncConfig, run: import("./runs.js").RunRow,
 *            job: import("./jobs.js").Job, delivery: Delivery, guard: import("./runs.js").Guard,
 *            log: import("./log.js").Invocation}} Step
 */

const WAITING = ["PENDING", "RUNNING", "SUSPENDED"];

/** @param {string} outcome @returns {Decision} */
export const ack = (outcome) => ({ action: "ack", outcome });

/** @param {string} outcome @param {number} delaySeconds @returns {Decision} */
export const retry = (outcome, delaySeconds) => ({ action: "retry", outcome, delaySeconds });

/**
 * Handle one delivery of a job message.
 * @param {import("./config.js").Env} env @param {import("./config.js").AsyncConfig} cfg
 * @param {import("./jobs.js").Job} job @param {Delivery} delivery
 * @param {import("./log.js").Invocation} log  the message's log line (queue.js writes it with the decision)
 * @returns {Promise<Decision>}
 */
export async function handleJob(env, cfg, job, delivery, log) {
  const db = env.DB;
  const found = await getRun(db, job.run_id);
  const early = found ? await unwanted(db, found, job, delivery, cfg) : ack("unknown_run");
  if (early) return early;
  const seconds = leaseSeconds(cfg);
  if (!(await acquireLease(db, job.run_id, job.seq, delivery.id, seconds))) {
    // Lost a race between the read above and the UPDATE: decide again on what D1 holds now.
    const now = await getRun(db, job.run_id);
    return (now && (await unwanted(db, now, job, delivery, cfg))) ?? retry("lease_busy", cfg.jobs.initialDelaySeconds);
  }
  const run = /** @type {import("./runs.js").RunRow} */ (await getRun(db, job.run_id));
  /** @type {Step} */
  const step = { env, cfg, run, job, delivery, guard: heldBy(delivery.id), log };
  try {
    return await advance(step);
  } catch (err) {
    return attemptFailed(step, err);
  }
}

/**
 * Why this delivery must not work on the run (as a decision), or null when it may try to take the lease.
 * @param {D1Database} db @param {import("./runs.js").RunRow} run @param {import("./jobs.js").Job} job
 * @param {Delivery} delivery @param {import("./config.js").AsyncConfig} cfg
 * @returns {Promise<Decision | null>}
 */
async function unwanted(db, run, job, delivery, cfg) {
  if (TERMINAL.includes(run.status)) return ack("finished");
  if (job.seq < run.job_seq) {
    await addEvent(db, run.id, EVENT.DELIVERY_SKIPPED, { reason: "stale", seq: job.seq, expected: run.job_seq });
    return ack("stale");
  }
  // Sent by a step that has not recorded the new wake-up yet (it does so right after sending).
  if (job.seq > run.job_seq) return retry("early", cfg.jobs.initialDelaySeconds);
  const leased = run.lease_token !== null && run.lease_expires_at !== null && Date.parse(run.lease_expires_at) > Date.now();
  if (!leased) return null;
  if (run.lease_token === delivery.id) {
    // This very message again while its lease runs: a crashed attempt, or the queue delivering it twice at
    // once. Only the lease's expiry tells them apart; come back then.
    const left = Math.ceil((Date.parse(/** @type {string} */ (run.lease_expires_at)) - Date.now()) / 1000);
    return retry("lease_held_by_this_message", Math.max(1, left));
  }
  // Another message for the same wake-up holds the run and will schedule whatever follows.
  await addEvent(db, run.id, EVENT.DELIVERY_SKIPPED, { reason: "leased", seq: job.seq });
  return ack("duplicate");
}

/** @param {Step} step @returns {Promise<Decision>} */
async function advance(step) {
  switch (step.run.status) {
    case STATUS.QUEUED:
      return submit(step);
    case STATUS.SUBMITTED:
    case STATUS.RUNNING:
      return poll(step);
    case STATUS.PERSISTING:
      return persistAgain(step);
    default:
      return ack("finished");
  }
}

/** @param {Step} step @returns {Promise<Decision>} */
async function submit(step) {
  const { env, cfg, run, guard } = step;
  const started = Date.now();
  const { taskId, requestId } = await submitTask(cfg, paramsOf(run));
  // The run's updated_at is when it entered `queued` (created or re-driven): nothing else touches it there.
  const queueWaitMs = Math.max(0, started - Date.parse(run.updated_at));
  const expected = await expectedTaskSeconds(env.DB, cfg.jobs);
  const firstPoll = firstPollDelay(cfg.jobs, expected.seconds);
  const moved = await transition(env.DB, run.id, STATUS.SUBMITTED, {
    set: { provider_task_id: taskId, provider_request_id: requestId, queue_wait_ms: queueWaitMs },
    countAttempt: true,
    guard,
    detail: {
      task_id: taskId, provider_request_id: requestId, duration_ms: Date.now() - started,
      expected_task_seconds: expected.seconds, expected_from: expected.source, first_poll_in_seconds: firstPoll,
    },
  });
  if (!moved) return ack("lease_lost");
  return wakeAgain(step, 0, "submitted", firstPoll);
}

/** @param {Step} step @returns {Promise<Decision>} */
async function poll(step) {
  const { env, cfg, run, guard } = step;
  const task = await queryTask(cfg, /** @type {string} */ (run.provider_task_id));
  const done = run.polls + 1;
  await addEvent(env.DB, run.id, EVENT.TASK_POLLED, { poll: done, task_status: task.status });
  if (WAITING.includes(task.status)) {
    if (task.status === "RUNNING" && run.status === STATUS.SUBMITTED) {
      const moved = await transition(env.DB, run.id, STATUS.RUNNING, { guard, detail: { poll: done } });
      if (!moved) return ack("lease_lost");
    }
    if (done >= cfg.jobs.maxPolls) {
      const err = { code: "task_timeout", message: `the task was still ${task.status} after ${done} polls` };
      await failRun(env.DB, run.id, err, { stage: "poll", polls: done }, false, guard);
      return ack("failed");
    }
    return wakeAgain(step, done, task.status.toLowerCase());
  }
  if (task.status === "SUCCEEDED") return persist(step, task, done);
  const err = {
    code: task.code ?? `task_${task.status.toLowerCase()}`,
    message: task.message ?? `the provider reports the task as ${task.status}`,
  };
  await failRun(env.DB, run.id, err, { stage: "task", task_status: task.status, polls: done }, false, guard);
  return ack("failed");
}

/**
 * @param {Step} step @param {import("./dashscope.js").TaskState} task @param {number} polls
 * @returns {Promise<Decision>}
 */
async function persist(step, task, polls) {
  const { env, cfg, run, guard } = step;
  if (task.urls.length === 0) {
    const err = { code: "bad_upstream_response", message: "the task SUCCEEDED without a result URL" };
    await failRun(env.DB, run.id, err, { stage: "task", polls }, false, guard);
    return ack("failed");
  }
  if (run.status !== STATUS.PERSISTING) {
    const moved = await transition(env.DB, run.id, STATUS.PERSISTING, {
      set: {
        polls, task_ms: task.durationMs,
        task_near_budget: task.durationMs === null ? null : nearBudget(task.durationMs, cfg.upstreamTimeoutMs),
      },
      guard,
      detail: { images: task.urls.length, polls },
    });
    if (!moved) return ack("lease_lost");
  }
  const error = await storeResults(env, cfg, { ...run, status: STATUS.PERSISTING }, task.urls, step.log, guard);
  return ack(error ? "failed" : "succeeded");
}

/**
 * A run found `persisting`: the attempt that stored its results stopped midway. The task still has them.
 * @param {Step} step @returns {Promise<Decision>}
 */
async function persistAgain(step) {
  const task = await queryTask(step.cfg, /** @type {string} */ (step.run.provider_task_id));
  if (task.status === "SUCCEEDED") return persist(step, task, step.run.polls);
  const err = { code: "result_lost", message: `the task is ${task.status} while its results were being stored` };
  await failRun(step.env.DB, step.run.id, err, { stage: "persist", task_status: task.status }, false, step.guard);
  return ack("failed");
}

/**
 * Schedule the next wake-up, then record it and give the lease back in one UPDATE. Sending first means a
 * crash in between leaves two messages for the next wake-up (one is dropped by the lease), never none.
 * @param {Step} step @param {number} polls task queries made so far @param {string} outcome
 * @param {number} [delaySeconds] default: the growing delay after `polls` queries
 * @returns {Promise<Decision>}
 */
async function wakeAgain(step, polls, outcome, delaySeconds = pollDelay(step.cfg.jobs, polls)) {
  const { env, run, job, delivery } = step;
  const next = job.seq + 1;
  await sendJob(env, run.id, next, delaySeconds);
  await releaseLease(env.DB, run.id, delivery.id, { job_seq: next, polls });
  return ack(outcome);
}

/**
 * A failed attempt: a provider 4xx (other than 408/429) fails the run; anything else (throttling, 5xx,
 * timeouts, our own errors) is recorded and retried with backoff until the dead-letter queue takes it.
 * @param {Step} step @param {unknown} err @returns {Promise<Decision>}
 */
async function attemptFailed(step, err) {
  const { env, cfg, run, delivery, guard } = step;
  const stage = run.status === STATUS.QUEUED ? "submit" : run.status === STATUS.PERSISTING ? "persist" : "poll";
  if (err instanceof UpstreamError && !err.retryable) {
    await failRun(env.DB, run.id, err, { stage, http_status: err.status }, stage === "submit", guard);
    return ack("failed");
  }
  if (!(err instanceof UpstreamError)) step.log.failed(err);
  const upstream = err instanceof UpstreamError ? err : null;
  const delaySeconds = retryDelay(cfg.jobs, delivery.attempts, upstream?.retryAfterSeconds);
  await addEvent(env.DB, run.id, EVENT.ATTEMPT_FAILED, {
    stage,
    code: upstream ? upstream.code : "internal_error",
    message: upstream ? upstream.message : "the attempt stopped on an internal error",
    http_status: upstream?.status ?? null,
    attempt: delivery.attempts,
    max_attempts: cfg.jobs.maxAttempts,
    retry_in_seconds: delivery.attempts < cfg.jobs.maxAttempts ? delaySeconds : null,
  });
  await releaseLease(env.DB, run.id, delivery.id, { retried: true });
  return retry(upstream?.throttled ? "throttled" : "attempt_failed", delaySeconds);
}

/**
 * The validated request a run was created from.
 * @param {import("./runs.js").RunRow} run @returns {import("./validate.js").GenerateParams}
 */
function paramsOf(run) {
  return { prompt: run.prompt, ...JSON.parse(run.parameters) };
}
