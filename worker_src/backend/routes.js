// @ts-check
/** The API's route handlers (docs/api.md); routing, request ids and error rendering live in index.js. */

import { readToken, viewOf } from "./access.js";
import { requireAdmin } from "./auth.js";
import { ERROR, EVENT, REDRIVABLE, RUN_ID, STATUS } from "./contract.js";
import { UpstreamError } from "./dashscope.js";
import { HttpError, invalid, json, notFound } from "./http.js";
import { sendJob } from "./jobs.js";
import { serveMedia } from "./media.js";
import { opsSummary, parseStep, parseWindow } from "./ops.js";
import { VIEW, presentEvent, presentRun } from "./present.js";
import { limitGenerate } from "./ratelimit.js";
import { addEvent, getAssets, getEvents, getRun, listRuns, transition } from "./runs.js";
import { encodeCursor, idempotencyKeyOf, readGenerateRequest, requireJson, validateListQuery } from "./validate.js";
import { executeSync, failRun, openRun } from "./workflow.js";

/** Used when the provider throttles without saying for how long (its limits reset within about a minute). */
const DEFAULT_RETRY_AFTER_SECONDS = 60;

/**
 * @typedef {object} Context
 * @property {Request} request
 * @property {import("./config.js").Env} env
 * @property {import("./config.js").Config} cfg
 * @property {string} requestId          ours (index.js), recorded and answered as X-Request-Id
 * @property {string | null} clientRequestId  the client's own X-Request-Id, checked
 * @property {import("./log.js").Invocation} log  the request's log line: the run it is about, its details
 * @property {(work: Promise<unknown>) => void} waitUntil
 * @property {string[]} params   captured path segments
 */

/** @param {Context} c */
export async function health(c) {
  return json({ ok: true, environment: c.cfg.environment });
}

/**
 * `POST /api/generate`. Before any paid work: JSON only (415), the client's rate limit (429), then the body
 * through its byte cap (413) and its checks (400). The answer carries the run in its creator's view and the
 * run's read token (access.js), also on a replay and on the errors that name the run.
 * @param {Context} c
 */
export async function generate(c) {
  requireJson(c.request);
  const view = await viewOf(c.request, c.cfg, null);
  await limitGenerate(c.request, c.env, c.cfg);
  if (c.cfg.asyncEnabled) return generateAsync(c, view);
  const { run, replayed, params, token } = await openRequest(c, STATUS.RUNNING);
  if (replayed) return generated(c, run.id, view, token, 200);
  // Finish the run even if the client goes away mid-request: it must not stay `running`.
  const work = executeSync(c.env, c.cfg, run, params, c.log);
  c.waitUntil(work.catch(() => {}));
  const error = await work;
  if (error) throw failure(error, run.id, token);
  return generated(c, run.id, view, token, 201);
}

/**
 * Validate a generate request and open its run in `status` (or find the one its idempotency key names).
 * @param {Context} c @param {string} status
 */
async function openRequest(c, status) {
  const idempotencyKey = idempotencyKeyOf(c.request);
  const params = await readGenerateRequest(c.request);
  const ids = { requestId: c.requestId, clientRequestId: c.clientRequestId };
  const opened = await openRun(c.env.DB, c.cfg, { ...ids, idempotencyKey, params, status });
  c.log.about(opened.run.id);
  if (opened.replayed) c.log.outcome = "replayed";
  return { ...opened, params, token: await readToken(c.cfg, opened.run.id) };
}

/**
 * The answer to a generate request: the run as its sender may see it, and its read token.
 * @param {Context} c @param {string} id @param {import("./present.js").View} view @param {string} token
 * @param {number} status
 */
async function generated(c, id, view, token, status) {
  /** @type {Record<string, string>} */
  const headers = status === 200 ? {} : { Location: `/api/runs/${id}` };
  return json({ run: await runBody(c, id, view), read_token: token }, status, headers);
}

/**
 * Async mode: record the run `queued`, send its job, answer 202 at once. A replay of a run that is still
 * `queued` sends its job again (producers are at-least-once; the consumer drops what is not needed), so a
 * job lost between the D1 insert and the send is recovered by the client's retry.
 * @param {Context} c @param {import("./present.js").View} view
 */
async function generateAsync(c, view) {
  const { run, replayed, token } = await openRequest(c, STATUS.QUEUED);
  if (replayed) {
    if (run.status === STATUS.QUEUED) {
      await sendJob(c.env, run.id, run.job_seq);
      await addEvent(c.env.DB, run.id, EVENT.JOB_SENT, { seq: run.job_seq, reason: "replay", request_id: c.requestId });
    }
    return generated(c, run.id, view, token, 200);
  }
  await enqueue(c, run.id, run.job_seq, "created", { read_token: token });
  return generated(c, run.id, view, token, 202);
}

/**
 * Send a queued run's job; if the queue refuses it the run fails (`queue_unavailable`) instead of waiting
 * for a message that will never come.
 * @param {Context} c @param {string} runId @param {number} seq @param {string} reason
 * @param {Record<string, string>} [extra]  for the error besides `run_id` (its creator's read token)
 */
async function enqueue(c, runId, seq, reason, extra = {}) {
  try {
    await sendJob(c.env, runId, seq);
  } catch (err) {
    c.log.note({ error: `send job failed: ${err}` });
    const error = { code: ERROR.QUEUE_UNAVAILABLE, message: "the job could not be queued" };
    await failRun(c.env.DB, runId, error, { stage: "enqueue" });
    throw new HttpError(ERROR.QUEUE_UNAVAILABLE, "the job could not be queued; try again", {
      extra: { run_id: runId, ...extra },
    });
  }
  await addEvent(c.env.DB, runId, EVENT.JOB_SENT, { seq, reason, request_id: c.requestId });
}

