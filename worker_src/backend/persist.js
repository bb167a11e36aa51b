// @ts-check
/**
 * Streaming provider results into R2. Bytes flow fetch body → meter (counts, enforces the size limit,
 * checks the image signature, hashes) → R2, never held whole in memory: with a declared length through a
 * `FixedLengthStream` into one `put`; without one (chunked), through a multipart upload whose parts are the
 * only buffer. All or nothing: on any failure every object written for the run is deleted (and an unfinished
 * multipart upload aborted) before the error is rethrown, so a failed run leaves nothing in the bucket.
 *
 * The meter reads the body itself, in pieces of `PIECE_BYTES` into one buffer it reuses: the network hands a
 * body over in chunks of a few KiB, and a JavaScript step per chunk (a `TransformStream`, a copy for the hash)
 * cost the backend about as much again as the bare put, and ~20 MiB of garbage per 32 MiB of image
 * (bench/REPORT.md). A piece is written on only after the previous one was taken: a `FixedLengthStream` write
 * settles once its reader has copied the bytes out, so reading into the same buffer again is safe.
 */

import { MEDIA_KEY_PREFIX } from "./contract.js";
import { IMAGE_TYPES, ResultError, openResult } from "./download.js";
import { hex } from "./encoding.js";

/** Stored objects never change (a new run gets new keys), so caches may keep them forever. */
export const IMMUTABLE = "public, max-age=31536000, immutable";
/** R2 multipart: every part but the last must be the same size, at least 5 MiB. */
const PART_BYTES = 5 * 1024 * 1024;
/** The meter's read size: `readAtLeast` gathers the network's small chunks into pieces of this size. */
const PIECE_BYTES = 64 * 1024;

/**
 * @typedef {object} StoredAsset
 * @property {number} idx
 * @property {string} r2_key
 * @property {string} sha256
 * @property {number} bytes
 * @property {string} content_type
 * @property {string} source_host
 */

/**
 * `<MEDIA_KEY_PREFIX><yyyy>/<mm>/<dd>/<run_id>/<index>.<ext>` (`generated/...`), dated by the run's creation (UTC).
 * @param {string} runId @param {string} createdAt ISO timestamp @param {number} index @param {string} ext
 */
export function assetKey(runId, createdAt, index, ext) {
  const [yyyy, mm, dd] = createdAt.slice(0, 10).split("-");
  return `${MEDIA_KEY_PREFIX}${yyyy}/${mm}/${dd}/${runId}/${index}.${ext}`;
}

/**
 * Store every result of a run, in order.
 * @param {R2Bucket} bucket @param {import("./config.js").Config} cfg
 * @param {{runId: string, createdAt: string, urls: string[]}} run
 * @param {import("./log.js").Invocation} log  where a failed clean-up is noted
 * @returns {Promise<StoredAsset[]>}
 */
export async function persistResults(bucket, cfg, run, log) {
  /** @type {StoredAsset[]} */
  const stored = [];
  try {
    for (const [idx, url] of run.urls.entries()) {
      stored.push(await persistOne(bucket, cfg, url, idx, (ext) => assetKey(run.runId, run.createdAt, idx, ext), log));
    }
    return stored;
  } catch (err) {
    await deleteObjects(bucket, stored.map((s) => s.r2_key), log);
    throw err;
  }
}

/**
 * Best effort: a failure to delete must not hide the error that made us delete; it is noted on the log line of
 * the invocation (the objects stay until the lifecycle rules expire them).
 * @param {R2Bucket} bucket @param {string[]} keys @param {import("./log.js").Invocation} log
 */
export async function deleteObjects(bucket, keys, log) {
  if (keys.length === 0) return;
  try {
    await bucket.delete(keys);
  } catch (err) {
    log.note({ error: `delete ${keys.length} objects failed: ${err}` });
  }
}

/**
 * @param {R2Bucket} bucket @param {import("./config.js").Config} cfg @param {string} url @param {number} idx
 * @param {(ext: string) => string} keyFor @param {import("./log.js").Invocation} log
 * @returns {Promise<StoredAsset>}
 */
async function persistOne(bucket, cfg, url, idx, keyFor, log) {
  const signal = AbortSignal.timeout(cfg.downloadTimeoutMs);
  /** @type {string | null} */
  let key = null;
  /** @type {ReturnType<typeof meter> | null} */
  let counted = null;
  try {
    const opened = await openResult(cfg, url, signal);
    const type = IMAGE_TYPES[opened.contentType];
    key = keyFor(type.ext);
    counted = meter(cfg.maxImageBytes, type.magic);
    const body = /** @type {ReadableStream<Uint8Array>} */ (opened.response.body);
    const options = { httpMetadata: { contentType: opened.contentType, cacheControl: IMMUTABLE } };
    if (opened.length !== null) {
      await putKnownLength(bucket, key, counted.pump(body), opened.length, options);
    } else {
      await putUnknownLength(bucket, key, counted.pump(body), options);
    }
    const { bytes, sha256 } = await counted.result();
    return { idx, r2_key: key, sha256, bytes, content_type: opened.contentType, source_host: opened.url.host };
  } catch (err) {
    if (key) await deleteObjects(bucket, [key], log);
    throw classify(err, signal, cfg, counted?.bytes() ?? 0);
  }
}

/**
 * @param {unknown} err @param {AbortSignal} signal @param {import("./config.js").Config} cfg @param {number} got
 * @returns {ResultError}
 */
