// @ts-check
import { describe, expect, it } from "vitest";

import { IMAGE_TYPES, ResultError, checkResultUrl, hostAllowed } from "../../../worker_src/backend/download.js";

/** @param {Partial<import("../../../worker_src/backend/config.js").Config>} overrides */
function config(overrides = {}) {
  return /** @type {import("../../../worker_src/backend/config.js").Config} */ ({
    allowedResultHosts: ["results.example.com", "*.oss.example.com", "127.0.0.1:9000"],
    allowHttpResults: false,
    ...overrides,
  });
}

/** The `ResultError` that `checkResultUrl` throws for `raw`, as `{code, message}`. */
function refusal(/** @type {string} */ raw, cfg = config()) {
  try {
    checkResultUrl(cfg, raw);
  } catch (err) {
    if (err instanceof ResultError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error(`${raw} was accepted`);
}

describe("checkResultUrl: which provider result URLs may be requested at all", () => {
  it("accepts https on an allowed host, with its query (the presigned part)", () => {
    const url = checkResultUrl(config(), "https://results.example.com/a/0.png?Expires=1&Signature=x");
    expect(url.href).toBe("https://results.example.com/a/0.png?Expires=1&Signature=x");
  });

  it("refuses what is not a URL", () => {
    expect(refusal("not a url")).toEqual({
      code: "result_url_invalid",
      message: "the provider returned a result URL that is not a URL",
    });
  });

  it.each([
    ["http:", "http://results.example.com/0.png"],
    ["ftp:", "ftp://results.example.com/0.png"],
    ["file:", "file:///etc/passwd"],
    ["data:", "data:image/png;base64,iVBORw0KGgo="],
  ])("refuses %s", (scheme, raw) => {
    expect(refusal(raw)).toEqual({
      code: "result_url_not_https",
      message: `result URLs must use https, not ${scheme.slice(0, -1)}`,
    });
  });

  it("accepts http only where the stack allows it (local)", () => {
    expect(checkResultUrl(config({ allowHttpResults: true }), "http://127.0.0.1:9000/0.png").host).toBe("127.0.0.1:9000");
  });

  it.each(["https://user@results.example.com/0.png", "https://user:pw@results.example.com/0.png"])(
    "refuses credentials in the URL: %s",
    (raw) => {
      expect(refusal(raw)).toEqual({ code: "result_url_invalid", message: "result URLs must not carry credentials" });
    },
  );

  it("refuses a host off the allowlist, naming it", () => {
    expect(refusal("https://evil.example.net/0.png")).toEqual({
      code: "result_host_not_allowed",
      message: "result host 'evil.example.net' is not an allowed result host",
    });
  });
});

describe("hostAllowed: exact host[:port] or *.suffix[:port]", () => {
  /** @param {string[]} patterns @param {string} raw */
  const allowed = (patterns, raw) => hostAllowed(patterns, new URL(raw));

  it("matches an exact host on the scheme's default port", () => {
    expect(allowed(["results.example.com"], "https://results.example.com/x")).toBe(true);
    expect(allowed(["results.example.com"], "https://results.example.com:443/x")).toBe(true);
  });

  it("compares host names case-insensitively", () => {
    expect(allowed(["results.example.com"], "https://RESULTS.Example.COM/x")).toBe(true);
  });

  it("does not match another port than the pattern's", () => {
    expect(allowed(["results.example.com"], "https://results.example.com:8443/x")).toBe(false);
    expect(allowed(["127.0.0.1:9000"], "http://127.0.0.1:9001/x")).toBe(false);
    expect(allowed(["127.0.0.1:9000"], "http://127.0.0.1:9000/x")).toBe(true);
  });

  it("does not match a longer host that ends like an exact pattern", () => {
    expect(allowed(["example.com"], "https://evilexample.com/x")).toBe(false);
    expect(allowed(["example.com"], "https://sub.example.com/x")).toBe(false);
  });

  it("matches any subdomain of a *.suffix, at any depth", () => {
    expect(allowed(["*.oss.example.com"], "https://bucket.oss.example.com/x")).toBe(true);
    expect(allowed(["*.oss.example.com"], "https://a.b.oss.example.com/x")).toBe(true);
  });

  it("does not match the bare suffix, nor a host that only ends with its letters, nor an empty label", () => {
    expect(allowed(["*.oss.example.com"], "https://oss.example.com/x")).toBe(false);
    expect(allowed(["*.oss.example.com"], "https://eviloss.example.com/x")).toBe(false);
    expect(allowed(["*.oss.example.com"], "https://.oss.example.com/x")).toBe(false);
  });

  it("matches nothing when the list is empty", () => {
    expect(allowed([], "https://results.example.com/x")).toBe(false);
  });
});

describe("IMAGE_TYPES: the types the bucket accepts, each checked by its first bytes", () => {
  const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d];
  const JPEG = [0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1];
  const WEBP = [0x52, 0x49, 0x46, 0x46, 0x24, 0, 0, 0, 0x57, 0x45, 0x42, 0x50];
  const bytes = (/** @type {number[]} */ list) => new Uint8Array(list);

  it("stores PNG, JPEG and WebP, with these key extensions", () => {
    expect(Object.fromEntries(Object.entries(IMAGE_TYPES).map(([type, { ext }]) => [type, ext]))).toEqual({
      "image/png": "png",
      "image/jpeg": "jpg",
      "image/webp": "webp",
    });
  });

  it.each([
    ["image/png", PNG],
    ["image/jpeg", JPEG],
    ["image/webp", WEBP],
  ])("recognises the signature of %s", (type, head) => {
    expect(IMAGE_TYPES[/** @type {keyof typeof IMAGE_TYPES} */ (type)].magic(bytes(head))).toBe(true);
  });

  it("refuses bytes of another type than the declared one", () => {
    expect(IMAGE_TYPES["image/png"].magic(bytes(JPEG))).toBe(false);
    expect(IMAGE_TYPES["image/jpeg"].magic(bytes(WEBP))).toBe(false);
    expect(IMAGE_TYPES["image/webp"].magic(bytes(PNG))).toBe(false);
  });

  it("refuses a RIFF file that is not WebP (a WAV)", () => {
    const wav = [0x52, 0x49, 0x46, 0x46, 0x24, 0, 0, 0, 0x57, 0x41, 0x56, 0x45];
    expect(IMAGE_TYPES["image/webp"].magic(bytes(wav))).toBe(false);
  });

  it("refuses a result shorter than the signature", () => {
    expect(IMAGE_TYPES["image/png"].magic(bytes(PNG.slice(0, 7)))).toBe(false);
    expect(IMAGE_TYPES["image/webp"].magic(bytes(WEBP.slice(0, 11)))).toBe(false);
    expect(IMAGE_TYPES["image/jpeg"].magic(bytes([]))).toBe(false);
  });
});
