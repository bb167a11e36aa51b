// @ts-check
import { describe, expect, it } from "vitest";

import { parseRange } from "../../../worker_src/backend/media.js";

const SIZE = 1000;

describe("parseRange: one `bytes=` range of an object of 1000 bytes", () => {
  it.each([
    ["bytes=0-99", { offset: 0, length: 100 }],
    ["bytes=100-", { offset: 100, length: 900 }],
    ["bytes=999-999", { offset: 999, length: 1 }],
    ["bytes=-100", { offset: 900, length: 100 }],
    [" bytes=0-0 ", { offset: 0, length: 1 }],
  ])("%s is %o", (header, range) => {
    expect(parseRange(header, SIZE)).toEqual(range);
  });

  it("clamps a last byte past the end to the end", () => {
    expect(parseRange("bytes=900-5000", SIZE)).toEqual({ offset: 900, length: 100 });
  });

  it("clamps a suffix longer than the object to the whole object", () => {
    expect(parseRange("bytes=-5000", SIZE)).toEqual({ offset: 0, length: SIZE });
  });

  it.each(["bytes=1000-", "bytes=1000-1001", "bytes=-0"])("%s is unsatisfiable (416)", (header) => {
    expect(parseRange(header, SIZE)).toBe("unsatisfiable");
  });

  it.each([
    ["no header", null],
    ["an empty header", ""],
    ["an empty range", "bytes=-"],
    ["several ranges", "bytes=0-1,5-6"],
    ["another unit", "items=0-1"],
    ["a reversed range", "bytes=50-10"],
    ["a negative first byte", "bytes=--5"],
    ["no unit", "0-99"],
  ])("ignores %s: the whole object is sent", (_case, header) => {
    expect(parseRange(header, SIZE)).toBeNull();
  });
});
