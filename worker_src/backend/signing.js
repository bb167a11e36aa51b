// @ts-check
/**
 * Stable media URLs for each delivery mode, and the HMAC that protects them in `signed` mode:
 * `sig = base64url(HMAC-SHA256(MEDIA_SIGNING_KEY, "<key>\n<exp>"))`, `exp` in Unix seconds.
 */

import { fromBase64url, toBase64url } from "./encoding.js";

const encoder = new TextEncoder();

/**
 * The URL a client fetches an object from; absolute, built from the stack's public base URL.
 * @param {import("./config.js").Config} cfg @param {string} key @param {number} [nowSeconds]
 * @returns {Promise<string>}
 */
export async function mediaUrl(cfg, key, nowSeconds = Math.floor(Date.now() / 1000)) {
  const path = key.split("/").map(encodeURIComponent).join("/");
  if (cfg.mediaDelivery === "custom-domain") return `${cfg.mediaBaseUrl}/${path}`;
  const url = `${cfg.publicBaseUrl}/api/media/${path}`;
  if (cfg.mediaDelivery !== "signed") return url;
  const exp = nowSeconds + cfg.signedUrlTtlSeconds;
  return `${url}?exp=${exp}&sig=${await sign(cfg.signingKey, key, exp)}`;
}

/**
 * @param {string} secret @param {string} key @param {number} exp
 * @returns {Promise<string>} base64url signature
 */
export async function sign(secret, key, exp) {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`${key}\n${exp}`));
  return toBase64url(new Uint8Array(mac));
}

/**
 * Why a signed request is refused, or null when it is valid. Comparison is constant-time (`verify`).
 * @param {string} secret @param {string} key @param {URLSearchParams} query @param {number} nowSeconds
 * @returns {Promise<string | null>}
 */
export async function signatureProblem(secret, key, query, nowSeconds) {
  const expText = query.get("exp");
  const sig = query.get("sig");
  if (!expText || !sig) return "this URL needs exp and sig";
  if (!/^\d{1,12}$/.test(expText)) return "exp is not a Unix time";
  const exp = Number(expText);
  if (exp <= nowSeconds) return "this URL has expired";
  const mac = sig.length <= 128 ? fromBase64url(sig) : null;
  if (!mac) return "sig is not valid";
  const ok = await crypto.subtle.verify("HMAC", await hmacKey(secret), mac, encoder.encode(`${key}\n${exp}`));
  return ok ? null : "sig is not valid";
}

/** @param {string} secret */
async function hmacKey(secret) {
  if (!secret) throw new Error("MEDIA_SIGNING_KEY is not set; signed media delivery needs it");
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}
