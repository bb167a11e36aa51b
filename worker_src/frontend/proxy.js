// @ts-check
/**
 * `/api/*` to the backend: through the `BACKEND` service binding, or by URL (`BACKEND_URL`) in `url` mode
 * (both checked by index.js before any request gets here). Method, query and body go as they came, the body
 * streamed (never buffered: the backend's byte cap decides how much of it is read); of the headers only those
 * the routes read (`FORWARDED_HEADERS`: no Cookie, no hop-by-hop or forwarding headers), plus the client's
 * address as the edge gave it (`CF-Connecting-IP`), set by this Worker as `X-Client-Address` whatever the client
 * sent. The answer comes back as it was, plus `X-Backend-Via` saying which way it went; when the backend cannot be
 * reached, `error` says why (for the log line, never the client).
 */

import { ERROR, FORWARDED_HEADERS, HEADERS } from "./contract.js";
import { errorResponse } from "./http.js";

/**
 * @param {Request} request @param {import("./contract.js").Env} env
 * @returns {Promise<{response: Response, error: string | null}>}
 */
export async function proxy(request, env) {
  const via = env.BACKEND_ACCESS;
  const url = new URL(request.url);
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  const address = request.headers.get("cf-connecting-ip");
  if (address !== null) headers.set(HEADERS.clientAddress, address);
  const init = {
    method: request.method,
    headers,
    body: request.method === "GET" || request.method === "HEAD" ? null : request.body,
    redirect: /** @type {const} */ ("manual"),
  };
  let response;
  let error = null;
  try {
    response = via === "url"
      ? await fetch(new URL(url.pathname + url.search, env.BACKEND_URL), init)
      : await /** @type {Fetcher} */ (env.BACKEND).fetch(new Request(url, init));
  } catch (err) {
    error = `proxy to backend (${via}) failed: ${err}`;
    // A request id of this Worker's own: nothing the client sent is echoed.
    response = errorResponse(ERROR.BACKEND_UNAVAILABLE, "the backend could not be reached", crypto.randomUUID());
  }
  const out = new Response(response.body, response);
  out.headers.set("X-Backend-Via", via);
  // An answer the backend did not write itself (the platform's, when the binding has no Worker behind it) still
  // gets a request id, so that the client and the log line can name it.
  if (!out.headers.has(HEADERS.requestId)) out.headers.set(HEADERS.requestId, crypto.randomUUID());
  return { response: out, error };
}