function classify(err, signal, cfg, got) {
  if (err instanceof ResultError) return err;
  if (signal.aborted) {
    return new ResultError("download_timeout", `the result download took longer than ${cfg.downloadTimeoutMs} ms`, {
      timeout: true,
    });
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new ResultError("result_truncated", `the result download ended early after ${got} bytes: ${detail}`);
}

/**
 * The body's pieces as the meter hands them out: each one's bytes must have been taken (copied or written on)
 * before the next is asked for, because it is read into the same buffer.
 * @typedef {AsyncGenerator<Uint8Array, void, undefined>} Pieces
 */

/**
 * @param {R2Bucket} bucket @param {string} key @param {Pieces} pieces @param {number} length
 * @param {R2PutOptions} options
 */
async function putKnownLength(bucket, key, pieces, length, options) {
  // FixedLengthStream gives R2 the length up front and errors if the body is shorter or longer.
  const { readable, writable } = new FixedLengthStream(length);
  const writer = writable.getWriter();
  const pump = async () => {
    try {
      for await (const piece of pieces) await writer.write(piece);
      await writer.close();
    } catch (err) {
      await writer.abort(err).catch(() => {});
      throw err;
    }
  };
  const [pumped, put] = await Promise.allSettled([pump(), bucket.put(key, readable, options)]);
  if (pumped.status === "rejected") throw pumped.reason;
  if (put.status === "rejected") throw new ResultError("storage_failed", `storing the result failed: ${put.reason}`);
}

/**
 * @param {R2Bucket} bucket @param {string} key @param {Pieces} pieces @param {R2MultipartOptions} options
 */
async function putUnknownLength(bucket, key, pieces, options) {
  const pending = new Chunks();
  /** @type {R2MultipartUpload | null} */
  let upload = null;
  /** @type {R2UploadedPart[]} */
  const parts = [];
  try {
    for await (const piece of pieces) {
      pending.push(piece.slice()); // the meter reads into this buffer again
      while (pending.size >= PART_BYTES) {
        upload ??= await bucket.createMultipartUpload(key, options);
        parts.push(await upload.uploadPart(parts.length + 1, pending.take(PART_BYTES)));
      }
    }
    const rest = pending.take(pending.size);
    if (upload === null) {
      await bucket.put(key, rest, options);
      return;
    }
    if (rest.byteLength > 0) parts.push(await upload.uploadPart(parts.length + 1, rest));
    await upload.complete(parts);
  } catch (err) {
    if (upload !== null) await upload.abort().catch(() => {});
    throw err;
  }
}

/** A byte queue that hands out exact-size pieces (the multipart part buffer). */
class Chunks {
  constructor() {
    /** @type {Uint8Array[]} */
    this.chunks = [];
    this.size = 0;
  }

  /** @param {Uint8Array} chunk */
  push(chunk) {
    this.chunks.push(chunk);
    this.size += chunk.byteLength;
  }

  /** @param {number} n */
  take(n) {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0];
      const used = Math.min(head.byteLength, n - filled);
      out.set(head.subarray(0, used), filled);
      filled += used;
      if (used === head.byteLength) this.chunks.shift();
      else this.chunks[0] = head.subarray(used);
    }
    this.size -= n;
    return out;
  }
}

/**
 * Counts bytes (failing past `limit`), checks the first bytes against the declared image type and feeds a
 * SHA-256 digest, over a body it reads in pieces (`pump`).
 * @param {number} limit @param {(head: Uint8Array) => boolean} magic
 */
function meter(limit, magic) {
  const digest = new crypto.DigestStream("SHA-256");
  const hash = digest.getWriter();
  let bytes = 0;
  let head = new Uint8Array(0);
  const SNIFF = 12;
  const checkHead = () => {
    if (!magic(head)) throw new ResultError("result_bad_content_type", "the result's bytes are not the image type it claims");
  };
  /** @param {Uint8Array} piece */
  const count = async (piece) => {
    bytes += piece.byteLength;
    if (bytes > limit) throw new ResultError("result_too_large", `the result exceeds the limit of ${limit} bytes`);
    if (head.byteLength < SNIFF) {
      const joined = new Uint8Array(Math.min(SNIFF, head.byteLength + piece.byteLength));
      joined.set(head);
      joined.set(piece.subarray(0, joined.byteLength - head.byteLength), head.byteLength);
      head = joined;
      if (head.byteLength >= SNIFF) checkHead();
    }
    await hash.write(piece); // DigestStream hashes the bytes before the write settles
  };
  return {
    /**
     * The body's pieces, each counted, checked and hashed before it is handed out; a body that ends before
     * the image signature could be read is refused too.
     * @param {ReadableStream<Uint8Array>} body @returns {Pieces}
     */
    async *pump(body) {
      const reader = body.getReader({ mode: "byob" });
      let view = new Uint8Array(PIECE_BYTES);
      let finished = false;
      try {
        for (;;) {
          const { done, value } = await reader.readAtLeast(PIECE_BYTES, view);
          if (value && value.byteLength > 0) {
            await count(value);
            yield value;
          }
          if (done || !value) break;
          view = new Uint8Array(value.buffer);
        }
        finished = true;
      } finally {
        // A consumer that stopped early (a failed write, a refused piece) leaves the rest of the body unread.
        if (!finished) await reader.cancel().catch(() => {});
      }
      if (head.byteLength < SNIFF) checkHead();
      await hash.close();
    },
    bytes: () => bytes,
    /** @returns {Promise<{bytes: number, sha256: string}>} */
    result: async () => ({ bytes, sha256: hex(await digest.digest) }),
  };
}
