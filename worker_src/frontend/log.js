// @ts-check
/**
 * The frontend's log lines (docs/runbook.md "Logs"): one per request, through `logLine` (contract.js), with
 * the fields every line of either Worker has. Its `request_id` is the backend's for a proxied request (the
 * `X-Request-Id` of the answer), so the two Workers' lines of one request share it; its `run_id` comes from
 * the path or the answer's `Location`. Paths are logged as routes: ids and media keys masked, any other part
 * that is not one of the API's own words as `*`, a path nothing serves as `(no route)`: nothing a client typed
 * reaches the log.
 */

import { ERROR, HEADERS, RUN_ID, logLine } from "./contract.js";

/** The words of the API's paths (docs/api.md); the rest of an `/api/` path is ids, keys or a client's typing. */
const API_WORDS = new Set(["api", "health", "generate", "runs", "retry", "ops", "summary"]);

/**
 * @param {Request} request @param {URL} url @param {Response} response @param {number} started
 * @param {string} outcome @param {{via?: string, error?: string}} [detail]
 */
export function logRequest(request, url, response, started, outcome, detail = {}) {
  logLine({
    request_id: response.headers.get(HEADERS.requestId),
    run_id: runOf(url, response),
    route: `${request.method} ${outcome === ERROR.NOT_FOUND ? "(no route)" : routeOf(url.pathname)}`,
    status: response.status,
    outcome,
    duration_ms: Date.now() - started,
    ...detail,
  });
}

/** `/api/runs/:id/retry`, `/api/media/:key`; a page's path (one of this Worker's own) as it is. */
function routeOf(/** @type {string} */ path) {
  const media = "/api/media/";
  if (path.startsWith(media)) return `${media}:key`;
  if (path !== "/api" && !path.startsWith("/api/")) return path;
  return path.split("/").map((part) => (part === "" || API_WORDS.has(part) ? part : RUN_ID.test(part) ? ":id" : "*"))
    .join("/");
}

/** The run a request is about: the id in its path (`/api/runs/<id>`, a media key), or in the answer's Location. */
function runOf(/** @type {URL} */ url, /** @type {Response} */ response) {
  const location = response.headers.get("location") ?? "";
  for (const part of [...url.pathname.split("/"), ...location.split("/")]) {
    if (RUN_ID.test(part)) return part;
  }
  return null;
}
