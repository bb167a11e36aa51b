// @ts-check
import { describe, expect, it } from "vitest";

import { firstPollDelay, pollDelay, retryDelay } from "../../../worker_src/backend/backoff.js";
import { MAX_DELAY_SECONDS } from "../../../worker_src/backend/jobs.js";

/**
 * `queues.*` of a stack: tasks expected to take 20 s, then 3 s doubling up to 30 s; no batch wait.
 * @type {import("../../../worker_src/backend/config.js").Jobs}
 */
const jobs = {
  queue: "jobs",
  deadLetterQueue: "dead-letters",
  maxAttempts: 4,
  initialDelaySeconds: 3,
  maxDelaySeconds: 30,
  maxPolls: 40,
  expectedTaskSeconds: 20,
  learnFromRecentRuns: false,
  batchWaitSeconds: 0,
};

describe("firstPollDelay: seconds between the submit and the first task query", () => {
  it("is 10 % after the task is expected to be done, in whole seconds", () => {
    expect([20, 7, 1].map((expected) => firstPollDelay(jobs, expected))).toEqual([22, 8, 1]);
  });

  it("takes off the time a due message waits for its batch", () => {
    expect(firstPollDelay({ ...jobs, batchWaitSeconds: 5 }, 20)).toBe(17);
  });

  it("is at least 1 second, however long the batch wait", () => {
    expect(firstPollDelay({ ...jobs, batchWaitSeconds: 60 }, 20)).toBe(1);
  });

  it("never asks for more than a queue accepts (12 hours)", () => {
    expect(firstPollDelay(jobs, 86400)).toBe(MAX_DELAY_SECONDS);
  });
});

describe("pollDelay: seconds before the next task query, once `done` queries have been made", () => {
  it("waits the initial delay after the first query", () => {
    expect(pollDelay(jobs, 1)).toBe(3);
  });

  it("doubles with every further query", () => {
    expect([2, 3, 4].map((done) => pollDelay(jobs, done))).toEqual([6, 12, 24]);
  });

  it("never waits longer than the cap", () => {
    expect([5, 6, 40].map((done) => pollDelay(jobs, done))).toEqual([30, 30, 30]);
  });

  it("stays at the cap however many queries were made", () => {
    expect(pollDelay({ ...jobs, maxDelaySeconds: 43200 }, 10_000)).toBe(43200);
  });
});

describe("retryDelay: seconds before the next delivery after a failed attempt", () => {
  it("waits the initial delay after the first attempt", () => {
    expect(retryDelay(jobs, 1)).toBe(3);
  });

  it("doubles with every further attempt, up to the cap", () => {
    expect([2, 3, 4, 5, 6].map((attempt) => retryDelay(jobs, attempt))).toEqual([6, 12, 24, 30, 30]);
  });

  it("waits as long as the provider's Retry-After when that is longer", () => {
    expect(retryDelay(jobs, 1, 20)).toBe(20);
  });

  it("keeps its own backoff when Retry-After asks for less", () => {
    expect(retryDelay(jobs, 3, 5)).toBe(12);
  });

  it("lets Retry-After go past the backoff cap", () => {
    expect(retryDelay(jobs, 1, 120)).toBe(120);
  });

  it("never asks for more than a queue accepts (12 hours), whatever Retry-After says", () => {
    expect(MAX_DELAY_SECONDS).toBe(12 * 60 * 60);
    expect(retryDelay(jobs, 1, 86400)).toBe(MAX_DELAY_SECONDS);
  });

  it("treats attempt 0 like attempt 1", () => {
    expect(retryDelay(jobs, 0)).toBe(3);
  });
});
