// @ts-check
/**
 * Every body a Worker reads goes through a byte cap that stops reading at the limit, whatever its framing
 * (`Content-Length`, chunked, or none): a client's request and the provider's answers are never held beyond it.
 */

/**
 * The bytes of a request's or response's body, or null when it is longer than `limit`: refused on a declared
 * `Content-Length` without reading, else as soon as the count passes the limit (the rest is never read; the
 * stream is cancelled).
 * @param {Request | Response} message @param {number} limit
 * @returns {Promise<Uint8Array | null>}
 */
export async function readCapped(message, limit) {
  const declared = message.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
    await message.body?.cancel().catch(() => {});
    return null;
  }
  if (message.body === null) return new Uint8Array(0);
  const reader = message.body.getReader();
  /** @type {Uint8Array[]} */
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}
