// @ts-check
import { describe, expect, it } from "vitest";

import { mediaUrl, sign, signatureProblem } from "../../../worker_src/backend/signing.js";

const SECRET = "test-signing-key";
const KEY = "generated/2026/05/01/abc/0.png";
const NOW = 1_700_000_000;
const EXP = 1_800_000_000;
/** base64url(HMAC-SHA256("test-signing-key", KEY + "\n" + EXP)), computed independently with Python's hmac. */
const SIG = "4SJKNjQzzCDm9WX5eQdepoHo8_x9TEttUB0SckwmLJk";

/** @param {Record<string, string>} params */
const query = (params) => new URLSearchParams(params);

/** @param {Partial<import("../../../worker_src/backend/config.js").Config>} overrides */
function config(overrides) {
  return /** @type {import("../../../worker_src/backend/config.js").Config} */ ({
    publicBaseUrl: "https://qwen.example.com",
    mediaDelivery: "worker",
    mediaBaseUrl: "",
    signedUrlTtlSeconds: 600,
    signingKey: SECRET,
    ...overrides,
  });
}

describe("sign: the documented HMAC", () => {
  it("is base64url(HMAC-SHA256(key, '<key>\\n<exp>')) without padding", async () => {
    expect(await sign(SECRET, KEY, EXP)).toBe(SIG);
  });

  it("covers the expiry: another exp gives another signature", async () => {
    expect(await sign(SECRET, KEY, EXP + 1)).toBe("vwGoMfBFauE-I_pbjfsKAyZ58Pv3qXHAI-DHnHsxPF4");
  });

  it("refuses to sign without a key, naming the binding", async () => {
    await expect(sign("", KEY, EXP)).rejects.toThrow("MEDIA_SIGNING_KEY is not set; signed media delivery needs it");
  });
});

describe("signatureProblem: why a signed request is refused", () => {
  it("accepts the signature of this key and expiry", async () => {
    expect(await signatureProblem(SECRET, KEY, query({ exp: String(EXP), sig: SIG }), NOW)).toBeNull();
  });

  it.each([
    ["no query at all", {}, "this URL needs exp and sig"],
    ["no sig", { exp: String(EXP) }, "this URL needs exp and sig"],
    ["no exp", { sig: SIG }, "this URL needs exp and sig"],
    ["exp not a number", { exp: "soon", sig: SIG }, "exp is not a Unix time"],
    ["exp with a fraction", { exp: `${EXP}.5`, sig: SIG }, "exp is not a Unix time"],
    ["exp of 13 digits", { exp: "1".repeat(13), sig: SIG }, "exp is not a Unix time"],
    ["sig not base64url", { exp: String(EXP), sig: "a+b/c=" }, "sig is not valid"],
    ["sig longer than 128 characters", { exp: String(EXP), sig: "A".repeat(129) }, "sig is not valid"],
    ["tampered sig", { exp: String(EXP), sig: `${SIG.slice(0, -2)}AA` }, "sig is not valid"],
    ["exp moved later", { exp: String(EXP + 3600), sig: SIG }, "sig is not valid"],
    ["exp with a leading zero (the same number, spelled otherwise)", { exp: `0${EXP}`, sig: SIG }, "exp is not a Unix time"],
    ["sig padded", { exp: String(EXP), sig: `${SIG}=` }, "sig is not valid"],
  ])("refuses %s", async (_case, params, problem) => {
    expect(await signatureProblem(SECRET, KEY, query(params), NOW)).toBe(problem);
  });

  it("refuses exp or sig given twice, even the same twice", async () => {
    for (const extra of [`&exp=${EXP}`, `&sig=${SIG}`]) {
      const params = new URLSearchParams(`exp=${EXP}&sig=${SIG}${extra}`);
      expect(await signatureProblem(SECRET, KEY, params, NOW)).toBe("this URL has exp or sig more than once");
    }
  });

  it("refuses another object's signature", async () => {
    const other = await sign(SECRET, `${KEY}x`, EXP);
    expect(await signatureProblem(SECRET, KEY, query({ exp: String(EXP), sig: other }), NOW)).toBe("sig is not valid");
  });

  it("refuses a signature made with another key", async () => {
    const forged = await sign("not-the-key", KEY, EXP);
    expect(await signatureProblem(SECRET, KEY, query({ exp: String(EXP), sig: forged }), NOW)).toBe("sig is not valid");
  });

  it("refuses a URL at and after its expiry second", async () => {
    const params = query({ exp: String(EXP), sig: SIG });
    expect(await signatureProblem(SECRET, KEY, params, EXP - 1)).toBeNull();
    expect(await signatureProblem(SECRET, KEY, params, EXP)).toBe("this URL has expired");
    expect(await signatureProblem(SECRET, KEY, params, EXP + 1)).toBe("this URL has expired");
  });
});

describe("mediaUrl: the stable URL of each delivery mode", () => {
  it("worker: the backend's media route under the public base URL, each path segment encoded", async () => {
    expect(await mediaUrl(config({}), "generated/a b/0.png")).toBe(
      "https://qwen.example.com/api/media/generated/a%20b/0.png",
    );
  });

  it("custom-domain: the bucket's own domain", async () => {
    const cfg = config({ mediaDelivery: "custom-domain", mediaBaseUrl: "https://media.example.com" });
    expect(await mediaUrl(cfg, KEY)).toBe(`https://media.example.com/${KEY}`);
  });

  it("signed: the media route with an expiry one TTL from now and its signature", async () => {
    const cfg = config({ mediaDelivery: "signed", signedUrlTtlSeconds: EXP - NOW });
    expect(await mediaUrl(cfg, KEY, NOW)).toBe(`https://qwen.example.com/api/media/${KEY}?exp=${EXP}&sig=${SIG}`);
  });
});
