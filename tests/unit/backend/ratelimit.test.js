// @ts-check
import { describe, expect, it } from "vitest";

import { rateLimitKey } from "../../../worker_src/backend/ratelimit.js";

describe("rateLimitKey: what the generate rate limit counts by", () => {
  it("counts an IPv4 address as it is", () => {
    expect(rateLimitKey("203.0.113.7")).toBe("203.0.113.7");
  });

  it.each([
    ["a full address", "2001:0db8:0000:0001:abcd:0000:0000:0042"],
    ["the same, compressed", "2001:db8:0:1:abcd::42"],
    ["another address of the same /64", "2001:db8:0:1::1"],
    ["upper case", "2001:DB8:0:1::FFFF"],
  ])("counts an IPv6 address by its /64, one subscriber's allocation: %s", (_case, address) => {
    expect(rateLimitKey(address)).toBe("2001:db8:0:1::/64");
  });

  it("counts an IPv4-mapped IPv6 address as its IPv4 address", () => {
    expect(rateLimitKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
  });

  it.each([
    ["empty", ""], ["a name", "localhost"], ["an IPv4 out of range", "203.0.113.256"], ["two ::", "1::2::3"],
    ["nine groups", "1:2:3:4:5:6:7:8:9"], ["a group of five digits", "2001:db8:0:1:0:0:0:12345"],
    ["a list", "203.0.113.7, 198.51.100.1"],
  ])("is null for %s", (_case, address) => {
    expect(rateLimitKey(address)).toBeNull();
  });
});
