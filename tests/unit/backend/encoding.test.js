// @ts-check
import { describe, expect, it } from "vitest";

import { fromBase64url, hex, toBase64url } from "../../../worker_src/backend/encoding.js";

const bytes = (/** @type {number[]} */ list) => new Uint8Array(list);

describe("base64url (RFC 4648 §5, no padding)", () => {
  it("uses - and _ where base64 has + and /, and drops the padding", () => {
    expect(toBase64url(bytes([0xfb, 0xff]))).toBe("-_8");
  });

  it("encodes nothing as nothing", () => {
    expect(toBase64url(bytes([]))).toBe("");
  });

  it("round-trips every byte value", () => {
    const all = bytes([...Array(256).keys()]);
    expect(fromBase64url(toBase64url(all))).toEqual(all);
  });

  it.each([
    ["base64's own alphabet", "+/8="],
    ["padding", "-_8="],
    ["spaces", "-_ 8"],
    ["an empty text", ""],
    ["an impossible length", "A"],
    ["a last character with its unused bits set (another spelling of 0xfb 0xff)", "-_9"],
  ])("refuses %s (null)", (_case, text) => {
    expect(fromBase64url(text)).toBeNull();
  });

  it("reads only the one spelling it writes: every other tail of a 32-byte value is refused", () => {
    const mac = toBase64url(bytes([...Array(32).keys()]));
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const accepted = [...alphabet].filter((last) => fromBase64url(mac.slice(0, -1) + last) !== null);
    expect(accepted.length).toBe(16); // 4 data bits in the last character: one spelling per value
    expect(accepted).toContain(mac.at(-1));
  });
});

describe("hex", () => {
  it("is lowercase, two digits per byte", () => {
    expect(hex(bytes([0, 10, 255]).buffer)).toBe("000aff");
  });
});
