// @ts-check
/**
 * Every query shape of the backend, planned by the SQLite inside workerd: the Worker's own functions run against
 * a local D1 database (Miniflare, the runtime `wrangler dev` uses) through a binding that records each statement
 * as it is bound (the backend's own meter, worker_src/backend/meter.js); each one is then planned with `EXPLAIN QUERY PLAN` and the very same parameters. D1's own
 * `rows_read` of every statement a shape ran is summed too: what a shape costs, in the unit D1 bills. Prints one
 * JSON object `{statements: [{shape, sql, params, plan}], reads: {shape: rows}}`; tests/infra/test_query_plans.py
 * holds every plan to the index rule and the reads to the size of the database.
 *
 * Usage: node query_plans.mjs <persist dir> <database id>
 */

import { Miniflare } from "miniflare";
import { STATUS } from "../../worker_src/backend/contract.js";
import { lastAttemptError } from "../../worker_src/backend/deadletter.js";
import { acquireLease, heldBy, releaseLease } from "../../worker_src/backend/leases.js";
import { watchD1 } from "../../worker_src/backend/meter.js";
import { opsSummary, parseStep, parseWindow } from "../../worker_src/backend/ops.js";
import { purgeExpired } from "../../worker_src/backend/retention.js";
import {
  completeRun, createRun, findByIdempotencyKey, getAssets, getEvents, getRun, listRuns, transition,
} from "../../worker_src/backend/runs.js";
import { Invocation } from "../../worker_src/backend/log.js";
import { sweepAbandonedRuns } from "../../worker_src/backend/sweep.js";
import { encodeCursor, validateListQuery } from "../../worker_src/backend/validate.js";

const [persist, databaseId] = process.argv.slice(2);
const mf = new Miniflare({
  modules: true,
  script: "export default { fetch() { return new Response(null, { status: 404 }); } }",
  d1Databases: { DB: databaseId },
  r2Buckets: ["MEDIA"],
  d1Persist: `${persist}/v3/d1`,
  r2Persist: `${persist}/v3/r2`,
  cf: false,
});

/** @type {{shape: string, sql: string, params: unknown[]}[]} */
const recorded = [];
let shape = "";
/** @type {Record<string, number>} */
const reads = {};

try {
  const real = /** @type {D1Database} */ (/** @type {unknown} */ (await mf.getD1Database("DB")));
  /** A D1 binding that records what the Worker binds and reads (the backend's own meter.js); the rest is real. */
  const db = watchD1(real, {
    bound: (sql, params) => recorded.push({ shape, sql, params }),
    ran: (meta) => { reads[shape] = (reads[shape] ?? 0) + (meta.rows_read ?? 0); },
  });
  const media = await mf.getR2Bucket("MEDIA");
  const as = async (/** @type {string} */ name, /** @type {() => Promise<unknown>} */ work) => {
    shape = name;
    await work();
  };

  // -- the run list: every combination of its filters, with and without a cursor, parsed as the route parses them
  // A page in the middle of the table: where a cursor that cannot seek walks half the runs.
  const middle = await real
    .prepare("SELECT created_at, id FROM runs ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM runs)")
    .first();
  const cursor = encodeCursor(String(middle?.created_at ?? "2026-01-02T03:04:05.678Z"), String(middle?.id ?? "x"));
  const filters = {
    status: "failed", request_id: "req-1", client_request_id: "mine-1", since: "2026-01-01T00:00:00Z",
    until: "2026-12-31T00:00:00Z",
  };
  const names = /** @type {(keyof typeof filters)[]} */ (Object.keys(filters));
  for (let mask = 0; mask < 2 ** names.length; mask++) {
    for (const paged of [false, true]) {
      const query = new URLSearchParams({ limit: "20" });
      names.forEach((name, bit) => mask & (1 << bit) && query.set(name, filters[name]));
      if (paged) query.set("cursor", cursor);
      const label = [...names.filter((_, bit) => mask & (1 << bit)), ...(paged ? ["cursor"] : [])].join("+");
      await as(`list runs: ${label || "unfiltered"}`, () => listRuns(db, validateListQuery(query)));
    }
  }
  const early = new URLSearchParams({ until: "2000-01-01T00:00:00Z", cursor });
  await as("list runs: until before the cursor", () => listRuns(db, validateListQuery(early)));

  // -- one run, written and read the way the routes and the consumer do
  const id = crypto.randomUUID();
  const at = new Date().toISOString();
  await as("create a run", () => createRun(db, {
    id, requestId: "req-plan", clientRequestId: "mine-plan", idempotencyKey: `key-${id}`, requestHash: "h",
    model: "qwen-image-plus",
    status: STATUS.QUEUED, prompt: "planned", parameters: {}, createdAt: at,
  }));
  await as("run by idempotency key", () => findByIdempotencyKey(db, `key-${id}`));
  await as("take a lease", () => acquireLease(db, id, 0, "msg-1", 60));
  await as("a transition under the lease", () => transition(db, id, STATUS.SUBMITTED, {
    set: { provider_task_id: `task-${id}`, queue_wait_ms: 5 }, guard: heldBy("msg-1"),
  }));
  await as("release a lease for the next wake-up", () => releaseLease(db, id, "msg-1", { job_seq: 1, polls: 1 }));
  await as("count a retried delivery", () => releaseLease(db, id, "msg-1", { retried: true }));
  await as("a transition", () => transition(db, id, STATUS.PERSISTING, { set: { polls: 1, task_ms: 20000 } }));
  await as("complete a run with its assets", () => completeRun(db, id, [{
    idx: 0, r2_key: `generated/plan/${id}/0.png`, sha256: "0".repeat(64), bytes: 1, content_type: "image/png",
    source_host: "h",
  }]));
  await as("run by id", () => getRun(db, id));
  await as("events of a run", () => getEvents(db, id));
  await as("assets of runs", () => getAssets(db, [id, crypto.randomUUID()]));
  await as("last failed attempt", () => lastAttemptError(db, id));

  // -- the ops summary for every kind of window, and the cron
  const stack = { retentionDays: 8, mediaExpireDays: 7, upstreamTimeoutMs: 120000, downloadTimeoutMs: 30000, asyncEnabled: true };
  for (const [window, step] of [["1h", null], ["6h", "1h"], ["24h", null], ["7d", "1d"], ["30d", null]]) {
    const parsed = parseWindow(window);
    await as(`ops summary ${window}`, () => opsSummary(db, parsed, stack, { step: parseStep(step, parsed) }));
  }
  const env = /** @type {import("../../worker_src/backend/config.js").Env} */ (/** @type {unknown} */ ({ DB: db, MEDIA: media }));
  const cfg = /** @type {import("../../worker_src/backend/config.js").Config} */ (/** @type {unknown} */ ({ sweepAfterSeconds: 3600, retentionDays: 8 }));
  await as("sweep abandoned runs", () => sweepAbandonedRuns(env, cfg, new Invocation(crypto.randomUUID(), "query plans")));
  await as("purge what is past its retention", () => purgeExpired(db, { ...cfg, retentionDays: 1 }));

  const plans = [];
  for (const { shape: name, sql, params } of recorded) {
    const { results } = await real.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all();
    plans.push({ shape: name, sql, params, plan: results.map((row) => String(row.detail)) });
  }
  console.log(JSON.stringify({ statements: plans, reads }));
} finally {
  await mf.dispose();
}
