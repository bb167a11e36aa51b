// @ts-check
import { describe, expect, it } from "vitest";

import { absorbed, causeOf } from "../../../worker_src/backend/failures.js";

describe("causeOf: the failure cause of a run's error code (FAILURE_CODES in infra/model/contract.py)", () => {
  it("reads an exact code", () => {
    expect(["abandoned", "upstream_timeout", "InvalidApiKey", "DataInspectionFailed", "internal_error"].map(causeOf))
      .toEqual(["abandoned", "timeout", "key_or_quota", "content_inspection", "internal"]);
  });

  it("reads a code by its prefix", () => {
    expect(["Throttling", "Throttling.RateQuota", "InternalError.Algo", "HTTP503", "BadRequest.EmptyInput",
      "AccessDenied.Unpurchased"].map(causeOf))
      .toEqual(["throttled", "throttled", "upstream_error", "upstream_error", "invalid_input", "key_or_quota"]);
  });

  it("takes the longest prefix a code starts with", () => {
    expect(causeOf("InvalidParameter")).toBe("invalid_input");
    expect(causeOf("InvalidParameter.DataInspection")).toBe("content_inspection");
  });

  it("calls a code nobody declared unclassified, whatever its name", () => {
    expect(["Teapot", "HTTP404", "", "constructor", "toString"].map(causeOf)).toEqual(Array(5).fill("unclassified"));
  });
});

describe("absorbed: whether async processing (a later retry) would fix a cause", () => {
  it("is true for throttling, upstream errors, timeouts and abandoned runs only", () => {
    const causes = ["throttled", "upstream_error", "timeout", "abandoned", "invalid_input", "content_inspection",
      "key_or_quota", "result_rejected", "internal", "unclassified", "no such cause"];
    expect(causes.filter(absorbed)).toEqual(["throttled", "upstream_error", "timeout", "abandoned"]);
  });
});
