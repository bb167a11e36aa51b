// @ts-check
/**
 * The generation workflow as steps over the state machine: open a run (or find the one an idempotency key
 * already names), call the provider, stream its results into R2, complete or fail the run. The sync route
 * runs them in one request; the queue consumer can run the same steps across deliveries. A failure of the
 * provider or of the download is not an exception here: it ends the run `failed` with the provider's code
 * and is returned as `error`, so the caller decides how to answer.
 */

import { ERROR, EVENT, STATUS } from "./contract.js";
import { UpstreamError, generateSync } from "./dashscope.js";
import { ResultError } from "./download.js";
import { hex } from "./encoding.js";
import { HttpError } from "./http.js";
import { deleteObjects, persistResults } from "./persist.js";
import { nearBudget } from "./rollups.js";
import { addEvent, completeRun, createRun, findByIdempotencyKey, getRun, now, transition } from "./runs.js";

/**
 * @typedef {UpstreamError | ResultError} StepError
 * @typedef {{run: import("./runs.js").RunRow, replayed: boolean, error: StepError | null}} Outcome
 */

/**
 * A stable digest of a validated request, to tell an idempotent replay from a reuse of its key.
 * @param {import("./validate.js").GenerateParams} params
 */
export async function requestHash(params) {
  const canonical = JSON.stringify(Object.keys(params).sort().map((k) => [k, params[/** @type {keyof typeof params} */ (k)]]));
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)));
}

/**
 * Open a run for a request, or return the run its idempotency key already names (409 if the body differs).
 * @param {D1Database} db @param {import("./config.js").Config} cfg
 * @param {{requestId: string, clientRequestId: string | null, idempotencyKey: string | null,
 *   params: import("./validate.js").GenerateParams, status: string}} req
 * @returns {Promise<{run: import("./runs.js").RunRow, replayed: boolean}>}
 */
export async function openRun(db, cfg, req) {
  const hash = await requestHash(req.params);
  if (req.idempotencyKey) {
    const existing = await findByIdempotencyKey(db, req.idempotencyKey);
    if (existing) return replay(db, existing, hash, req.requestId);
  }
  const { prompt, ...parameters } = req.params;
  const id = crypto.randomUUID();
  const created = await createRun(db, {
    id,
    requestId: req.requestId,
    clientRequestId: req.clientRequestId,
    idempotencyKey: req.idempotencyKey,
    requestHash: hash,
    model: cfg.model,
    status: req.status,
    prompt,
    parameters,
    createdAt: now(),
  });
  if (!created) {
    // A concurrent request with the same key won the insert: D1's unique index decided, not timing.
    const winner = await findByIdempotencyKey(db, /** @type {string} */ (req.idempotencyKey));
    if (!winner) throw new Error("idempotency key taken but its run is missing");
    return replay(db, winner, hash, req.requestId);
  }
  return { run: /** @type {import("./runs.js").RunRow} */ (await getRun(db, id)), replayed: false };
}

/**
 * The run a key names, for the same request; for another body a 409 that says nothing about that run (whose
 * it is, its id, its state): a key is not a way to learn about other clients' runs.
 * @param {D1Database} db @param {import("./runs.js").RunRow} run @param {string} hash @param {string} requestId
 */
async function replay(db, run, hash, requestId) {
  if (run.request_hash !== hash) {
    throw new HttpError(ERROR.IDEMPOTENCY_CONFLICT, "this Idempotency-Key was already used with a different request body");
  }
  await addEvent(db, run.id, EVENT.IDEMPOTENT_REPLAY, { request_id: requestId });
  return { run, replayed: true };
}

/**
 * Provider call → `persisting` → results into R2 → `succeeded`, for a run in `running`.
 * @param {import("./config.js").Env} env @param {import("./config.js").Config} cfg
 * @param {import("./runs.js").RunRow} run @param {import("./validate.js").GenerateParams} params
 * @param {import("./log.js").Invocation} log  the request's
 * @returns {Promise<StepError | null>}
 */
