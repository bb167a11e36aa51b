// @ts-check
/**
 * `/api/*` to the backend: through the `BACKEND` service binding, or by URL (`BACKEND_URL`) in `url` mode
 * (both checked by index.js before any request gets here). The request goes as it came (method, headers,
 * body, query); the answer comes back as it was, plus `X-Backend-Via` saying which way it went.
 */

import { ERROR } from "./contract.js";
import { errorResponse } from "./http.js";

/** @param {Request} request @param {import("./contract.js").Env} env @returns {Promise<Response>} */
export async function proxy(request, env) {
  const via = env.BACKEND_ACCESS;
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  if (!headers.has("x-request-id")) headers.set("X-Request-Id", crypto.randomUUID());
  const init = {
    method: request.method,
    headers,
    body: request.method === "GET" || request.method === "HEAD" ? null : request.body,
    redirect: /** @type {const} */ ("manual"),
  };
  let response;
  try {
    response = via === "url"
      ? await fetch(new URL(url.pathname + url.search, env.BACKEND_URL), init)
      : await /** @type {Fetcher} */ (env.BACKEND).fetch(new Request(url, init));
  } catch (err) {
    console.error(`proxy to backend (${via}) failed: ${err}`);
    const requestId = /** @type {string} */ (headers.get("x-request-id"));
    response = errorResponse(ERROR.BACKEND_UNAVAILABLE, "the backend could not be reached", requestId);
  }
  const out = new Response(response.body, response);
  out.headers.set("X-Backend-Via", via);
  return out;
}
