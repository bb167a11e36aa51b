// @ts-check
/**
 * `GET|HEAD /api/media/<key>`: stored images with validators and immutable caching, single byte ranges
 * (206/416), conditional requests (304), and in `signed` delivery mode an `exp` + `sig` check (403).
 */

import { ERROR, MEDIA_KEY_PREFIX } from "./contract.js";
import { HttpError, notFound } from "./http.js";
import { IMMUTABLE } from "./persist.js";
import { signatureProblem } from "./signing.js";

/** What may follow the key prefix: plain path characters; `.` and `..` segments are refused below. */
const KEY_REST = /^[A-Za-z0-9._/-]{1,512}$/;
const YEAR_SECONDS = 31536000;

/**
 * @param {Request} request @param {import("./config.js").Env} env @param {import("./config.js").Config} cfg
 * @param {string} key  already percent-decoded
 */
export async function serveMedia(request, env, cfg, key) {
  const rest = key.startsWith(MEDIA_KEY_PREFIX) ? key.slice(MEDIA_KEY_PREFIX.length) : "";
  if (!KEY_REST.test(rest) || key.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw notFound("media object");
  }
  let cacheControl = IMMUTABLE;
  if (cfg.mediaDelivery === "signed") {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const query = new URL(request.url).searchParams;
    const problem = await signatureProblem(cfg.signingKey, key, query, nowSeconds);
    if (problem) throw new HttpError(ERROR.FORBIDDEN, problem);
    // A signed URL must not outlive its expiry in any cache, and shared caches should not keep it at all.
    const left = Math.min(Number(query.get("exp")) - nowSeconds, YEAR_SECONDS);
    cacheControl = `private, max-age=${left}, immutable`;
  }
  const head = await env.MEDIA.head(key);
  if (!head) throw missing(cfg, key);
  const headers = new Headers({
    "Content-Type": head.httpMetadata?.contentType || "application/octet-stream",
    ETag: head.httpEtag,
    "Cache-Control": cacheControl,
    "Accept-Ranges": "bytes",
    "X-Content-Type-Options": "nosniff",
    "Last-Modified": head.uploaded.toUTCString(),
  });
  if (matchesEtag(request.headers.get("if-none-match"), head.httpEtag)) {
    headers.delete("Content-Type");
    return new Response(null, { status: 304, headers });
  }
  const ifRange = request.headers.get("if-range");
  const rangeHeader = ifRange === null || ifRange === head.httpEtag ? request.headers.get("range") : null;
  const range = parseRange(rangeHeader, head.size);
  if (range === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${head.size}`);
    return new Response(null, { status: 416, headers });
  }
  const isHead = request.method === "HEAD";
  const object = isHead ? null : await env.MEDIA.get(key, range ? { range } : {});
  if (!isHead && !object) throw notFound("media object");
  const body = object && "body" in object ? object.body : null;
  if (range) {
    headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
    headers.set("Content-Length", String(range.length));
    return new Response(body, { status: 206, headers });
  }
  headers.set("Content-Length", String(head.size));
  return new Response(body, { status: 200, headers });
}

/**
 * A key that is not in the bucket: `410 media_expired` when its run's day is past the lifecycle's expiry (the
 * object was deleted on purpose), else 404.
 * @param {import("./config.js").Config} cfg @param {string} key
 */
function missing(cfg, key) {
  const day = key.startsWith(MEDIA_KEY_PREFIX) ? /^(\d{4})\/(\d{2})\/(\d{2})\//.exec(key.slice(MEDIA_KEY_PREFIX.length)) : null;
  const days = cfg.mediaExpireDays;
  if (day && days !== null && Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])) + days * 86400000 <= Date.now()) {
    return new HttpError(ERROR.MEDIA_EXPIRED,
      `the image expired: the bucket's lifecycle deletes generated images ${days} days after they are stored`);
  }
  return notFound("media object");
}

/**
 * `If-None-Match` against a strong ETag (weak comparison, as RFC 9110 asks for this header).
 * @param {string | null} header @param {string} etag
 */
function matchesEtag(header, etag) {
  if (!header) return false;
  if (header.trim() === "*") return true;
  const bare = (/** @type {string} */ tag) => tag.trim().replace(/^W\//, "");
  return header.split(",").some((tag) => bare(tag) === bare(etag));
}

/**
 * One `bytes=` range; multiple ranges or a malformed header are ignored (the whole object is sent).
 * @param {string | null} header @param {number} size
 * @returns {{offset: number, length: number} | "unsatisfiable" | null}
 */
export function parseRange(header, size) {
  const match = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null;
  const [, first, last] = match;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const offset = Number(first);
  if (offset >= size) return "unsatisfiable";
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (end < offset) return null;
  return { offset, length: end - offset + 1 };
}
