// @ts-check
/**
 * DashScope (Qwen-Image) client: builds the provider's request bodies and turns every way a call can go
 * wrong into an `UpstreamError` that carries the provider's own code and message. The async submit/poll
 * calls of the queue consumer go through the same `callProvider`, which reads every answer through the byte
 * cap `LIMITS.upstreamBodyBytes` (body.js).
 */

import { readCapped } from "./body.js";
import { LIMITS } from "./contract.js";

export const PROVIDER_PATHS = Object.freeze({
  sync: "/api/v1/services/aigc/multimodal-generation/generation",
  asyncSubmit: "/api/v1/services/aigc/text2image/image-synthesis",
  task: "/api/v1/tasks/",
});

/**
 * @typedef {"http" | "timeout" | "network" | "bad_response"} UpstreamErrorKind
 * @typedef {object} UpstreamErrorInfo
 * @property {UpstreamErrorKind} kind
 * @property {string} code           the provider's code (`Throttling.RateQuota`) or ours (`upstream_timeout`)
 * @property {string} message
 * @property {number | null} [status]
 * @property {string | null} [requestId]
 * @property {number | null} [retryAfterSeconds]
 */

export class UpstreamError extends Error {
  /** @param {UpstreamErrorInfo} info */
  constructor(info) {
    super(info.message);
    this.kind = info.kind;
    this.code = info.code;
    this.status = info.status ?? null;
    this.requestId = info.requestId ?? null;
    this.retryAfterSeconds = info.retryAfterSeconds ?? null;
  }

  get throttled() {
    return this.status === 429;
  }

  /** Worth trying again later (throttling, provider-side errors, timeouts), as opposed to a bad request. */
  get retryable() {
    if (this.kind === "timeout" || this.kind === "network") return true;
    return this.status === 408 || this.status === 429 || (this.status !== null && this.status >= 500);
  }
}

/**
 * The synchronous request body for one image (n is fixed at 1 for these models).
 * @param {string} model @param {import("./validate.js").GenerateParams} params
 */
export function syncRequestBody(model, params) {
  /** @type {Record<string, unknown>} */
  const parameters = { n: 1, watermark: false };
  if (params.negative_prompt !== undefined) parameters.negative_prompt = params.negative_prompt;
  if (params.size !== undefined) parameters.size = params.size;
  if (params.seed !== undefined) parameters.seed = params.seed;
  return { model, input: { messages: [{ role: "user", content: [{ text: params.prompt }] }] }, parameters };
}

/**
 * Generate synchronously; resolves with the provider's request id and the result URLs (short-lived).
 * @param {import("./config.js").Config} cfg @param {import("./validate.js").GenerateParams} params
 * @returns {Promise<{requestId: string | null, imageUrls: string[]}>}
 */
export async function generateSync(cfg, params) {
  const body = await callProvider(cfg, PROVIDER_PATHS.sync, {
    method: "POST",
    body: JSON.stringify(syncRequestBody(cfg.model, params)),
  });
  const requestId = typeof body.request_id === "string" ? body.request_id : null;
  const content = body.output?.choices?.[0]?.message?.content;
  const imageUrls = Array.isArray(content)
    ? content.map((item) => item?.image).filter((url) => typeof url === "string" && url !== "")
    : [];
  if (imageUrls.length === 0) {
    throw new UpstreamError({
      kind: "bad_response",
      status: 200,
      code: "bad_upstream_response",
      message: "the provider answered 200 without an image URL",
      requestId,
    });
  }
  return { requestId, imageUrls };
}

/**
 * The async submit body: a plain `input.prompt`; `negative_prompt` in `parameters`, as the Qwen docs put it.
 * @param {string} model @param {import("./validate.js").GenerateParams} params
 */
export function asyncRequestBody(model, params) {
  const { input, parameters } = syncRequestBody(model, params);
  return { model, input: { prompt: input.messages[0].content[0].text }, parameters };
}

/**
 * Submit an async task (`X-DashScope-Async: enable`); resolves with its task id.
 * @param {import("./config.js").Config} cfg @param {import("./validate.js").GenerateParams} params
 * @returns {Promise<{taskId: string, requestId: string | null}>}
 */
export async function submitTask(cfg, params) {
  const body = await callProvider(
    cfg,
    PROVIDER_PATHS.asyncSubmit,
    { method: "POST", body: JSON.stringify(asyncRequestBody(cfg.model, params)) },
    { "X-DashScope-Async": "enable" },
  );
  const requestId = typeof body.request_id === "string" ? body.request_id : null;
  const taskId = body.output?.task_id;
  if (typeof taskId !== "string" || taskId === "") {
    throw new UpstreamError({
      kind: "bad_response",
      status: 200,
      code: "bad_upstream_response",
      message: "the provider accepted the task without a task id",
      requestId,
    });
  }
  return { taskId, requestId };
}

