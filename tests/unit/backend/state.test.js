// @ts-check
import { describe, expect, it } from "vitest";

import { NEXT, STATUS, STATUSES, TERMINAL } from "../../../worker_src/backend/contract.js";
import { predecessors } from "../../../worker_src/backend/state.js";

describe("the run state machine (declared in infra/model/contract.py, generated into contract.js)", () => {
  it("knows these statuses, in lifecycle order", () => {
    expect(STATUSES).toEqual(["queued", "submitted", "running", "persisting", "succeeded", "failed", "dead_lettered"]);
  });

  it.each([
    [STATUS.SUBMITTED, [STATUS.QUEUED]],
    [STATUS.RUNNING, [STATUS.QUEUED, STATUS.SUBMITTED]],
    [STATUS.PERSISTING, [STATUS.SUBMITTED, STATUS.RUNNING]],
    [STATUS.SUCCEEDED, [STATUS.PERSISTING]],
    [STATUS.FAILED, [STATUS.QUEUED, STATUS.SUBMITTED, STATUS.RUNNING, STATUS.PERSISTING]],
    [STATUS.DEAD_LETTERED, [STATUS.QUEUED, STATUS.SUBMITTED, STATUS.RUNNING, STATUS.PERSISTING]],
    [STATUS.QUEUED, [STATUS.FAILED, STATUS.DEAD_LETTERED]],
  ])("a run moves to %s only from %j", (to, from) => {
    expect(predecessors(to)).toEqual(from);
  });

  it("never leaves succeeded", () => {
    expect(NEXT[STATUS.SUCCEEDED]).toEqual([]);
  });

  it("leaves failed and dead_lettered only to be queued again (an operator's re-drive)", () => {
    expect([NEXT[STATUS.FAILED], NEXT[STATUS.DEAD_LETTERED]]).toEqual([[STATUS.QUEUED], [STATUS.QUEUED]]);
  });

  it("never moves a working run back, nor keeps it where it is", () => {
    /** @type {string[]} */
    const working = [STATUS.QUEUED, STATUS.SUBMITTED, STATUS.RUNNING, STATUS.PERSISTING];
    for (const [i, from] of working.entries()) {
      expect(NEXT[from].filter((to) => working.slice(0, i + 1).includes(to))).toEqual([]);
    }
  });

  it("stops in succeeded, failed and dead_lettered", () => {
    expect(TERMINAL).toEqual(["succeeded", "failed", "dead_lettered"]);
  });

  it("refuses an unknown status, naming it", () => {
    expect(() => predecessors("done")).toThrow("unknown run status 'done'");
  });
});
