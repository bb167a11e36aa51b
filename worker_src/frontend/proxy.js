// @ts-check
/**
 * `/api/*` to the backend: through the `BACKEND` service binding, or by URL (`BACKEND_URL`) in `url` mode.
 * The request goes as it came (method, headers, body, query); the answer comes back as it was, plus
 * `X-Backend-Via` saying which way it went.
 */

/**
 * @typedef {object} Env
 * @property {Fetcher} [BACKEND]
 * @property {string} [BACKEND_URL]
 * @property {string} ENVIRONMENT
 * @property {string} BACKEND_ACCESS   "service-binding" | "url"
 */

/** @param {Request} request @param {Env} env @returns {Promise<Response>} */
export async function proxy(request, env) {
  const via = env.BACKEND_ACCESS === "url" ? "url" : "service-binding";
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
    if (via === "url") {
      if (!env.BACKEND_URL) throw new Error("BACKEND_URL is not set");
      response = await fetch(new URL(url.pathname + url.search, env.BACKEND_URL), init);
    } else {
      if (!env.BACKEND) throw new Error("the BACKEND service binding is missing");
      response = await env.BACKEND.fetch(new Request(url, init));
    }
  } catch (err) {
    console.error(`proxy to backend (${via}) failed: ${err}`);
    const requestId = /** @type {string} */ (headers.get("x-request-id"));
    const body = { error: { code: "backend_unavailable", message: "the backend could not be reached", request_id: requestId } };
    response = new Response(JSON.stringify(body), {
      status: 502,
      headers: { "Content-Type": "application/json; charset=utf-8", "X-Request-Id": requestId },
    });
  }
  const out = new Response(response.body, response);
  out.headers.set("X-Backend-Via", via);
  return out;
}
