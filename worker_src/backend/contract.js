// Generated from infra/model/contract.py and infra/model/bindings.py by `make generate`: do not edit.
// @ts-check

const WORKER = "backend";

/** Run statuses (the D1 CHECK on runs.status lists exactly these). */
export const STATUS = Object.freeze({
  QUEUED: "queued",
  SUBMITTED: "submitted",
  RUNNING: "running",
  PERSISTING: "persisting",
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  DEAD_LETTERED: "dead_lettered",
});

/** Every run status, in lifecycle order. */
export const STATUSES = Object.freeze([
  "queued",
  "submitted",
  "running",
  "persisting",
  "succeeded",
  "failed",
  "dead_lettered",
]);

/**
 * The statuses each status may move to (state.js).
 * @type {Readonly<Record<string, readonly string[]>>}
 */
export const NEXT = Object.freeze({
  "queued": Object.freeze(["submitted", "running", "failed", "dead_lettered"]),
  "submitted": Object.freeze(["running", "persisting", "failed", "dead_lettered"]),
  "running": Object.freeze(["persisting", "failed", "dead_lettered"]),
  "persisting": Object.freeze(["succeeded", "failed", "dead_lettered"]),
  "succeeded": Object.freeze([]),
  "failed": Object.freeze(["queued"]),
  "dead_lettered": Object.freeze(["queued"]),
});

/** Statuses a run stops in until an operator re-drives it. */
export const TERMINAL = Object.freeze(["succeeded", "failed", "dead_lettered"]);

/** Statuses with work still to do. */
export const ACTIVE = Object.freeze(["queued", "submitted", "running", "persisting"]);

/** Statuses `POST /api/runs/<id>/retry` accepts. */
export const REDRIVABLE = Object.freeze(["failed", "dead_lettered"]);

/** `run_events.type` values. */
export const EVENT = Object.freeze({
  STATUS: "status",
  IDEMPOTENT_REPLAY: "idempotent_replay",
  JOB_SENT: "job_sent",
  TASK_POLLED: "task_polled",
  ATTEMPT_FAILED: "attempt_failed",
  DELIVERY_SKIPPED: "delivery_skipped",
});

/** A run id: a lowercase UUID. */
export const RUN_ID = new RegExp("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");

/** Every stored object's key starts with this. */
export const MEDIA_KEY_PREFIX = "generated/";

/** What the API accepts. */
export const LIMITS = Object.freeze({
  promptChars: 800,
  negativePromptChars: 500,
  seedMax: 2147483647,
  idempotencyKeyMinChars: 16,
  idempotencyKeyChars: 128,
  requestIdChars: 128,
  bodyBytes: 16384,
  upstreamBodyBytes: 1048576,
  listDefault: 20,
  listMax: 100,
});

/** Image sizes; the first is the provider's default. */
export const SIZES = Object.freeze(["1664*928", "1472*1104", "1328*1328", "1104*1472", "928*1664"]);

/**
 * Each model's upstream modes.
 * @type {Readonly<Record<string, readonly string[]>>}
 */
export const MODELS = Object.freeze({
  "qwen-image": Object.freeze(["sync", "async"]),
  "qwen-image-plus": Object.freeze(["sync", "async"]),
  "qwen-image-plus-2026-01-09": Object.freeze(["sync"]),
  "qwen-image-max": Object.freeze(["sync"]),
  "qwen-image-max-2025-12-30": Object.freeze(["sync"]),
});

/** `error.code` of the API's error envelope. */
export const ERROR = Object.freeze({
  INVALID_REQUEST: "invalid_request",
  UNAUTHORIZED: "unauthorized",
  FORBIDDEN: "forbidden",
  NOT_FOUND: "not_found",
  MEDIA_EXPIRED: "media_expired",
  METHOD_NOT_ALLOWED: "method_not_allowed",
  IDEMPOTENCY_CONFLICT: "idempotency_conflict",
  NOT_RETRYABLE: "not_retryable",
  ASYNC_DISABLED: "async_disabled",
  UPSTREAM_THROTTLED: "upstream_throttled",
  INTERNAL_ERROR: "internal_error",
  UPSTREAM_ERROR: "upstream_error",
  BACKEND_UNAVAILABLE: "backend_unavailable",
  QUEUE_UNAVAILABLE: "queue_unavailable",
  MISCONFIGURED: "misconfigured",
  UPSTREAM_TIMEOUT: "upstream_timeout",
  PAYLOAD_TOO_LARGE: "payload_too_large",
  UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
  RATE_LIMITED: "rate_limited",
});

