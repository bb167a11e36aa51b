// @ts-check
/**
 * Backend Worker entry: routes `/api/*`, gives every response an `X-Request-Id` it generated itself (a client's
 * own id, once checked, is kept beside it: `X-Client-Request-Id`), renders errors as
 * `{"error": {"code", "message", "request_id"}}` (plain 404/405 for unknown paths and methods) and logs one
 * line per request without any request header, with what it cost in D1 (meter.js). Also the queue consumer and the cron (sweeper, retention purge).
 * A missing or malformed binding stops every entry point: requests get 503 `misconfigured` naming the
 * bindings (so does `/api/health`), queue deliveries and cron ticks throw.
 */

import { readConfig } from "./config.js";
import { ERROR, HEADERS, Misconfigured } from "./contract.js";
import { HttpError, errorResponse, methodNotAllowed, notFound, withHeaders } from "./http.js";
import { metered } from "./meter.js";
import { consume } from "./queue.js";
import { purgeExpired } from "./retention.js";
import { generate, health, listRunsRoute, media, opsSummaryRoute, retryRun, showRun } from "./routes.js";
import { sweepAbandonedRuns } from "./sweep.js";
import { clientRequestIdOf } from "./validate.js";

/** @typedef {(c: import("./routes.js").Context) => Promise<Response>} Handler */

/** @type {{path: RegExp, methods: Record<string, Handler>}[]} */
const ROUTES = [
  { path: /^\/api\/health$/, methods: { GET: health } },
  { path: /^\/api\/generate$/, methods: { POST: generate } },
  { path: /^\/api\/runs$/, methods: { GET: listRunsRoute } },
  { path: /^\/api\/runs\/([^/]+)$/, methods: { GET: showRun } },
  { path: /^\/api\/runs\/([^/]+)\/retry$/, methods: { POST: retryRun } },
  { path: /^\/api\/ops\/summary$/, methods: { GET: opsSummaryRoute } },
  { path: /^\/api\/media\/(.+)$/, methods: { GET: media, HEAD: media } },
];

export default {
  /**
   * @param {Request} request @param {import("./config.js").Env} env @param {ExecutionContext} ctx
   * @returns {Promise<Response>}
   */
  async fetch(request, env, ctx) {
    const started = Date.now();
    // Ours, whoever calls (the frontend, or anyone in url mode where the backend is public): audit queries by
    // request id find only what this Worker recorded.
    const requestId = crypto.randomUUID();
    const clientRequestId = clientRequestIdOf(request);
    const url = new URL(request.url);
    const d1 = metered(env);
    let response;
    try {
      response = await dispatch(request, d1.env, ctx, url, { requestId, clientRequestId });
    } catch (err) {
      if (!(err instanceof HttpError)) {
        console.error(JSON.stringify({ request_id: requestId, error: String(err instanceof Error ? err.stack : err) }));
      }
      response = errorResponse(asHttpError(err), requestId);
    }
    /** @type {Record<string, string>} */
    const ids = { [HEADERS.requestId]: requestId };
    if (clientRequestId !== null) ids[HEADERS.clientRequestId] = clientRequestId;
    response = withHeaders(response, ids);
    console.log(
      JSON.stringify({
        request_id: requestId,
        client_request_id: clientRequestId,
        method: request.method,
        path: url.pathname,
        status: response.status,
        ms: Date.now() - started,
        d1: d1.used,
      }),
    );
    return response;
  },

  /**
   * Both queues (jobs and dead letters) when async processing is on; see queue.js.
   * @param {MessageBatch<unknown>} batch @param {import("./config.js").Env} env
   */
  async queue(batch, env) {
    await consume(batch, env);
  },

  /**
   * The cron trigger (infra/model/bindings.py `SWEEP_CRON`): fail sync runs a dead request left behind (sweep.js),
   * then purge what is past its retention (retention.js).
   * @param {ScheduledController} controller @param {import("./config.js").Env} env
   */
  async scheduled(controller, env) {
    const cfg = readConfig(env);
    const at = new Date(controller.scheduledTime);
    const d1 = metered(env);
    const swept = await sweepAbandonedRuns(d1.env, cfg, at);
    const purged = await purgeExpired(d1.env.DB, cfg, at);
    console.log(JSON.stringify({ cron: controller.cron, swept: swept.length, purged, d1: d1.used }));
  },
};

/**
 * @param {Request} request @param {import("./config.js").Env} env @param {ExecutionContext} ctx @param {URL} url
 * @param {{requestId: string, clientRequestId: string | null}} ids
 */
async function dispatch(request, env, ctx, url, ids) {
  const cfg = readConfig(env);
  for (const route of ROUTES) {
    const match = route.path.exec(url.pathname);
    if (!match) continue;
    const handler = route.methods[request.method];
    if (!handler) throw methodNotAllowed(request.method, Object.keys(route.methods));
    return handler({
      request,
      env,
      cfg,
      ...ids,
      waitUntil: (work) => ctx.waitUntil(work),
      params: match.slice(1),
    });
  }
  throw notFound(`route ${url.pathname}`);
}

/** @param {unknown} err @returns {HttpError} */
function asHttpError(err) {
  if (err instanceof HttpError) return err;
  if (err instanceof Misconfigured) return new HttpError(ERROR.MISCONFIGURED, err.message, { extra: { bindings: err.bindings } });
  return new HttpError(ERROR.INTERNAL_ERROR, "internal error");
}
