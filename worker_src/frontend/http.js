// @ts-check
/** The frontend's own error responses, in the API's one envelope with the contract's status for each code. */

import { ERROR_STATUS, errorBody } from "./contract.js";

/**
 * @param {string} code @param {string} message @param {string} requestId
 * @param {{extra?: Record<string, unknown>, headers?: Record<string, string>}} [options]
 */
export function errorResponse(code, message, requestId, options = {}) {
  return new Response(JSON.stringify(errorBody(code, message, requestId, options.extra)), {
    status: ERROR_STATUS[code],
    headers: { "Content-Type": "application/json; charset=utf-8", "X-Request-Id": requestId, ...options.headers },
  });
}