/**
 * The HTTP status of each error code.
 * @type {Readonly<Record<string, number>>}
 */
export const ERROR_STATUS = Object.freeze({
  "invalid_request": 400,
  "unauthorized": 401,
  "forbidden": 403,
  "not_found": 404,
  "media_expired": 410,
  "method_not_allowed": 405,
  "idempotency_conflict": 409,
  "not_retryable": 409,
  "async_disabled": 409,
  "upstream_throttled": 429,
  "internal_error": 500,
  "upstream_error": 502,
  "backend_unavailable": 502,
  "queue_unavailable": 503,
  "misconfigured": 503,
  "upstream_timeout": 504,
  "payload_too_large": 413,
  "unsupported_media_type": 415,
  "rate_limited": 429,
});

/**
 * Each run error code's (or code prefix's, `*`) failure cause.
 * @type {Readonly<Record<string, string>>}
 */
export const FAILURE_CODES = Object.freeze({
  "Throttling*": "throttled",
  "HTTP429": "throttled",
  "InternalError*": "upstream_error",
  "HTTP5*": "upstream_error",
  "upstream_unreachable": "upstream_error",
  "bad_upstream_response": "upstream_error",
  "task_failed": "upstream_error",
  "task_canceled": "upstream_error",
  "task_unknown": "upstream_error",
  "result_lost": "upstream_error",
  "result_http_error": "upstream_error",
  "result_truncated": "upstream_error",
  "result_unreachable": "upstream_error",
  "upstream_response_too_large": "upstream_error",
  "upstream_timeout": "timeout",
  "RequestTimeOut": "timeout",
  "HTTP408": "timeout",
  "download_timeout": "timeout",
  "task_timeout": "timeout",
  "abandoned": "abandoned",
  "InvalidParameter*": "invalid_input",
  "BadRequest*": "invalid_input",
  "HTTP400": "invalid_input",
  "DataInspectionFailed": "content_inspection",
  "InvalidParameter.DataInspection*": "content_inspection",
  "InvalidApiKey": "key_or_quota",
  "AccessDenied*": "key_or_quota",
  "Arrearage": "key_or_quota",
  "HTTP401": "key_or_quota",
  "HTTP403": "key_or_quota",
  "result_url_invalid": "result_rejected",
  "result_url_not_https": "result_rejected",
  "result_host_not_allowed": "result_rejected",
  "result_too_many_redirects": "result_rejected",
  "result_bad_content_type": "result_rejected",
  "result_too_large": "result_rejected",
  "result_empty": "result_rejected",
  "internal_error": "internal",
  "storage_failed": "internal",
  "queue_unavailable": "internal",
  "dead_lettered": "internal",
});

/**
 * Each failure cause: its label, and whether async absorbs it.
 * @type {Readonly<Record<string, {label: string, absorbed: boolean}>>}
 */
export const FAILURE_CAUSES = Object.freeze({
  "throttled": Object.freeze({ label: "upstream throttling (429)", absorbed: true }),
  "upstream_error": Object.freeze({ label: "upstream 5xx, unreachable or a failed task", absorbed: true }),
  "timeout": Object.freeze({ label: "timeouts (provider call, download, task)", absorbed: true }),
  "abandoned": Object.freeze({ label: "abandoned by a dying request", absorbed: true }),
  "invalid_input": Object.freeze({ label: "invalid input", absorbed: false }),
  "content_inspection": Object.freeze({ label: "content inspection", absorbed: false }),
  "key_or_quota": Object.freeze({ label: "API key, access or quota", absorbed: false }),
  "result_rejected": Object.freeze({ label: "result refused by the download rules", absorbed: false }),
  "internal": Object.freeze({ label: "our own errors (storage, queue, code)", absorbed: false }),
  "unclassified": Object.freeze({ label: "unclassified codes", absorbed: false }),
});

