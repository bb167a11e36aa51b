// @ts-check
/** The API's route handlers (docs/api.md); routing, request ids and error rendering live in index.js. */

import { requireAdmin } from "./auth.js";
import { ERROR, EVENT, REDRIVABLE, RUN_ID, STATUS } from "./contract.js";
import { UpstreamError } from "./dashscope.js";
import { HttpError, invalid, json, notFound } from "./http.js";
import { sendJob } from "./jobs.js";
import { serveMedia } from "./media.js";
import { opsSummary, parseStep, parseWindow } from "./ops.js";
import { presentEvent, presentRun } from "./present.js";
import { addEvent, getAssets, getEvents, getRun, listRuns, transition } from "./runs.js";
import { encodeCursor, idempotencyKeyOf, readGenerateRequest, validateListQuery } from "./validate.js";
import { executeSync, failRun, openRun } from "./workflow.js";

/** Used when the provider throttles without saying for how long (its limits reset within about a minute). */
const DEFAULT_RETRY_AFTER_SECONDS = 60;

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
  if (c.cfg.asyncEnabled) return generateAsync(c);
  const { run, replayed, params } = await openRequest(c, STATUS.RUNNING);
  if (replayed) return json({ run: await runBody(c, run.id) }, 200);
  // Finish the run even if the client goes away mid-request: it must not stay `running`.
  const work = executeSync(c.env, c.cfg, run, params);
  c.waitUntil(work.catch(() => {}));
  const error = await work;
  if (error) throw failure(error, run.id);
  return json({ run: await runBody(c, run.id) }, 201, { Location: `/api/runs/${run.id}` });
}

/**
 * Validate a generate request and open its run in `status` (or find the one its idempotency key names).
 * @param {Context} c @param {string} status
 */
async function openRequest(c, status) {
  const idempotencyKey = idempotencyKeyOf(c.request);
  const params = await readGenerateRequest(c.request);
  const opened = await openRun(c.env.DB, c.cfg, { requestId: c.requestId, idempotencyKey, params, status });
  return { ...opened, params };
}

/**
 * Async mode: record the run `queued`, send its job, answer 202 at once. A replay of a run that is still
 * `queued` sends its job again (producers are at-least-once; the consumer drops what is not needed), so a
 * job lost between the D1 insert and the send is recovered by the client's retry.
 * @param {Context} c
 */
async function generateAsync(c) {
  const { run, replayed } = await openRequest(c, STATUS.QUEUED);
  if (replayed) {
    if (run.status === STATUS.QUEUED) {
      await sendJob(c.env, run.id, run.job_seq);
      await addEvent(c.env.DB, run.id, EVENT.JOB_SENT, { seq: run.job_seq, reason: "replay", request_id: c.requestId });
    }
    return json({ run: await runBody(c, run.id) }, 200);
  }
  await enqueue(c, run.id, run.job_seq, "created");
  return json({ run: await runBody(c, run.id) }, 202, { Location: `/api/runs/${run.id}` });
}

/**
 * Send a queued run's job; if the queue refuses it the run fails (`queue_unavailable`) instead of waiting
 * for a message that will never come.
 * @param {Context} c @param {string} runId @param {number} seq @param {string} reason
 */
async function enqueue(c, runId, seq, reason) {
  try {
    await sendJob(c.env, runId, seq);
  } catch (err) {
    console.error(JSON.stringify({ request_id: c.requestId, run_id: runId, error: `send job failed: ${err}` }));
    const error = { code: ERROR.QUEUE_UNAVAILABLE, message: "the job could not be queued" };
    await failRun(c.env.DB, runId, error, { stage: "enqueue" });
    throw new HttpError(ERROR.QUEUE_UNAVAILABLE, "the job could not be queued; try again", { extra: { run_id: runId } });
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
  return json({ run: await runBody(c, id) }, 202, { Location: `/api/runs/${id}` });
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
 * The HTTP answer for a run that failed upstream or while storing its results.
 * @param {import("./workflow.js").StepError} err @param {string} runId
 */
function failure(err, runId) {
  const extra = { run_id: runId, provider_code: err.code };
  const message = `${err.code}: ${err.message}`;
  if (err instanceof UpstreamError && err.throttled) {
    const retryAfter = String(err.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS);
    return new HttpError(ERROR.UPSTREAM_THROTTLED, message, { extra, headers: { "Retry-After": retryAfter } });
  }
  const timedOut = err instanceof UpstreamError ? err.kind === "timeout" : err.timeout;
  if (timedOut) return new HttpError(ERROR.UPSTREAM_TIMEOUT, message, { extra });
  return new HttpError(ERROR.UPSTREAM_ERROR, message, { extra });
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