/**
 * @typedef {object} TaskState
 * @property {string} status        PENDING | RUNNING | SUCCEEDED | FAILED | CANCELED | UNKNOWN (| SUSPENDED)
 * @property {string | null} requestId
 * @property {string[]} urls        result URLs of a SUCCEEDED task
 * @property {string | null} code   the provider's code of a FAILED task
 * @property {string | null} message
 * @property {number | null} durationMs  the provider's own `submit_time` → `end_time` of a finished task
 */

/**
 * Query a task once.
 * @param {import("./config.js").Config} cfg @param {string} taskId
 * @returns {Promise<TaskState>}
 */
export async function queryTask(cfg, taskId) {
  const body = await callProvider(cfg, PROVIDER_PATHS.task + encodeURIComponent(taskId), { method: "GET" });
  const output = body.output ?? {};
  /** @type {any[]} */
  const results = Array.isArray(output.results) ? output.results : [];
  return {
    status: typeof output.task_status === "string" ? output.task_status : "UNKNOWN",
    requestId: typeof body.request_id === "string" ? body.request_id : null,
    urls: results.map((r) => r?.url).filter((url) => typeof url === "string" && url !== ""),
    code: typeof output.code === "string" ? output.code : null,
    message: typeof output.message === "string" ? output.message.slice(0, 500) : null,
    durationMs: taskDurationMs(output.submit_time, output.end_time),
  };
}

/**
 * Milliseconds between two task timestamps (`2025-09-09 11:38:54.741`, both in the provider's time zone, so
 * reading them as UTC keeps the difference); null unless both are such timestamps in order.
 * @param {unknown} submitted @param {unknown} ended
 */
export function taskDurationMs(submitted, ended) {
  const at = (/** @type {unknown} */ t) =>
    typeof t === "string" && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?$/.test(t) ? Date.parse(`${t.replace(" ", "T")}Z`) : NaN;
  const ms = at(ended) - at(submitted);
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
}

/**
 * One JSON call to the provider within `UPSTREAM_TIMEOUT_MS` (the body read included); an answer longer than
 * `LIMITS.upstreamBodyBytes` is refused (`upstream_response_too_large`) as soon as the count passes it.
 * @param {import("./config.js").Config} cfg @param {string} path @param {RequestInit} init
 * @param {Record<string, string>} [headers]
 * @returns {Promise<any>} the parsed JSON object of a 2xx answer
 */
export async function callProvider(cfg, path, init, headers = {}) {
  const signal = AbortSignal.timeout(cfg.upstreamTimeoutMs);
  let response;
  let bytes;
  try {
    response = await fetch(cfg.upstreamBaseUrl + path, {
      ...init,
      signal,
      headers: {
        Authorization: `Bearer ${cfg.apiKey}`,
        "Content-Type": "application/json",
        Accept: "application/json",
        ...headers,
      },
    });
    bytes = await readCapped(response, LIMITS.upstreamBodyBytes);
  } catch (err) {
    if (signal.aborted) {
      throw new UpstreamError({
        kind: "timeout",
        code: "upstream_timeout",
        message: `the provider did not answer within ${cfg.upstreamTimeoutMs} ms`,
      });
    }
    throw new UpstreamError({
      kind: "network",
      code: "upstream_unreachable",
      message: `the provider could not be reached: ${err instanceof Error ? err.message : err}`,
    });
  }
  if (bytes === null) {
    throw new UpstreamError({
      kind: "bad_response",
      status: response.status,
      code: "upstream_response_too_large",
      message: `the provider answered HTTP ${response.status} with more than ${LIMITS.upstreamBodyBytes} bytes`,
    });
  }
  let body = null;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    // not JSON: handled below
  }
  const requestId = typeof body?.request_id === "string" ? body.request_id : null;
  if (!response.ok) {
    throw new UpstreamError({
      kind: "http",
      status: response.status,
      code: typeof body?.code === "string" && body.code ? body.code : `HTTP${response.status}`,
      message: (typeof body?.message === "string" ? body.message : `HTTP ${response.status} from the provider`).slice(
        0,
        500,
      ),
      requestId,
      retryAfterSeconds: parseRetryAfter(response.headers.get("retry-after")),
    });
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new UpstreamError({
      kind: "bad_response",
      status: response.status,
      code: "bad_upstream_response",
      message: "the provider answered with something other than a JSON object",
      requestId,
    });
  }
  return body;
}

/** The HTTP date every sender must use (RFC 9110 §5.6.7); `Date.parse` alone would read "-5" as a date in 2001. */
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * `Retry-After` as whole seconds (delta-seconds, fractional seconds or an HTTP date); null if absent/bad.
 * @param {string | null} value
 */
export function parseRetryAfter(value) {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.max(1, Math.ceil(Number(trimmed)));
  const at = IMF_FIXDATE.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  return Number.isNaN(at) ? null : Math.max(1, Math.ceil((at - Date.now()) / 1000));
}