/** The thresholds of the runbook's rule for deciding on async. */
export const ASYNC_RULE = Object.freeze({
  minEndedRuns: 200,
  nearBudgetMargin: 0.2,
  onAbsorbableShare: 0.02,
  onNearBudgetShare: 0.05,
  offRetriedShare: 0.005,
  offNearBudgetShare: 0.01,
});

/** Header names of the API besides the standard ones. */
export const HEADERS = Object.freeze({
  requestId: "X-Request-Id",
  clientRequestId: "X-Client-Request-Id",
  runToken: "X-Run-Token",
  clientAddress: "X-Client-Address",
});

/**
 * The backend Worker's `env`, derived from infra/model/bindings.py: a property in [brackets] is bound only
 * on stacks where its condition holds (and required there).
 * @typedef {object} Env
 * @property {R2Bucket} MEDIA the media bucket: generated images
 * @property {D1Database} DB the metadata database: runs, assets, events
 * @property {string} ENVIRONMENT the stack's name
 * @property {string} PUBLIC_BASE_URL where users reach the frontend; image URLs are built from it
 * @property {string} MEDIA_DELIVERY how images are served (media.delivery.mode)
 * @property {string} [MEDIA_BASE_URL] the bucket's public domain; bound when MEDIA_DELIVERY is "custom-domain"
 * @property {string} [SIGNED_URL_TTL_SECONDS] lifetime of signed media URLs; bound when MEDIA_DELIVERY is "signed"
 * @property {string} ASYNC_ENABLED queue-based processing (queues.enabled)
 * @property {string} DASHSCOPE_BASE_URL the provider's region base
 * @property {string} DASHSCOPE_MODEL the model sent upstream
 * @property {string} ALLOWED_RESULT_HOSTS the only hosts results are downloaded from (exact host[:port] or *.suffix)
 * @property {string} ALLOW_HTTP_RESULTS local only: http result URLs
 * @property {string} UPSTREAM_TIMEOUT_MS provider call timeout
 * @property {string} DOWNLOAD_TIMEOUT_MS result download timeout
 * @property {string} MAX_IMAGE_BYTES largest result accepted
 * @property {string} SWEEP_AFTER_SECONDS seconds a sync run may stay non-terminal before the sweeper fails it
 * @property {string} METADATA_RETENTION_DAYS days after creation the cron purges an ended run (retention.js), or never
 * @property {string} MEDIA_EXPIRE_AFTER_DAYS days after upload the media lifecycle deletes an image, or never
 * @property {string} DASHSCOPE_API_KEY the provider's API key
 * @property {string} [MEDIA_SIGNING_KEY] HMAC key of signed media URLs; bound when MEDIA_DELIVERY is "signed"
 * @property {string} ADMIN_TOKEN bearer token of the admin routes
 * @property {string} RUN_TOKEN_KEY HMAC key of run read tokens (derived per run, never stored)
 * @property {RateLimit} GENERATE_RATE_LIMIT generations one client address may start per period
 * @property {string} GENERATE_RATE_PERIOD_SECONDS that limit's period (the binding does not tell): Retry-After of a 429
 * @property {Queue} [JOBS] the jobs queue (producer); bound when ASYNC_ENABLED is "true"
 * @property {string} [JOBS_QUEUE] the jobs queue's name (`batch.queue` of its deliveries); bound when ASYNC_ENABLED is "true"
 * @property {string} [DEAD_LETTER_QUEUE] the dead-letter queue's name; bound when ASYNC_ENABLED is "true"
 * @property {string} [JOBS_MAX_RETRIES] deliveries of a job after the first before it is dead-lettered; bound when ASYNC_ENABLED is "true"
 * @property {string} [POLL_INITIAL_DELAY_SECONDS] the delay after the first poll, and the base of the retry backoff; bound when ASYNC_ENABLED is "true"
 * @property {string} [POLL_MAX_DELAY_SECONDS] cap of the poll and retry delays; bound when ASYNC_ENABLED is "true"
 * @property {string} [POLL_MAX_POLLS] task queries before a run fails with task_timeout; bound when ASYNC_ENABLED is "true"
 * @property {string} [POLL_EXPECTED_TASK_SECONDS] how long the model's tasks take: the first poll's hint (backoff.js); bound when ASYNC_ENABLED is "true"
 * @property {string} [POLL_LEARN_FROM_RECENT_RUNS] use the recent tasks' mean time for the first poll instead; bound when ASYNC_ENABLED is "true"
 * @property {string} [JOBS_BATCH_WAIT_SECONDS] how long a due job may wait for its batch (the consumer's max_batch_timeout); bound when ASYNC_ENABLED is "true"
 */

