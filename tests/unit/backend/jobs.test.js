// @ts-check
import { describe, expect, it } from "vitest";

import { parseJob } from "../../../worker_src/backend/jobs.js";

const RUN_ID = "0b9e4a52-6f3c-4d1e-9a7b-2c5d8e1f0a34";

describe("parseJob: a job message is {run_id, seq} and nothing else", () => {
  it("reads a wake-up", () => {
    expect(parseJob({ run_id: RUN_ID, seq: 3 })).toEqual({ run_id: RUN_ID, seq: 3 });
  });

  it("drops any other field (a message never carries a prompt or a header on)", () => {
    expect(parseJob({ run_id: RUN_ID, seq: 0, prompt: "a fox", authorization: "Bearer x" })).toEqual({
      run_id: RUN_ID,
      seq: 0,
    });
  });

  it.each([
    ["null", null],
    ["a string", JSON.stringify({ run_id: RUN_ID, seq: 0 })],
    ["a number", 7],
    ["no run id", { seq: 0 }],
    ["a run id that is not a UUID", { run_id: "run-1", seq: 0 }],
    ["an uppercase run id", { run_id: RUN_ID.toUpperCase(), seq: 0 }],
    ["a run id with more around it", { run_id: `${RUN_ID}x`, seq: 0 }],
    ["no seq", { run_id: RUN_ID }],
    ["seq as a string", { run_id: RUN_ID, seq: "1" }],
    ["a negative seq", { run_id: RUN_ID, seq: -1 }],
    ["a fractional seq", { run_id: RUN_ID, seq: 1.5 }],
    ["seq NaN", { run_id: RUN_ID, seq: Number.NaN }],
  ])("is null for %s (the consumer logs and drops it)", (_case, body) => {
    expect(parseJob(body)).toBeNull();
  });
});
