// @ts-check
/**
 * The backend's `env` (declared in infra/model/bindings.py; its typedef and check are generated into
 * contract.js) parsed into typed settings. Nothing here has a default: a binding that is missing or malformed
 * throws `Misconfigured` naming it, and the Worker answers every request 503 `misconfigured` until the stack
 * is deployed right. Parsing in one place keeps `Number(...)` and `=== "true"` out of the routes.
 */

import { MODELS, Misconfigured, bindingProblems } from "./contract.js";

/** @typedef {import("./contract.js").Env} Env */

/**
 * @typedef {object} Config
 * @property {string} environment
 * @property {string} publicBaseUrl      no trailing slash
 * @property {"worker" | "signed" | "custom-domain"} mediaDelivery
 * @property {string} mediaBaseUrl       custom-domain mode only (else empty), no trailing slash
 * @property {number} signedUrlTtlSeconds  signed mode only (else 0)
 * @property {boolean} asyncEnabled
 * @property {string} upstreamBaseUrl    no trailing slash
 * @property {string} model
 * @property {string} apiKey
 * @property {string[]} allowedResultHosts  exact `host[:port]` or `*.suffix`
 * @property {boolean} allowHttpResults
 * @property {number} upstreamTimeoutMs
 * @property {number} downloadTimeoutMs
 * @property {number} maxImageBytes
 * @property {number} sweepAfterSeconds  a sync run unchanged for longer is failed `abandoned` (sweep.js)
 * @property {number | null} retentionDays    ended runs are purged this long after creation; null: kept forever
 * @property {number | null} mediaExpireDays  the lifecycle deletes images this long after upload; null: never
 * @property {string} signingKey         signed mode only (else empty)
 * @property {string} adminToken
 * @property {string} runTokenKey        HMAC key of run read tokens (access.js)
 * @property {number} generateRatePeriodSeconds  the generate rate limit's period (ratelimit.js)
 * @property {Jobs | null} jobs          null unless `asyncEnabled`
 */

/**
 * Queue processing (`queues.*` of the stack).
 * @typedef {object} Jobs
 * @property {string} queue               the jobs queue's name (`batch.queue` of its deliveries)
 * @property {string} deadLetterQueue
 * @property {number} maxAttempts         deliveries of one message before the dead-letter queue: max_retries + 1
 * @property {number} initialDelaySeconds second poll delay, and the base of the retry backoff
 * @property {number} maxDelaySeconds     the cap of both
 * @property {number} maxPolls            task queries before a run fails with `task_timeout`
 * @property {number} expectedTaskSeconds the hint for the first query (backoff.js)
 * @property {boolean} learnFromRecentRuns use the recent tasks' mean time instead, once there are enough
 * @property {number} batchWaitSeconds    how long a due message may wait for its batch (`max_batch_timeout`)
 */

/** The config of an async stack, as the queue consumer sees it. @typedef {Config & {jobs: Jobs}} AsyncConfig */

/**
 * @param {Env} env @returns {Config}
 * @throws {Misconfigured} when a binding the stack must have is missing or malformed
 */
export function readConfig(env) {
  const problems = bindingProblems(env);
  const asyncEnabled = env.ASYNC_ENABLED === "true";
  if (problems.length === 0 && asyncEnabled && !MODELS[env.DASHSCOPE_MODEL].includes("async")) {
    problems.push({ name: "DASHSCOPE_MODEL", problem: `is ${env.DASHSCOPE_MODEL}, which has no async API, but ASYNC_ENABLED is true` });
  }
  if (problems.length > 0) throw new Misconfigured(problems);
  return {
    environment: env.ENVIRONMENT,
    publicBaseUrl: trimSlash(env.PUBLIC_BASE_URL),
    mediaDelivery: /** @type {Config["mediaDelivery"]} */ (env.MEDIA_DELIVERY),
    mediaBaseUrl: trimSlash(env.MEDIA_BASE_URL ?? ""),
    signedUrlTtlSeconds: Number(env.SIGNED_URL_TTL_SECONDS ?? 0),
    asyncEnabled,
    upstreamBaseUrl: trimSlash(env.DASHSCOPE_BASE_URL),
    model: env.DASHSCOPE_MODEL,
    apiKey: env.DASHSCOPE_API_KEY,
    allowedResultHosts: env.ALLOWED_RESULT_HOSTS.split(",").map((h) => h.toLowerCase()),
    allowHttpResults: env.ALLOW_HTTP_RESULTS === "true",
    upstreamTimeoutMs: Number(env.UPSTREAM_TIMEOUT_MS),
    downloadTimeoutMs: Number(env.DOWNLOAD_TIMEOUT_MS),
    maxImageBytes: Number(env.MAX_IMAGE_BYTES),
    sweepAfterSeconds: Number(env.SWEEP_AFTER_SECONDS),
    retentionDays: daysOrNever(env.METADATA_RETENTION_DAYS),
    mediaExpireDays: daysOrNever(env.MEDIA_EXPIRE_AFTER_DAYS),
    signingKey: env.MEDIA_SIGNING_KEY ?? "",
    adminToken: env.ADMIN_TOKEN,
    runTokenKey: env.RUN_TOKEN_KEY,
    generateRatePeriodSeconds: Number(env.GENERATE_RATE_PERIOD_SECONDS),
    jobs: asyncEnabled ? readJobs(env) : null,
  };
}

/** Bound (and checked) wherever ASYNC_ENABLED is true. @param {Env} env @returns {Jobs} */
function readJobs(env) {
  return {
    queue: /** @type {string} */ (env.JOBS_QUEUE),
    deadLetterQueue: /** @type {string} */ (env.DEAD_LETTER_QUEUE),
    maxAttempts: Number(env.JOBS_MAX_RETRIES) + 1,
    initialDelaySeconds: Number(env.POLL_INITIAL_DELAY_SECONDS),
    maxDelaySeconds: Number(env.POLL_MAX_DELAY_SECONDS),
    maxPolls: Number(env.POLL_MAX_POLLS),
    expectedTaskSeconds: Number(env.POLL_EXPECTED_TASK_SECONDS),
    learnFromRecentRuns: env.POLL_LEARN_FROM_RECENT_RUNS === "true",
    batchWaitSeconds: Number(env.JOBS_BATCH_WAIT_SECONDS),
  };
}

/** A number of days, or `never` (the binding check has held it to that shape). @param {string} value */
function daysOrNever(value) {
  return value === "never" ? null : Number(value);
}

/** @param {string} value */
function trimSlash(value) {
  return value.replace(/\/+$/, "");
}
