// @ts-check
/** The API's route handlers (docs/api.md); routing, request ids and error rendering live in index.js. */

import { requireAdmin } from "./auth.js";
import { UpstreamError } from "./dashscope.js";
import { HttpError, json, notFound } from "./http.js";
import { serveMedia } from "./media.js";
import { presentEvent, presentRun } from "./present.js";
import { getAssets, getEvents, getRun, listRuns } from "./runs.js";
import { STATUS } from "./state.js";
import { encodeCursor, idempotencyKeyOf, readGenerateRequest, validateListQuery } from "./validate.js";
import { executeSync, openRun } from "./workflow.js";

/** Used when the provider throttles without saying for how long (its limits reset within about a minute). */
const DEFAULT_RETRY_AFTER_SECONDS = 60;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * @typedef {object} Context
 * @property {Request} request
 * @property {import("./config.js").Env} env
 * @property {import("./config.js").Config} cfg
 * @property {string} requestId
 * @property {(work: Promise<unknown>) => void} waitUntil
 * @property {string[]} params   captured path segments
 */

/** @param {Context} c */
export async function health(c) {
  return json({ ok: true, environment: c.cfg.environment });
}

/** @param {Context} c */
export async function generate(c) {
  const idempotencyKey = idempotencyKeyOf(c.request);
  const params = await readGenerateRequest(c.request);
  const { run, replayed } = await openRun(c.env.DB, c.cfg, {
    requestId: c.requestId,
    idempotencyKey,
    params,
    status: STATUS.RUNNING,
  });
  if (replayed) return json({ run: await runBody(c, run.id) }, 200);
  // Finish the run even if the client goes away mid-request: it must not stay `running`.
  const work = executeSync(c.env, c.cfg, run, params);
  c.waitUntil(work.catch(() => {}));
  const error = await work;
  if (error) throw failure(error, run.id);
  return json({ run: await runBody(c, run.id) }, 201, { Location: `/api/runs/${run.id}` });
}

/**
 * The HTTP answer for a run that failed upstream or while storing its results.
 * @param {import("./workflow.js").StepError} err @param {string} runId
 */
function failure(err, runId) {
  const extra = { run_id: runId, provider_code: err.code };
  const message = `${err.code}: ${err.message}`;
  if (err instanceof UpstreamError && err.throttled) {
    const retryAfter = String(err.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS);
    return new HttpError(429, "upstream_throttled", message, { extra, headers: { "Retry-After": retryAfter } });
  }
  const timedOut = err instanceof UpstreamError ? err.kind === "timeout" : err.timeout;
  if (timedOut) return new HttpError(504, "upstream_timeout", message, { extra });
  return new HttpError(502, "upstream_error", message, { extra });
}

/** @param {Context} c */
export async function showRun(c) {
  const [id] = c.params;
  if (!RUN_ID.test(id)) throw notFound("run");
  const body = await runBody(c, id);
  const events = await getEvents(c.env.DB, id);
  return json({ run: body, events: events.map(presentEvent) });
}

/** @param {Context} c @param {string} id */
async function runBody(c, id) {
  const row = await getRun(c.env.DB, id);
  if (!row) throw notFound("run");
  const assets = await getAssets(c.env.DB, [id]);
  return presentRun(c.cfg, row, assets.get(id) ?? []);
}

/** @param {Context} c */
export async function listRunsRoute(c) {
  await requireAdmin(c.request, c.cfg);
  const query = validateListQuery(new URL(c.request.url).searchParams);
  const { rows, more } = await listRuns(c.env.DB, query);
  const assets = await getAssets(c.env.DB, rows.map((r) => r.id));
  const runs = await Promise.all(rows.map((r) => presentRun(c.cfg, r, assets.get(r.id) ?? [])));
  const last = rows[rows.length - 1];
  return json({ runs, next_cursor: more && last ? encodeCursor(last.created_at, last.id) : null });
}

/** @param {Context} c */
export async function media(c) {
  let key;
  try {
    key = decodeURIComponent(c.params[0]);
  } catch {
    throw notFound("media object");
  }
  return serveMedia(c.request, c.env, c.cfg, key);
}