export async function executeSync(env, cfg, run, params, log) {
  try {
    return await callAndStore(env, cfg, run, params, log);
  } catch (err) {
    // A bug or a storage outage must not leave the run `running` forever.
    const internal = { code: "internal_error", message: "the run stopped on an internal error" };
    await failRun(env.DB, run.id, internal, { stage: "internal" }).catch(() => {});
    throw err;
  }
}

/**
 * @param {import("./config.js").Env} env @param {import("./config.js").Config} cfg
 * @param {import("./runs.js").RunRow} run @param {import("./validate.js").GenerateParams} params
 * @param {import("./log.js").Invocation} log
 * @returns {Promise<StepError | null>}
 */
async function callAndStore(env, cfg, run, params, log) {
  const started = Date.now();
  let result;
  try {
    result = await generateSync(cfg, params);
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    await failRun(env.DB, run.id, err, { stage: "upstream", http_status: err.status, duration_ms: Date.now() - started }, true);
    return err;
  }
  const taskMs = Date.now() - started;
  const moved = await transition(env.DB, run.id, STATUS.PERSISTING, {
    set: { provider_request_id: result.requestId, task_ms: taskMs, task_near_budget: nearBudget(taskMs, cfg.upstreamTimeoutMs) },
    countAttempt: true,
    detail: { provider_request_id: result.requestId, images: result.imageUrls.length, duration_ms: Date.now() - started },
  });
  if (!moved) return null;
  return storeResults(env, cfg, run, result.imageUrls, log);
}

/**
 * Stream the provider's results of a `persisting` run into R2 and complete it; nothing stays in R2 unless
 * the run ends `succeeded` with those assets recorded. Keys are a function of (run, index), so a second
 * delivery writing the same run overwrites, never adds, and must not delete what a completed run recorded.
 * @param {import("./config.js").Env} env @param {import("./config.js").Config} cfg
 * @param {import("./runs.js").RunRow} run @param {string[]} urls @param {import("./log.js").Invocation} log
 * @param {import("./runs.js").Guard} [guard]   e.g. the queue consumer's lease
 * @returns {Promise<StepError | null>}
 */
export async function storeResults(env, cfg, run, urls, log, guard) {
  const started = Date.now();
  let assets;
  try {
    assets = await persistResults(env.MEDIA, cfg, { runId: run.id, createdAt: run.created_at, urls }, log);
  } catch (err) {
    if (!(err instanceof ResultError)) throw err;
    await failRun(env.DB, run.id, err, { stage: "download", duration_ms: Date.now() - started }, false, guard);
    return err;
  }
  const keys = assets.map((a) => a.r2_key);
  const downloadMs = Date.now() - started;
  const bytes = assets.reduce((n, a) => n + a.bytes, 0);
  let completed = false;
  try {
    completed = await completeRun(env.DB, run.id, assets, {
      guard,
      set: { download_ms: downloadMs, download_near_budget: nearBudget(downloadMs, cfg.downloadTimeoutMs), image_bytes: bytes },
      detail: { images: assets.length, bytes, duration_ms: downloadMs },
    });
  } finally {
    if (!completed && !(await succeeded(env.DB, run.id))) await deleteObjects(env.MEDIA, keys, log);
  }
  return null;
}

/** @param {D1Database} db @param {string} id */
async function succeeded(db, id) {
  return getRun(db, id).then((row) => row?.status === STATUS.SUCCEEDED, () => false);
}

/**
 * End a run `failed` with the provider's (or the download's) code and message.
 * @param {D1Database} db @param {string} id @param {{code: string, message: string}} err
 * @param {Record<string, unknown>} detail @param {boolean} [countAttempt]
 * @param {import("./runs.js").Guard} [guard]
 */
export async function failRun(db, id, err, detail, countAttempt = false, guard = undefined) {
  /** @type {Record<string, string | null>} */
  const set = { error_code: err.code, error_message: err.message };
  if (err instanceof UpstreamError && err.requestId) set.provider_request_id = err.requestId;
  return transition(db, id, STATUS.FAILED, { set, countAttempt, guard, detail: { ...detail, code: err.code } });
}
