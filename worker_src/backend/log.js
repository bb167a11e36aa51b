// @ts-check
/**
 * The backend's log lines (docs/runbook.md "Logs"). Every line goes through `logLine` (contract.js): one JSON
 * object with `request_id`, `run_id`, `route`, `status`, `outcome` and `duration_ms`, plus the detail fields the
 * contract allows. An `Invocation` is one request, queue message or cron tick: its id and route, the run it is
 * about once known, the details gathered on the way, and its own line at the end.
 */

import { logLine } from "./contract.js";

/** The first lines of an error's stack: where it happened, without the whole trace. */
const STACK_LINES = 4;

export class Invocation {
  /**
   * @param {string} requestId  the request's X-Request-Id, the queue message's id, or a cron tick's own id
   * @param {string} route      `<METHOD> <route>`, `queue <queue name>` or `cron <schedule>`
   */
  constructor(requestId, route) {
    this.requestId = requestId;
    this.route = route;
    this.started = Date.now();
    /** @type {string | null} */
    this.runId = null;
    /** @type {string | null} what the invocation's own line says happened, when the default does not */
    this.outcome = null;
    /** @type {Record<string, unknown>} */
    this.detail = {};
  }

  /** From now on the invocation's lines name this run. @param {string} runId */
  about(runId) {
    this.runId = runId;
  }

  /** Details for the invocation's own line (`LOG.detail` fields). @param {Record<string, unknown>} fields */
  note(fields) {
    Object.assign(this.detail, fields);
  }

  /** An unexpected failure, for the invocation's own line. @param {unknown} err */
  failed(err) {
    this.note({ error: describe(err) });
  }

  /**
   * A line of its own, now (one per run a cron tick swept); `fields.run_id` names another run than the invocation's.
   * @param {number | string} status @param {string} outcome @param {Record<string, unknown>} [fields]
   */
  line(status, outcome, fields = {}) {
    logLine({ request_id: this.requestId, run_id: this.runId, route: this.route, status, outcome,
      duration_ms: Date.now() - this.started, ...fields });
  }

  /**
   * The invocation's own line, last, with what was noted on the way.
   * @param {number | string} status @param {string} outcome  used unless `this.outcome` says otherwise
   */
  end(status, outcome) {
    this.line(status, this.outcome ?? outcome, { ...this.detail, run_id: this.runId });
  }
}

/** @param {unknown} err @returns {string} */
export function describe(err) {
  if (!(err instanceof Error)) return String(err);
  return (err.stack ?? `${err.name}: ${err.message}`).split("\n").slice(0, STACK_LINES).join(" | ");
}
