// @ts-check
/**
 * HTTP plumbing every route shares: errors in the API's one envelope (contract.js `errorBody`, with the status
 * the contract gives each code) and JSON responses.
 */

import { ERROR, ERROR_STATUS, errorBody } from "./contract.js";

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
 * A copy with headers set (responses from `fetch` or a service binding have immutable headers).
 * @param {Response} response @param {Record<string, string>} headers
 */
export function withHeaders(response, headers) {
  const out = new Response(response.body, response);
  for (const [name, value] of Object.entries(headers)) out.headers.set(name, value);
  return out;
}
