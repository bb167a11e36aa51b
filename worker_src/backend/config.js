// @ts-check
/**
 * The backend's `env`, as declared once in infra/model/bindings.py, parsed into typed settings. Vars arrive as
 * strings; parsing them in one place keeps `Number(...)` and `=== "true"` out of the routes.
 */

/**
 * @typedef {object} Env
 * @property {R2Bucket} MEDIA
 * @property {D1Database} DB
 * @property {Queue} [JOBS]
 * @property {string} ENVIRONMENT
 * @property {string} PUBLIC_BASE_URL
 * @property {string} MEDIA_DELIVERY
 * @property {string} MEDIA_BASE_URL
 * @property {string} SIGNED_URL_TTL_SECONDS
 * @property {string} ASYNC_ENABLED
 * @property {string} DASHSCOPE_BASE_URL
 * @property {string} DASHSCOPE_MODEL
 * @property {string} ALLOWED_RESULT_HOSTS
 * @property {string} ALLOW_HTTP_RESULTS
 * @property {string} UPSTREAM_TIMEOUT_MS
 * @property {string} DOWNLOAD_TIMEOUT_MS
 * @property {string} MAX_IMAGE_BYTES
 * @property {string} SWEEP_AFTER_SECONDS          seconds a sync run may stay non-terminal (sweep.js)
 * @property {string} DASHSCOPE_API_KEY
 * @property {string} [MEDIA_SIGNING_KEY]
 * @property {string} ADMIN_TOKEN
 * @property {string} [JOBS_QUEUE]                    async only, like the five below
 * @property {string} [DEAD_LETTER_QUEUE]
 * @property {string} [JOBS_MAX_RETRIES]
 * @property {string} [POLL_INITIAL_DELAY_SECONDS]
 * @property {string} [POLL_MAX_DELAY_SECONDS]
 * @property {string} [POLL_MAX_POLLS]
 */

/**
 * @typedef {object} Config
 * @property {string} environment
 * @property {string} publicBaseUrl      no trailing slash
 * @property {"worker" | "signed" | "custom-domain"} mediaDelivery
 * @property {string} mediaBaseUrl       custom-domain mode only, no trailing slash
 * @property {number} signedUrlTtlSeconds
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
 * @property {string} signingKey         empty unless delivery is signed
 * @property {string} adminToken
 * @property {Jobs} jobs
 */

/**
 * Queue processing (`queues.*` of the stack), meaningful when `asyncEnabled`.
 * @typedef {object} Jobs
 * @property {string} queue               the jobs queue's name (`batch.queue` of its deliveries)
 * @property {string} deadLetterQueue
 * @property {number} maxAttempts         deliveries of one message before the dead-letter queue: max_retries + 1
 * @property {number} initialDelaySeconds first poll delay, and the base of the retry backoff
 * @property {number} maxDelaySeconds     the cap of both
 * @property {number} maxPolls            task queries before a run fails with `task_timeout`
 */

const DELIVERY = ["worker", "signed", "custom-domain"];

/** @param {Env} env @returns {Config} */
export function readConfig(env) {
  const delivery = env.MEDIA_DELIVERY || "worker";
  if (!DELIVERY.includes(delivery)) throw new Error(`MEDIA_DELIVERY must be one of ${DELIVERY.join(", ")}`);
  return {
    environment: env.ENVIRONMENT || "unknown",
    publicBaseUrl: trimSlash(env.PUBLIC_BASE_URL || ""),
    mediaDelivery: /** @type {Config["mediaDelivery"]} */ (delivery),
    mediaBaseUrl: trimSlash(env.MEDIA_BASE_URL || ""),
    signedUrlTtlSeconds: positive(env.SIGNED_URL_TTL_SECONDS, 3600),
    asyncEnabled: env.ASYNC_ENABLED === "true",
    upstreamBaseUrl: trimSlash(env.DASHSCOPE_BASE_URL || ""),
    model: env.DASHSCOPE_MODEL || "qwen-image-plus",
    apiKey: env.DASHSCOPE_API_KEY || "",
    allowedResultHosts: (env.ALLOWED_RESULT_HOSTS || "")
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
    allowHttpResults: env.ALLOW_HTTP_RESULTS === "true",
    upstreamTimeoutMs: positive(env.UPSTREAM_TIMEOUT_MS, 120000),
    downloadTimeoutMs: positive(env.DOWNLOAD_TIMEOUT_MS, 30000),
    maxImageBytes: positive(env.MAX_IMAGE_BYTES, 20000000),
    sweepAfterSeconds: positive(env.SWEEP_AFTER_SECONDS, 3600),
    signingKey: env.MEDIA_SIGNING_KEY || "",
    adminToken: env.ADMIN_TOKEN || "",
    jobs: {
      queue: env.JOBS_QUEUE || "",
      deadLetterQueue: env.DEAD_LETTER_QUEUE || "",
      maxAttempts: wholeNumber(env.JOBS_MAX_RETRIES, 3) + 1,
      initialDelaySeconds: positive(env.POLL_INITIAL_DELAY_SECONDS, 3),
      maxDelaySeconds: positive(env.POLL_MAX_DELAY_SECONDS, 30),
      maxPolls: positive(env.POLL_MAX_POLLS, 40),
    },
  };
}

/** @param {string} value */
function trimSlash(value) {
  return value.replace(/\/+$/, "");
}

/** @param {string | undefined} value @param {number} fallback */
function positive(value, fallback) {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** @param {string | undefined} value @param {number} fallback */
function wholeNumber(value, fallback) {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isInteger(n) && n >= 0 ? n : fallback;
}
