// @ts-check
/**
 * HTTP plumbing every route shares: errors in the API's one envelope (contract.js `errorBody`, with the status
 * the contract gives each code), JSON responses, and request ids (propagated from `X-Request-Id` when the
 * client sent a sane one).
 */

import { ERROR, ERROR_STATUS, LIMITS, errorBody } from "./contract.js";

const REQUEST_ID = new RegExp(`^[A-Za-z0-9._:-]{1,${LIMITS.requestIdChars}}$`);

/** An error that becomes an HTTP response; `extra` lands inside the `error` object (e.g. `field`). */
export class HttpError extends Error {
  /**
   * @param {string} code     an `ERROR` code; its HTTP status is the contract's
   * @param {string} message
   * @param {{extra?: Record<string, unknown>, headers?: Record<string, string>}} [options]
   */
  constructor(code, message, options = {}) {
    super(message);
    const status = ERROR_STATUS[code];
    if (status === undefined) throw new Error(`unknown error code '${code}'`);
    this.status = status;
    this.code = code;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

/**
 * 400 naming the offending field, so a client can fix its request without guessing.
 * @param {string} field @param {string} why
 */
export function invalid(field, why) {
  return new HttpError(ERROR.INVALID_REQUEST, `${field}: ${why}`, { extra: { field } });
}

/** @param {string} [what] */
export function notFound(what = "resource") {
  return new HttpError(ERROR.NOT_FOUND, `${what} not found`);
}

/** @param {string} method @param {string[]} allowed */
export function methodNotAllowed(method, allowed) {
  return new HttpError(ERROR.METHOD_NOT_ALLOWED, `method ${method} is not allowed here`, {
    headers: { Allow: allowed.join(", ") },
  });
}

/**
 * The client's `X-Request-Id` if it is a plain token of at most `LIMITS.requestIdChars`, else a fresh UUID.
 * @param {Request} request
 */
export function requestIdOf(request) {
  const given = request.headers.get("x-request-id");
  return given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/**
 * @param {unknown} body
 * @param {number} [status]
 * @param {HeadersInit} [headers]
 */
export function json(body, status = 200, headers = {}) {
  const out = new Headers(headers);
  out.set("Content-Type", "application/json; charset=utf-8");
  if (!out.has("Cache-Control")) out.set("Cache-Control", "no-store");
  return new Response(JSON.stringify(body), { status, headers: out });
}

/** @param {HttpError} err @param {string} requestId */
export function errorResponse(err, requestId) {
  return json(errorBody(err.code, err.message, requestId, err.extra), err.status, err.headers);
}

/**
 * A copy with one header set (responses from `fetch` or a service binding have immutable headers).
 * @param {Response} response @param {string} name @param {string} value
 */
export function withHeader(response, name, value) {
  const out = new Response(response.body, response);
  out.headers.set(name, value);
  return out;
}