/**
 * Every binding as declared: text and secrets with the pattern their whole value must match, the others with
 * a method every binding of their kind has; `when`: bound only where that text binding has that value.
 * @typedef {{name: string, kind: string, pattern?: RegExp, says?: string, method?: string,
 *   when?: {name: string, equals: string}}} DeclaredBinding
 * @type {readonly DeclaredBinding[]}
 */
const BINDINGS = Object.freeze([
  { name: "MEDIA", kind: "r2_bucket", method: "head" },
  { name: "DB", kind: "d1", method: "prepare" },
  { name: "ENVIRONMENT", kind: "plain_text", pattern: new RegExp("^\\S+$"), says: "a non-empty text without spaces" },
  { name: "PUBLIC_BASE_URL", kind: "plain_text", pattern: new RegExp("^https?://[^/\\s?#]+$"), says: "an http(s) origin such as https://example.com (no path)" },
  { name: "MEDIA_DELIVERY", kind: "plain_text", pattern: new RegExp("^(worker|signed|custom-domain)$"), says: "one of worker, signed, custom-domain" },
  { name: "MEDIA_BASE_URL", kind: "plain_text", pattern: new RegExp("^https?://[^/\\s?#]+$"), says: "an http(s) origin such as https://example.com (no path)", when: { name: "MEDIA_DELIVERY", equals: "custom-domain" } },
  { name: "SIGNED_URL_TTL_SECONDS", kind: "plain_text", pattern: new RegExp("^[1-9][0-9]*$"), says: "a whole number of at least 1", when: { name: "MEDIA_DELIVERY", equals: "signed" } },
  { name: "ASYNC_ENABLED", kind: "plain_text", pattern: new RegExp("^(true|false)$"), says: "one of true, false" },
  { name: "DASHSCOPE_BASE_URL", kind: "plain_text", pattern: new RegExp("^https?://[^/\\s?#]+$"), says: "an http(s) origin such as https://example.com (no path)" },
  { name: "DASHSCOPE_MODEL", kind: "plain_text", pattern: new RegExp("^(qwen-image|qwen-image-plus|qwen-image-plus-2026-01-09|qwen-image-max|qwen-image-max-2025-12-30)$"), says: "one of qwen-image, qwen-image-plus, qwen-image-plus-2026-01-09, qwen-image-max, qwen-image-max-2025-12-30" },
  { name: "ALLOWED_RESULT_HOSTS", kind: "plain_text", pattern: new RegExp("^[^,\\s]+(,[^,\\s]+)*$"), says: "a comma-separated list of hosts" },
  { name: "ALLOW_HTTP_RESULTS", kind: "plain_text", pattern: new RegExp("^(true|false)$"), says: "one of true, false" },
  { name: "UPSTREAM_TIMEOUT_MS", kind: "plain_text", pattern: new RegExp("^[1-9][0-9]*$"), says: "a whole number of at least 1" },
  { name: "DOWNLOAD_TIMEOUT_MS", kind: "plain_text", pattern: new RegExp("^[1-9][0-9]*$"), says: "a whole number of at least 1" },
  { name: "MAX_IMAGE_BYTES", kind: "plain_text", pattern: new RegExp("^[1-9][0-9]*$"), says: "a whole number of at least 1" },
  { name: "SWEEP_AFTER_SECONDS", kind: "plain_text", pattern: new RegExp("^[1-9][0-9]*$"), says: "a whole number of at least 1" },
  { name: "METADATA_RETENTION_DAYS", kind: "plain_text", pattern: new RegExp("^([1-9][0-9]*|never)$"), says: "a whole number of days, or never" },
  { name: "MEDIA_EXPIRE_AFTER_DAYS", kind: "plain_text", pattern: new RegExp("^([1-9][0-9]*|never)$"), says: "a whole number of days, or never" },
  { name: "DASHSCOPE_API_KEY", kind: "secret_text", pattern: new RegExp("^[\\s\\S]+$"), says: "a non-empty secret" },
  { name: "MEDIA_SIGNING_KEY", kind: "secret_text", pattern: new RegExp("^[\\s\\S]+$"), says: "a non-empty secret", when: { name: "MEDIA_DELIVERY", equals: "signed" } },
  { name: "ADMIN_TOKEN", kind: "secret_text", pattern: new RegExp("^[\\s\\S]+$"), says: "a non-empty secret" },
  { name: "RUN_TOKEN_KEY", kind: "secret_text", pattern: new RegExp("^[\\s\\S]+$"), says: "a non-empty secret" },
  { name: "GENERATE_RATE_LIMIT", kind: "ratelimit", method: "limit" },
  { name: "GENERATE_RATE_PERIOD_SECONDS", kind: "plain_text", pattern: new RegExp("^(10|60)$"), says: "one of 10, 60" },
  { name: "JOBS", kind: "queue", method: "send", when: { name: "ASYNC_ENABLED", equals: "true" } },
  { name: "JOBS_QUEUE", kind: "plain_text", pattern: new RegExp("^\\S+$"), says: "a non-empty text without spaces", when: { name: "ASYNC_ENABLED", equals: "true" } },
  { name: "DEAD_LETTER_QUEUE", kind: "plain_text", pattern: new RegExp("^\\S+$"), says: "a non-empty text without spaces", when: { name: "ASYNC_ENABLED", equals: "true" } },
  { name: "JOBS_MAX_RETRIES", kind: "plain_text", pattern: new RegExp("^(0|[1-9][0-9]*)$"), says: "a whole number of at least 0", when: { name: "ASYNC_ENABLED", equals: "true" } },
  { name: "POLL_INITIAL_DELAY_SECONDS", kind: "plain_text", pattern: new RegExp("^[1-9][0-9]*$"), says: "a whole number of at least 1", when: { name: "ASYNC_ENABLED", equals: "true" } },
  { name: "POLL_MAX_DELAY_SECONDS", kind: "plain_text", pattern: new RegExp("^[1-9][0-9]*$"), says: "a whole number of at least 1", when: { name: "ASYNC_ENABLED", equals: "true" } },
  { name: "POLL_MAX_POLLS", kind: "plain_text", pattern: new RegExp("^[1-9][0-9]*$"), says: "a whole number of at least 1", when: { name: "ASYNC_ENABLED", equals: "true" } },
  { name: "POLL_EXPECTED_TASK_SECONDS", kind: "plain_text", pattern: new RegExp("^[1-9][0-9]*$"), says: "a whole number of at least 1", when: { name: "ASYNC_ENABLED", equals: "true" } },
  { name: "POLL_LEARN_FROM_RECENT_RUNS", kind: "plain_text", pattern: new RegExp("^(true|false)$"), says: "one of true, false", when: { name: "ASYNC_ENABLED", equals: "true" } },
  { name: "JOBS_BATCH_WAIT_SECONDS", kind: "plain_text", pattern: new RegExp("^(0|[1-9][0-9]*)$"), says: "a whole number of at least 0", when: { name: "ASYNC_ENABLED", equals: "true" } },
]);