/**
 * `POST /api/runs/<id>/retry` (admin): re-drive a `failed` or `dead_lettered` run from the start (a new
 * upstream task); anything else is a 409. The transition is conditional on the run's wake-up number, so two
 * concurrent re-drives move it once.
 * @param {Context} c
 */
export async function retryRun(c) {
  await requireAdmin(c.request, c.cfg);
  const [id] = c.params;
  if (!RUN_ID.test(id)) throw notFound("run");
  c.log.about(id);
  const run = await getRun(c.env.DB, id);
  if (!run) throw notFound("run");
  if (!c.cfg.asyncEnabled) {
    throw new HttpError(ERROR.ASYNC_DISABLED, "re-driving a run needs async processing (queues.enabled) on this stack", {
      extra: { run_id: id, status: run.status },
    });
  }
  const refuse = (/** @type {string} */ status) =>
    new HttpError(ERROR.NOT_RETRYABLE, `run is '${status}': only ${REDRIVABLE.join(" or ")} runs can be re-driven`, {
      extra: { run_id: id, status },
    });
  if (!REDRIVABLE.includes(run.status)) throw refuse(run.status);
  const seq = run.job_seq + 1;
  const moved = await transition(c.env.DB, id, STATUS.QUEUED, {
    set: {
      job_seq: seq, polls: 0, error_code: null, error_message: null, provider_task_id: null, provider_request_id: null,
      mode: "async", queue_wait_ms: null, task_ms: null, task_near_budget: null, download_ms: null,
      download_near_budget: null, image_bytes: null,
    },
    guard: { sql: "job_seq = ?", params: [run.job_seq] },
    detail: {
      redrive: true,
      request_id: c.requestId,
      previous: { status: run.status, error_code: run.error_code, task_id: run.provider_task_id },
    },
  });
  if (!moved) throw refuse((await getRun(c.env.DB, id))?.status ?? run.status); // another re-drive won
  await enqueue(c, id, seq, "redrive");
  return json({ run: await runBody(c, id, VIEW.ADMIN) }, 202, { Location: `/api/runs/${id}` });
}

/** @param {Context} c */
export async function opsSummaryRoute(c) {
  await requireAdmin(c.request, c.cfg);
  const query = new URL(c.request.url).searchParams;
  for (const name of query.keys()) {
    if (name !== "window" && name !== "step") throw invalid(name, "is not a known parameter (expected window, step)");
  }
  const window = parseWindow(query.get("window"));
  return json(await opsSummary(c.env.DB, window, c.cfg, { step: parseStep(query.get("step"), window) }));
}

/**
 * The HTTP answer for a run that failed upstream or while storing its results, to its creator.
 * @param {import("./workflow.js").StepError} err @param {string} runId @param {string} token  its read token
 */
function failure(err, runId, token) {
  const extra = { run_id: runId, read_token: token, provider_code: err.code };
  const message = `${err.code}: ${err.message}`;
  if (err instanceof UpstreamError && err.throttled) {
    const retryAfter = String(err.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS);
    return new HttpError(ERROR.UPSTREAM_THROTTLED, message, { extra, headers: { "Retry-After": retryAfter } });
  }
  const timedOut = err instanceof UpstreamError ? err.kind === "timeout" : err.timeout;
  if (timedOut) return new HttpError(ERROR.UPSTREAM_TIMEOUT, message, { extra });
  return new HttpError(ERROR.UPSTREAM_ERROR, message, { extra });
}

/**
 * `GET /api/runs/<id>`: the run in the view its reader is entitled to (access.js); the events for the admin only.
 * @param {Context} c
 */
export async function showRun(c) {
  const [id] = c.params;
  if (!RUN_ID.test(id)) throw notFound("run");
  c.log.about(id);
  const view = await viewOf(c.request, c.cfg, id);
  const run = await runBody(c, id, view);
  if (view !== VIEW.ADMIN) return json({ run });
  const events = await getEvents(c.env.DB, id);
  return json({ run, events: events.map(presentEvent) });
}

/** @param {Context} c @param {string} id @param {import("./present.js").View} view */
async function runBody(c, id, view) {
  const row = await getRun(c.env.DB, id);
  if (!row) throw notFound("run");
  const assets = view === VIEW.ANONYMOUS ? [] : ((await getAssets(c.env.DB, [id])).get(id) ?? []);
  return presentRun(c.cfg, row, assets, view);
}

/** @param {Context} c */
export async function listRunsRoute(c) {
  await requireAdmin(c.request, c.cfg);
  const query = validateListQuery(new URL(c.request.url).searchParams);
  const { rows, more } = await listRuns(c.env.DB, query);
  const assets = await getAssets(c.env.DB, rows.map((r) => r.id));
  const runs = await Promise.all(rows.map((r) => presentRun(c.cfg, r, assets.get(r.id) ?? [], VIEW.ADMIN)));
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
  const runId = key.split("/")[4]; // generated/<yyyy>/<mm>/<dd>/<run id>/<index>.<ext>
  if (runId && RUN_ID.test(runId)) c.log.about(runId);
  return serveMedia(c.request, c.env, c.cfg, key);
}
