// @ts-check
/**
 * The backend, unchanged, with its D1 binding metered: what the benchmarks cannot see from outside. Never
 * deployed (only `python -m bench` starts it, from a copy of the backend's generated wrangler config). Each
 * answer carries `X-Bench-D1: {"calls", "statements", "rows_read", "rows_written", "ms"}` over the D1 calls the
 * request made: `calls` round trips (a batch is one), `rows_read` as D1 counts them (what it bills), `ms` the
 * time spent waiting for D1 (the backend awaits its statements one after another, so these add up).
 */

import backend from "../../worker_src/backend/index.js";
import { watchD1 } from "../../worker_src/backend/meter.js";

export default {
  /**
   * @param {Request} request @param {import("../../worker_src/backend/config.js").Env} env @param {ExecutionContext} ctx
   * @returns {Promise<Response>}
   */
  async fetch(request, env, ctx) {
    const tally = { calls: 0, statements: 0, rows_read: 0, rows_written: 0, ms: 0 };
    const db = watchD1(env.DB, {
      ran(meta) {
        tally.rows_read += meta.rows_read ?? 0;
        tally.rows_written += meta.rows_written ?? 0;
      },
      answered(ms, statements) {
        tally.calls += 1;
        tally.statements += statements;
        tally.ms += ms;
      },
    });
    const response = await backend.fetch(request, { ...env, DB: db }, ctx);
    const out = new Response(response.body, response);
    out.headers.set("X-Bench-D1", JSON.stringify(tally));
    return out;
  },
};