/** The shape of every log line (infra/model/contract.py `LOG`). */
const LOG = Object.freeze({
  fields: Object.freeze(["request_id", "run_id", "route", "status", "outcome", "duration_ms"]),
  detail: Object.freeze([
    "client_request_id",
    "via",
    "seq",
    "attempt",
    "delay_seconds",
    "stuck_in",
    "stuck_seconds",
    "objects_deleted",
    "swept",
    "purged",
    "error",
    "d1",
  ]),
  maxText: 500,
});

/**
 * What is wrong with `env`: every binding this stack must have that is missing, of the wrong kind, or (text)
 * not in its format. Values are never quoted: some are secrets.
 * @param {object} env @returns {{name: string, problem: string}[]}
 */
export function bindingProblems(env) {
  const given = /** @type {Record<string, unknown>} */ (env);
  /** @type {{name: string, problem: string}[]} */
  const problems = [];
  for (const binding of BINDINGS) {
    if (binding.when && given[binding.when.name] !== binding.when.equals) continue;
    const value = given[binding.name];
    if (value === undefined) {
      problems.push({ name: binding.name, problem: `is missing (a ${binding.kind} binding)` });
    } else if (binding.pattern) {
      if (typeof value !== "string" || !binding.pattern.test(value)) {
        problems.push({ name: binding.name, problem: `must be ${binding.says}` });
      }
    } else if (typeof (/** @type {Record<string, unknown>} */ (value))[binding.method ?? ""] !== "function") {
      problems.push({ name: binding.name, problem: `is not a ${binding.kind} binding` });
    }
  }
  return problems;
}

