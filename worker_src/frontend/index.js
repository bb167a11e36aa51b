// @ts-check
/**
 * Frontend Worker entry: the page at `/` (script `/app.js`), the operations page at `/ops` (script
 * `/ops.js`), and `/api/*` proxied to the backend.
 */

import { OPS_HTML, OPS_JS } from "./ops_page.js";
import { APP_JS, PAGE_HTML } from "./page.js";
import { proxy } from "./proxy.js";

const PAGE_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' http: https: data:; " +
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-cache",
};

/** @type {Record<string, {body: string, type: string}>} */
const ASSETS = {
  "/": { body: PAGE_HTML, type: "text/html; charset=utf-8" },
  "/app.js": { body: APP_JS, type: "text/javascript; charset=utf-8" },
  "/ops": { body: OPS_HTML, type: "text/html; charset=utf-8" },
  "/ops.js": { body: OPS_JS, type: "text/javascript; charset=utf-8" },
};

export default {
  /** @param {Request} request @param {import("./proxy.js").Env} env @returns {Promise<Response>} */
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/api" || url.pathname.startsWith("/api/")) return proxy(request, env);
    const asset = ASSETS[url.pathname];
    if (!asset) return error(404, "not_found", `route ${url.pathname} not found`);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return error(405, "method_not_allowed", `method ${request.method} is not allowed here`, { Allow: "GET, HEAD" });
    }
    const body = request.method === "HEAD" ? null : asset.body;
    const headers = { ...PAGE_HEADERS, "Content-Type": asset.type, "X-Request-Id": crypto.randomUUID() };
    return new Response(body, { headers });
  },
};

/** @param {number} status @param {string} code @param {string} message @param {Record<string, string>} [headers] */
function error(status, code, message, headers = {}) {
  const requestId = crypto.randomUUID();
  return new Response(JSON.stringify({ error: { code, message, request_id: requestId } }), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "X-Request-Id": requestId, ...headers },
  });
}
