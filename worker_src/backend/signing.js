// @ts-check
/**
 * Stable media URLs for each delivery mode, and the HMAC that protects them in `signed` mode:
 * `sig = base64url(HMAC-SHA256(MEDIA_SIGNING_KEY, "<key>\n<exp>"))`, `exp` in Unix seconds. The same MAC, with
 * its own key, makes run read tokens (access.js).
 */

import { fromBase64url, toBase64url } from "./encoding.js";

const encoder = new TextEncoder();
/** An HMAC-SHA256 (32 bytes) in unpadded base64url. */
const MAC_CHARS = 43;

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
  return macOf({ secret, ...MEDIA_KEY }, `${key}\n${exp}`);
}

/**
 * Why a signed request is refused, or null when it is valid. Each of `exp` and `sig` has one accepted spelling:
 * once in the query, `exp` a Unix time without leading zeros, `sig` as `macMatches` accepts it.
 * @param {string} secret @param {string} key @param {URLSearchParams} query @param {number} nowSeconds
 * @returns {Promise<string | null>}
 */
export async function signatureProblem(secret, key, query, nowSeconds) {
  const [expText, ...moreExp] = query.getAll("exp");
  const [sig, ...moreSig] = query.getAll("sig");
  if (!expText || !sig) return "this URL needs exp and sig";
  if (moreExp.length > 0 || moreSig.length > 0) return "this URL has exp or sig more than once";
  if (!/^[1-9]\d{0,11}$/.test(expText)) return "exp is not a Unix time";
  const exp = Number(expText);
  if (exp <= nowSeconds) return "this URL has expired";
  return (await macMatches({ secret, ...MEDIA_KEY }, `${key}\n${exp}`, sig)) ? null : "sig is not valid";
}

/**
 * An HMAC key: its value, the binding it comes from and what needs it (named when the value is empty).
 * @typedef {{secret: string, binding: string, purpose: string}} MacKey
 */
const MEDIA_KEY = Object.freeze({ binding: "MEDIA_SIGNING_KEY", purpose: "signed media delivery" });

/**
 * `base64url(HMAC-SHA256(key, message))`, unpadded: media signatures and run read tokens.
 * @param {MacKey} key @param {string} message
 */
export async function macOf(key, message) {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(key), encoder.encode(message));
  return toBase64url(new Uint8Array(mac));
}

/**
 * Whether `text` is the MAC of `message`, in its one spelling: canonical unpadded base64url of 32 bytes
 * (encoding.js refuses set tail bits). Compared in constant time (`verify`).
 * @param {MacKey} key @param {string} message @param {string} text
 */
export async function macMatches(key, message, text) {
  const mac = text.length === MAC_CHARS ? fromBase64url(text) : null;
  return mac !== null && crypto.subtle.verify("HMAC", await hmacKey(key), mac, encoder.encode(message));
}

/** @param {MacKey} key */
async function hmacKey({ secret, binding, purpose }) {
  if (!secret) throw new Error(`${binding} is not set; ${purpose} needs it`);
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}
