// @ts-check
/**
 * HTTP plumbing every route shares: the error envelope `{"error": {"code", "message", "request_id"}}`,
 * JSON responses, and request ids (propagated from `X-Request-Id` when the client sent a sane one).
 */

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** An error that becomes an HTTP response; `extra` lands inside the `error` object (e.g. `field`). */
export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {{extra?: Record<string, unknown>, headers?: Record<string, string>}} [options]
   */
  constructor(status, code, message, options = {}) {
    super(message);
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
  return new HttpError(400, "invalid_request", `${field}: ${why}`, { extra: { field } });
}

/** @param {string} [what] */
export function notFound(what = "resource") {
  return new HttpError(404, "not_found", `${what} not found`);
}

/** @param {string} method @param {string[]} allowed */
export function methodNotAllowed(method, allowed) {
  return new HttpError(405, "method_not_allowed", `method ${method} is not allowed here`, {
    headers: { Allow: allowed.join(", ") },
  });
}

/**
 * The client's `X-Request-Id` if it is a plain token of at most 128 characters, else a fresh UUID.
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
  const body = { error: { code: err.code, message: err.message, request_id: requestId, ...err.extra } };
  return json(body, err.status, err.headers);
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
