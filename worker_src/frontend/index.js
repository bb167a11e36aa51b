// @ts-check
/**
 * Frontend Worker entry: the page at `/` (script `/app.js`), the operations page at `/ops` (script
 * `/ops.js`), their icon, and `/api/*` proxied to the backend. A missing or malformed binding answers every
 * request 503 `misconfigured`, naming the bindings.
 */

import { ERROR, Misconfigured, bindingProblems } from "./contract.js";
import { FAVICON_SVG } from "./favicon.js";
import { errorResponse } from "./http.js";
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
    const problems = bindingProblems(env);
    if (problems.length > 0) {
      const err = new Misconfigured(problems);
      console.error(err.message);
      return errorResponse(ERROR.MISCONFIGURED, err.message, crypto.randomUUID(), { extra: { bindings: err.bindings } });
    }
    const url = new URL(request.url);
    if (url.pathname === "/api" || url.pathname.startsWith("/api/")) return proxy(request, env);
    const asset = ASSETS[url.pathname];
    if (!asset) return errorResponse(ERROR.NOT_FOUND, `route ${url.pathname} not found`, crypto.randomUUID());
    if (request.method !== "GET" && request.method !== "HEAD") {
      return errorResponse(ERROR.METHOD_NOT_ALLOWED, `method ${request.method} is not allowed here`, crypto.randomUUID(), {
        headers: { Allow: "GET, HEAD" },
      });
    }
    const body = request.method === "HEAD" ? null : asset.body;
    const headers = { ...PAGE_HEADERS, "Content-Type": asset.type, "X-Request-Id": crypto.randomUUID() };
    return new Response(body, { headers });
  },
};
