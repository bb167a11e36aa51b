// @ts-check
/**
 * Frontend Worker entry: the page at `/` (script `/app.js`), the operations page at `/ops` (script
 * `/ops.js`), their icon, and `/api/*` proxied to the backend. A missing or malformed binding answers every
 * request 503 `misconfigured`, naming the bindings. One log line per request (log.js).
 */

import { ERROR, Misconfigured, bindingProblems } from "./contract.js";
import { FAVICON_SVG } from "./favicon.js";
import { errorResponse } from "./http.js";
import { logRequest } from "./log.js";
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
  // Both pages link the SVG; `/favicon.ico` is what browsers and crawlers ask for without a link.
  "/favicon.svg": { body: FAVICON_SVG, type: "image/svg+xml" },
  "/favicon.ico": { body: FAVICON_SVG, type: "image/svg+xml" },
};

export default {
  /** @param {Request} request @param {import("./contract.js").Env} env @returns {Promise<Response>} */
  async fetch(request, env) {
    const started = Date.now();
    const url = new URL(request.url);
    const { response, outcome, ...detail } = await answer(request, env, url);
    logRequest(request, url, response, started, outcome, detail);
    return response;
  },
};

/**
 * The answer, and what its log line says: `proxied` (the backend's own line says more), `ok` for a page, or the
 * error code of an answer of this Worker's own.
 * @param {Request} request @param {import("./contract.js").Env} env @param {URL} url
 * @returns {Promise<{response: Response, outcome: string, via?: string, error?: string}>}
 */
async function answer(request, env, url) {
  const problems = bindingProblems(env);
  if (problems.length > 0) {
    const err = new Misconfigured(problems);
    const response = errorResponse(ERROR.MISCONFIGURED, err.message, crypto.randomUUID(), {
      extra: { bindings: err.bindings },
    });
    return { response, outcome: ERROR.MISCONFIGURED, error: err.message };
  }
  if (url.pathname === "/api" || url.pathname.startsWith("/api/")) {
    const { response, error } = await proxy(request, env);
    const outcome = error === null ? "proxied" : ERROR.BACKEND_UNAVAILABLE;
    return { response, outcome, via: env.BACKEND_ACCESS, ...(error === null ? {} : { error }) };
  }
  const asset = ASSETS[url.pathname];
  if (!asset) {
    return { response: errorResponse(ERROR.NOT_FOUND, `route ${url.pathname} not found`, crypto.randomUUID()),
      outcome: ERROR.NOT_FOUND };
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    const response = errorResponse(ERROR.METHOD_NOT_ALLOWED, `method ${request.method} is not allowed here`,
      crypto.randomUUID(), { headers: { Allow: "GET, HEAD" } });
    return { response, outcome: ERROR.METHOD_NOT_ALLOWED };
  }
  const body = request.method === "HEAD" ? null : asset.body;
  const headers = { ...PAGE_HEADERS, "Content-Type": asset.type, "X-Request-Id": crypto.randomUUID() };
  return { response: new Response(body, { headers }), outcome: "ok" };
}
