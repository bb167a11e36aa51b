// @ts-check
import { describe, expect, it } from "vitest";

import { IMMUTABLE, assetKey } from "../../../worker_src/backend/persist.js";

const RUN_ID = "0b9e4a52-6f3c-4d1e-9a7b-2c5d8e1f0a34";

describe("assetKey: where a run's image is stored", () => {
  it("is generated/<yyyy>/<mm>/<dd>/<run id>/<index>.<ext>", () => {
    expect(assetKey(RUN_ID, "2026-05-01T12:34:56.789Z", 0, "png")).toBe(`generated/2026/05/01/${RUN_ID}/0.png`);
  });

  it("is dated by the run's creation day in UTC, whatever the time of day", () => {
    expect(assetKey(RUN_ID, "2026-12-31T23:59:59.999Z", 1, "webp")).toBe(`generated/2026/12/31/${RUN_ID}/1.webp`);
  });

  it("gives each image of a run its own key", () => {
    const keys = [0, 1, 2].map((index) => assetKey(RUN_ID, "2026-05-01T00:00:00Z", index, "jpg"));
    expect(new Set(keys).size).toBe(3);
  });
});

describe("IMMUTABLE: the caching of stored objects", () => {
  it("lets every cache keep an object for a year without revalidating", () => {
    expect(IMMUTABLE).toBe("public, max-age=31536000, immutable");
  });
});