/** Missing or malformed bindings: the Worker answers every request 503 `misconfigured`, naming them. */
export class Misconfigured extends Error {
  /** @param {{name: string, problem: string}[]} problems */
  constructor(problems) {
    const list = problems.map((p) => `${p.name} ${p.problem}`).join("; ");
    super(`read bindings of the ${WORKER} Worker failed: ${list}; they are declared in infra/model/bindings.py: ` +
      "redeploy the stack with pulumi up (locally: restart make dev)");
    /** @type {string[]} */
    this.bindings = problems.map((p) => p.name);
  }
}

/**
 * Write one log line: one JSON object with every field of `LOG.fields` (null where it says nothing) and those of
 * `LOG.detail` that are given; any other field is left out and named in `dropped`. Text is cut to `LOG.maxText`
 * characters and a URL loses its query (a signed URL's signature). Never pass a prompt, a token or a header.
 * @param {Record<string, unknown>} fields
 */
export function logLine(fields) {
  /** @type {Record<string, unknown>} */
  const line = {};
  for (const name of LOG.fields) line[name] = logValue(fields[name] ?? null);
  const dropped = [];
  for (const [name, value] of Object.entries(fields)) {
    if (LOG.detail.includes(name)) line[name] = logValue(value);
    else if (!LOG.fields.includes(name)) dropped.push(name);
  }
  if (dropped.length > 0) line.dropped = dropped;
  console.log(JSON.stringify(line));
}

/**
 * A value as a log line may hold it: text cut and without URL queries, a record's or list's entries the same
 * way one level down (deeper ones as text).
 * @param {unknown} value @param {boolean} [nested] @returns {unknown}
 */
function logValue(value, nested = false) {
  if (typeof value === "string") return value.replace(/(\/[^\s?#"']*)\?[^\s#"']*/g, "$1").slice(0, LOG.maxText);
  if (value === null || typeof value !== "object") return value;
  if (nested) return logValue(String(value));
  if (Array.isArray(value)) return value.map((item) => logValue(item, true));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, logValue(item, true)]));
}

/**
 * The API's one error shape (docs/api.md): `{"error": {"code", "message", "request_id", ...extra}}`.
 * @param {string} code @param {string} message @param {string} requestId @param {Record<string, unknown>} [extra]
 */
export function errorBody(code, message, requestId, extra = {}) {
  return { error: { code, message, request_id: requestId, ...extra } };
}
