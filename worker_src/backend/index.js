// @ts-check
/**
 * Backend Worker entry: routes `/api/*`, gives every response an `X-Request-Id` it generated itself (a client's
 * own id, once checked, is kept beside it: `X-Client-Request-Id`), renders errors as
 * `{"error": {"code", "message", "request_id"}}` (plain 404/405 for unknown paths and methods) and logs one
 * line per request (log.js: route, status, outcome, run, and what it cost in D1: meter.js), never a request header.
 * Also the queue consumer and the cron (sweeper, retention purge), which log one line per message and per tick
 * (and per swept run).
 * A missing or malformed binding stops every entry point: requests get 503 `misconfigured` naming the
 * bindings (so does `/api/health`), queue deliveries and cron ticks throw.
 */

import { readConfig } from "./config.js";
import { ERROR, HEADERS, Misconfigured } from "./contract.js";
import { HttpError, errorResponse, methodNotAllowed, notFound, withHeaders } from "./http.js";
import { Invocation } from "./log.js";
import { metered } from "./meter.js";
import { consume } from "./queue.js";
import { purgeExpired } from "./retention.js";
import { generate, health, listRunsRoute, media, opsSummaryRoute, retryRun, showRun } from "./routes.js";
import { sweepAbandonedRuns } from "./sweep.js";
import { clientRequestIdOf } from "./validate.js";

/** @typedef {(c: import("./routes.js").Context) => Promise<Response>} Handler */
/** @typedef {{name: string, path: RegExp, methods: Record<string, Handler>}} Route */

/** @type {Route[]} `name` is how log lines call the route (ids as `:id`). */
const ROUTES = [
  { name: "/api/health", path: /^\/api\/health$/, methods: { GET: health } },
  { name: "/api/generate", path: /^\/api\/generate$/, methods: { POST: generate } },
  { name: "/api/runs", path: /^\/api\/runs$/, methods: { GET: listRunsRoute } },
  { name: "/api/runs/:id", path: /^\/api\/runs\/([^/]+)$/, methods: { GET: showRun } },
  { name: "/api/runs/:id/retry", path: /^\/api\/runs\/([^/]+)\/retry$/, methods: { POST: retryRun } },
  { name: "/api/ops/summary", path: /^\/api\/ops\/summary$/, methods: { GET: opsSummaryRoute } },
  { name: "/api/media/:key", path: /^\/api\/media\/(.+)$/, methods: { GET: media, HEAD: media } },
];

export default {
  /**
   * @param {Request} request @param {import("./config.js").Env} env @param {ExecutionContext} ctx
   * @returns {Promise<Response>}
   */
  async fetch(request, env, ctx) {
    // Ours, whoever calls (the frontend, or anyone in url mode where the backend is public): audit queries by
    // request id find only what this Worker recorded.
    const requestId = crypto.randomUUID();
    const clientRequestId = clientRequestIdOf(request);
    const url = new URL(request.url);
    const d1 = metered(env);
    const route = ROUTES.find((r) => r.path.test(url.pathname)) ?? null;
    const log = new Invocation(requestId, `${request.method} ${route?.name ?? "(no route)"}`);
    if (clientRequestId !== null) log.note({ client_request_id: clientRequestId });
    let response;
    let outcome = "ok";
    try {
      response = await dispatch(request, d1.env, ctx, url, route, { requestId, clientRequestId, log });
    } catch (err) {
      if (!(err instanceof HttpError)) log.failed(err);
      const failure = asHttpError(err);
      outcome = failure.code;
      response = errorResponse(failure, requestId);
    }
    /** @type {Record<string, string>} */
    const ids = { [HEADERS.requestId]: requestId };
    if (clientRequestId !== null) ids[HEADERS.clientRequestId] = clientRequestId;
    response = withHeaders(response, ids);
    log.note({ d1: d1.used });
    log.end(response.status, outcome);
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
   * then purge what is past its retention (retention.js). One line per swept run, one for the tick.
   * @param {ScheduledController} controller @param {import("./config.js").Env} env
   */
  async scheduled(controller, env) {
    const log = new Invocation(crypto.randomUUID(), `cron ${controller.cron}`);
    const d1 = metered(env);
    try {
      const cfg = readConfig(env);
      const at = new Date(controller.scheduledTime);
      const swept = await sweepAbandonedRuns(d1.env, cfg, log, at);
      for (const run of swept) {
        log.line("ok", "abandoned", {
          run_id: run.id, stuck_in: run.status, stuck_seconds: run.stuckSeconds, objects_deleted: run.objectsDeleted,
        });
      }
      const purged = await purgeExpired(d1.env.DB, cfg, at);
      log.note({ swept: swept.length, purged, d1: d1.used });
      log.end("ok", "done");
    } catch (err) {
      log.failed(err);
      log.note({ d1: d1.used });
      log.end("error", err instanceof Misconfigured ? ERROR.MISCONFIGURED : "error");
      throw err;
    }
  },
};

/**
 * @param {Request} request @param {import("./config.js").Env} env @param {ExecutionContext} ctx @param {URL} url
 * @param {Route | null} route  the one whose path matched
 * @param {{requestId: string, clientRequestId: string | null, log: Invocation}} ids
 */
async function dispatch(request, env, ctx, url, route, ids) {
  const cfg = readConfig(env);
  if (!route) throw notFound(`route ${url.pathname}`);
  const handler = route.methods[request.method];
  if (!handler) throw methodNotAllowed(request.method, Object.keys(route.methods));
  return handler({
    request,
    env,
    cfg,
    ...ids,
    waitUntil: (work) => ctx.waitUntil(work),
    params: /** @type {RegExpExecArray} */ (route.path.exec(url.pathname)).slice(1),
  });
}

/** @param {unknown} err @returns {HttpError} */
function asHttpError(err) {
  if (err instanceof HttpError) return err;
  if (err instanceof Misconfigured) return new HttpError(ERROR.MISCONFIGURED, err.message, { extra: { bindings: err.bindings } });
  return new HttpError(ERROR.INTERNAL_ERROR, "internal error");
}
