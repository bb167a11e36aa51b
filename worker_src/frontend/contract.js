// Generated from infra/model/contract.py and infra/model/bindings.py by `make generate`: do not edit.
// @ts-check

const WORKER = "frontend";

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

/** Statuses a run stops in until an operator re-drives it. */
export const TERMINAL = Object.freeze(["succeeded", "failed", "dead_lettered"]);

/** A run id: a lowercase UUID. */
export const RUN_ID = new RegExp("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");

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

/** Request headers the frontend passes on to the backend. */
export const FORWARDED_HEADERS = Object.freeze([
  "accept",
  "authorization",
  "content-type",
  "idempotency-key",
  "if-none-match",
  "if-range",
  "range",
  "x-request-id",
  "x-run-token",
]);

/**
 * The frontend Worker's `env`, derived from infra/model/bindings.py: a property in [brackets] is bound only
 * on stacks where its condition holds (and required there).
 * @typedef {object} Env
 * @property {string} BACKEND_ACCESS how the frontend reaches the backend (frontend.backend_access)
 * @property {Fetcher} [BACKEND] the backend Worker (service binding); bound when BACKEND_ACCESS is "service-binding"
 * @property {string} [BACKEND_URL] the backend's public origin; bound when BACKEND_ACCESS is "url"
 */

/**
 * Every binding as declared: text and secrets with the pattern their whole value must match, the others with
 * a method every binding of their kind has; `when`: bound only where that text binding has that value.
 * @typedef {{name: string, kind: string, pattern?: RegExp, says?: string, method?: string,
 *   when?: {name: string, equals: string}}} DeclaredBinding
 * @type {readonly DeclaredBinding[]}
 */
const BINDINGS = Object.freeze([
  { name: "BACKEND_ACCESS", kind: "plain_text", pattern: new RegExp("^(service-binding|url)$"), says: "one of service-binding, url" },
  { name: "BACKEND", kind: "service", method: "fetch", when: { name: "BACKEND_ACCESS", equals: "service-binding" } },
  { name: "BACKEND_URL", kind: "plain_text", pattern: new RegExp("^https?://[^/\\s?#]+$"), says: "an http(s) origin such as https://example.com (no path)", when: { name: "BACKEND_ACCESS", equals: "url" } },
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
