// @ts-check
/**
 * Request validation. Every rejection names the field and says why — a 400 `invalid_request`, or for a generate
 * body a 415 `unsupported_media_type` (not JSON) or 413 `payload_too_large` (over the cap) — and nothing reaches
 * D1 or the provider before it has passed here.
 */

import { readCapped } from "./body.js";
import { ERROR, HEADERS, LIMITS, SIZES, STATUSES } from "./contract.js";
import { fromBase64url, toBase64url } from "./encoding.js";
import { HttpError, invalid } from "./http.js";

const GENERATE_FIELDS = ["prompt", "negative_prompt", "size", "seed"];
const LIST_PARAMS = ["status", "since", "until", "limit", "cursor", "request_id", "client_request_id"];
const PRINTABLE = /^[\x21-\x7e]+$/;
const REQUEST_ID = new RegExp(`^[A-Za-z0-9._:-]{1,${LIMITS.requestIdChars}}$`);
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * @typedef {object} GenerateParams
 * @property {string} prompt
 * @property {string} [negative_prompt]
 * @property {string} [size]
 * @property {number} [seed]
 */

/**
 * `POST /api/generate` takes only JSON: a cross-site form (text/plain, urlencoded, multipart) cannot start a
 * generation, and a browser must preflight a JSON request from another origin, which no route grants.
 * @param {Request} request
 */
export function requireJson(request) {
  const type = (request.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(ERROR.UNSUPPORTED_MEDIA_TYPE, "Content-Type: must be application/json", {
      extra: { field: "Content-Type" },
    });
  }
}

/**
 * Read and check a `POST /api/generate` body, through the byte cap (body.js).
 * @param {Request} request
 * @returns {Promise<GenerateParams>}
 */
export async function readGenerateRequest(request) {
  const bytes = await readCapped(request, LIMITS.bodyBytes);
  if (bytes === null) {
    throw new HttpError(ERROR.PAYLOAD_TOO_LARGE, `body: must be at most ${LIMITS.bodyBytes} bytes`, {
      extra: { field: "body" },
    });
  }
  let body;
  try {
    body = JSON.parse(UTF8.decode(bytes));
  } catch {
    throw invalid("body", "must be a JSON object (UTF-8)");
  }
  return validateGenerate(body);
}

/** @param {unknown} body @returns {GenerateParams} */
export function validateGenerate(body) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalid("body", "must be a JSON object");
  }
  const fields = /** @type {Record<string, unknown>} */ (body);
  for (const name of Object.keys(fields)) {
    if (!GENERATE_FIELDS.includes(name)) {
      throw invalid(name, `is not a known field (expected one of ${GENERATE_FIELDS.join(", ")})`);
    }
  }
  /** @type {GenerateParams} */
  const params = { prompt: text(fields, "prompt", LIMITS.promptChars, true) ?? "" };
  const negative = text(fields, "negative_prompt", LIMITS.negativePromptChars, false);
  if (negative !== undefined) params.negative_prompt = negative;
  if (fields.size !== undefined) {
    if (typeof fields.size !== "string" || !SIZES.includes(fields.size)) {
      throw invalid("size", `must be one of ${SIZES.join(", ")}`);
    }
    params.size = fields.size;
  }
  if (fields.seed !== undefined) {
    const seed = fields.seed;
    if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed > LIMITS.seedMax) {
      throw invalid("seed", `must be an integer from 0 to ${LIMITS.seedMax}`);
    }
    params.seed = seed;
  }
  return params;
}

/**
 * @param {Record<string, unknown>} fields @param {string} name @param {number} max @param {boolean} required
 * @returns {string | undefined}
 */
function text(fields, name, max, required) {
  const value = fields[name];
  if (value === undefined || value === null) {
    if (required) throw invalid(name, "is required");
    return undefined;
  }
  if (typeof value !== "string") throw invalid(name, "must be a string");
  // Counted in characters as the provider counts them (code points), not UTF-16 units.
  const chars = [...value].length;
  if (required && value.trim() === "") throw invalid(name, `must be 1 to ${max} characters and not blank`);
  if (chars > max) throw invalid(name, `must be at most ${max} characters (got ${chars})`);
  return value;
}

