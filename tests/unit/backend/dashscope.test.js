// @ts-check
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { UpstreamError, asyncRequestBody, parseRetryAfter, syncRequestBody } from "../../../worker_src/backend/dashscope.js";

describe("parseRetryAfter: the provider's Retry-After as whole seconds", () => {
  const NOW = Date.parse("2026-05-01T12:00:00Z");
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ["7", 7],
    [" 7 ", 7],
    ["120", 120],
    ["1.2", 2],
    ["0.1", 1],
    ["0", 1],
  ])("reads delta-seconds %j as %i (rounded up, at least 1)", (header, seconds) => {
    expect(parseRetryAfter(header)).toBe(seconds);
  });

  it("reads an HTTP date as the seconds from now until then", () => {
    expect(parseRetryAfter("Fri, 01 May 2026 12:00:30 GMT")).toBe(30);
  });

  it("reads an HTTP date in the past as 1 second", () => {
    expect(parseRetryAfter("Fri, 01 May 2026 11:00:00 GMT")).toBe(1);
  });

  it.each([null, "", "soon", "5s", "-5", "1 2", "2026-05-01", "Fri, 01 May 2026 12:00:30"])("is null for %j", (header) => {
    expect(parseRetryAfter(header)).toBeNull();
  });
});

describe("UpstreamError: what may be tried again", () => {
  /** @param {Partial<import("../../../worker_src/backend/dashscope.js").UpstreamErrorInfo>} info */
  const error = (info) => new UpstreamError({ kind: "http", code: "X", message: "m", ...info });

  it.each([408, 429, 500, 502, 503])("retries HTTP %i", (status) => {
    expect(error({ status }).retryable).toBe(true);
  });

  it.each([400, 401, 403, 404])("does not retry HTTP %i (the request itself is wrong)", (status) => {
    expect(error({ status }).retryable).toBe(false);
  });

  it("retries timeouts and unreachable providers, which have no status", () => {
    expect(error({ kind: "timeout" }).retryable).toBe(true);
    expect(error({ kind: "network" }).retryable).toBe(true);
  });

  it("does not retry a 200 that is not a usable answer", () => {
    expect(error({ kind: "bad_response", status: 200 }).retryable).toBe(false);
  });

  it("is throttled only on 429", () => {
    expect([429, 503].map((status) => error({ status }).throttled)).toEqual([true, false]);
  });

  it("keeps the provider's code, status, request id and Retry-After", () => {
    const err = error({ code: "Throttling.RateQuota", status: 429, requestId: "r-1", retryAfterSeconds: 7 });
    expect([err.code, err.status, err.requestId, err.retryAfterSeconds]).toEqual(["Throttling.RateQuota", 429, "r-1", 7]);
  });
});

describe("request bodies: what reaches the provider", () => {
  const params = { prompt: "a fox", negative_prompt: "blurry", size: "1328*1328", seed: 7 };

  it("sync: the prompt as one user message, one image without a watermark", () => {
    expect(syncRequestBody("qwen-image-plus", params)).toEqual({
      model: "qwen-image-plus",
      input: { messages: [{ role: "user", content: [{ text: "a fox" }] }] },
      parameters: { n: 1, watermark: false, negative_prompt: "blurry", size: "1328*1328", seed: 7 },
    });
  });

  it("async: a plain input.prompt, the same parameters", () => {
    expect(asyncRequestBody("qwen-image", params)).toEqual({
      model: "qwen-image",
      input: { prompt: "a fox" },
      parameters: { n: 1, watermark: false, negative_prompt: "blurry", size: "1328*1328", seed: 7 },
    });
  });

  it("sends no optional parameter the request did not have (the provider's defaults apply)", () => {
    expect(syncRequestBody("qwen-image", { prompt: "a fox" }).parameters).toEqual({ n: 1, watermark: false });
  });
});
