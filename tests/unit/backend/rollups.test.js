// @ts-check
import { describe, expect, it } from "vitest";

import { LATENCY_BOUNDS_MS, TASK_BOUNDS_MS, nearBudget, percentile } from "../../../worker_src/backend/rollups.js";

describe("nearBudget: 0005's flag of a duration within 20 % of its timeout", () => {
  it("is set from 80 % of the budget on", () => {
    expect([95999, 96000, 96001, 120000, 130000].map((ms) => nearBudget(ms, 120000))).toEqual([0, 1, 1, 1, 1]);
  });
});

describe("percentile: the upper bound of the bucket holding rank ⌈q·n⌉", () => {
  it("reads the latency histogram by default and another histogram by its own bounds", () => {
    const le = TASK_BOUNDS_MS.map((bound) => (bound >= 20000 ? 10 : bound >= 10000 ? 5 : 0));
    expect([0.5, 0.51, 0.99].map((q) => percentile(le, 10, q, TASK_BOUNDS_MS))).toEqual([10000, 20000, 20000]);
    expect(percentile(LATENCY_BOUNDS_MS.map(() => 3), 3, 0.5)).toBe(LATENCY_BOUNDS_MS[0]);
  });

  it("is null without runs and the last bound beyond it", () => {
    expect(percentile(TASK_BOUNDS_MS.map(() => 0), 0, 0.5, TASK_BOUNDS_MS)).toBeNull();
    expect(percentile(TASK_BOUNDS_MS.map(() => 0), 4, 0.5, TASK_BOUNDS_MS)).toBe(3600000);
  });
});