/**
 * The `Idempotency-Key` header: absent, or `LIMITS.idempotencyKeyMinChars`..`LIMITS.idempotencyKeyChars`
 * printable ASCII characters. A key names one run across the deployment, so a short one could be guessed.
 * @param {Request} request
 * @returns {string | null}
 */
export function idempotencyKeyOf(request) {
  const key = request.headers.get("idempotency-key");
  if (key === null) return null;
  const { idempotencyKeyMinChars: min, idempotencyKeyChars: max } = LIMITS;
  if (key.length < min || key.length > max || !PRINTABLE.test(key)) {
    throw invalid("Idempotency-Key", `must be ${min} to ${max} printable ASCII characters, unguessable (a random UUID)`);
  }
  return key;
}

/**
 * The client's own `X-Request-Id` when it is a plain token of at most `LIMITS.requestIdChars` (then recorded as
 * `client_request_id` and echoed as `X-Client-Request-Id`), else null: it is a tracing aid, so an unusable one is
 * left out rather than refusing the request, and never echoed.
 * @param {Request} request
 */
export function clientRequestIdOf(request) {
  const given = request.headers.get(HEADERS.requestId);
  return given !== null && REQUEST_ID.test(given) ? given : null;
}

/**
 * @typedef {object} ListQuery
 * @property {string | null} status
 * @property {string | null} since      ISO timestamp, inclusive
 * @property {string | null} until      ISO timestamp, exclusive
 * @property {string | null} requestId
 * @property {string | null} clientRequestId
 * @property {number} limit
 * @property {{createdAt: string, id: string} | null} cursor
 */

/** @param {URLSearchParams} query @returns {ListQuery} */
export function validateListQuery(query) {
  for (const name of query.keys()) {
    if (!LIST_PARAMS.includes(name)) throw invalid(name, `is not a known parameter (expected ${LIST_PARAMS.join(", ")})`);
  }
  const status = query.get("status") || null;
  if (status !== null && !STATUSES.includes(status)) throw invalid("status", `must be one of ${STATUSES.join(", ")}`);
  const limitText = query.get("limit");
  /** @type {number} */
  let limit = LIMITS.listDefault;
  if (limitText !== null) {
    limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > LIMITS.listMax) {
      throw invalid("limit", `must be an integer from 1 to ${LIMITS.listMax}`);
    }
  }
  return {
    status,
    since: timestamp(query, "since"),
    until: timestamp(query, "until"),
    requestId: requestIdFilter(query, "request_id"),
    clientRequestId: requestIdFilter(query, "client_request_id"),
    limit,
    cursor: decodeCursor(query.get("cursor")),
  };
}

/** @param {URLSearchParams} query @param {string} name */
function requestIdFilter(query, name) {
  const value = query.get(name) || null;
  if (value !== null && value.length > LIMITS.requestIdChars) {
    throw invalid(name, `must be at most ${LIMITS.requestIdChars} characters`);
  }
  return value;
}

/** @param {URLSearchParams} query @param {string} name */
function timestamp(query, name) {
  const value = query.get(name);
  if (!value) return null;
  const ms = Date.parse(value);
  if (!ISO_DATE.test(value) || Number.isNaN(ms)) {
    throw invalid(name, "must be an ISO 8601 timestamp such as 2026-01-02T03:04:05Z");
  }
  return new Date(ms).toISOString();
}

/**
 * Cursors are opaque to clients: base64url of `[created_at, id]` of the last run on the previous page.
 * @param {string} createdAt @param {string} id
 */
export function encodeCursor(createdAt, id) {
  return toBase64url(new TextEncoder().encode(JSON.stringify([createdAt, id])));
}

/** @param {string | null} value */
function decodeCursor(value) {
  if (!value) return null;
  const bytes = value.length <= 512 ? fromBase64url(value) : null;
  try {
    const [createdAt, id] = bytes ? JSON.parse(new TextDecoder().decode(bytes)) : [];
    if (typeof createdAt === "string" && typeof id === "string") return { createdAt, id };
  } catch {
    // fall through to the error below
  }
  throw invalid("cursor", "is not a cursor this API returned");
}
