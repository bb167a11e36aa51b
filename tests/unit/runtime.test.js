// @ts-check
import { describe, expect, it } from "vitest";

describe("the unit tier", () => {
  it("runs inside the Workers runtime (workerd), not Node: the Workers-only globals are there", () => {
    expect([typeof HTMLRewriter, typeof WebSocketPair, typeof caches.default.match]).toEqual([
      "function",
      "function",
      "function",
    ]);
  });
});
