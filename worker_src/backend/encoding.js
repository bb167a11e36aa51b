// @ts-check
/** Byte encodings shared by signatures, cursors and digests. */

/** @param {Uint8Array} bytes */
export function toBase64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The bytes of canonical unpadded base64url, the only spelling `toBase64url` writes: null for anything else,
 * including a last character with tail bits set (`AB` and `AA` would both decode to one zero byte), so a
 * signature, token or cursor has exactly one accepted spelling.
 * @param {string} text @returns {Uint8Array | null}
 */
export function fromBase64url(text) {
  if (!/^[A-Za-z0-9_-]+$/.test(text) || text.length % 4 === 1) return null;
  let bytes;
  try {
    bytes = Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
  return toBase64url(bytes) === text ? bytes : null;
}

/** @param {ArrayBuffer} buffer */
export function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
