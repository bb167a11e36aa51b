// @ts-check
/**
 * Opening a provider result URL safely: only `https` (or `http` where the stack allows it) on the stack's
 * allowed result hosts, redirects followed by hand and only to allowed hosts (an off-list target is never
 * requested), an image content type, a declared size within the limit. The body is left unread for
 * persist.js to stream.
 */

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 3;

/** Image types the bucket accepts, with the key extension and a check of the first bytes. */
export const IMAGE_TYPES = Object.freeze({
  "image/png": { ext: "png", magic: /** @param {Uint8Array} b */ (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  "image/jpeg": { ext: "jpg", magic: /** @param {Uint8Array} b */ (b) => startsWith(b, [0xff, 0xd8, 0xff]) },
  "image/webp": {
    ext: "webp",
    magic: /** @param {Uint8Array} b */ (b) => startsWith(b, [0x52, 0x49, 0x46, 0x46]) && startsWith(b.subarray(8), [0x57, 0x45, 0x42, 0x50]),
  },
});

/** A provider result that could not be stored; `code` is recorded on the failed run. */
export class ResultError extends Error {
  /** @param {string} code @param {string} message @param {{timeout?: boolean}} [options] */
  constructor(code, message, options = {}) {
    super(message);
    this.code = code;
    this.timeout = options.timeout ?? false;
  }
}

/**
 * @param {import("./config.js").Config} cfg @param {string} raw
 * @returns {URL} the URL, when it may be requested at all
 */
export function checkResultUrl(cfg, raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new ResultError("result_url_invalid", "the provider returned a result URL that is not a URL");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && cfg.allowHttpResults)) {
    throw new ResultError("result_url_not_https", `result URLs must use https, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.username || url.password) {
    throw new ResultError("result_url_invalid", "result URLs must not carry credentials");
  }
  if (!hostAllowed(cfg.allowedResultHosts, url)) {
    throw new ResultError("result_host_not_allowed", `result host '${url.host}' is not an allowed result host`);
  }
  return url;
}

/**
 * Exact `host[:port]` (no port = the scheme's default port) or `*.suffix[:port]` (any subdomain).
 * @param {string[]} patterns @param {URL} url
 */
export function hostAllowed(patterns, url) {
  const host = url.hostname.toLowerCase();
  const port = url.port;
  return patterns.some((pattern) => {
    const [, name, patternPort = ""] = /^(.*?)(?::(\d+))?$/.exec(pattern) ?? [];
    if (patternPort !== port) return false;
    if (name.startsWith("*.")) {
      const suffix = name.slice(1);
      return host.endsWith(suffix) && host.length > suffix.length;
    }
    return host === name;
  });
}

/**
 * @typedef {object} OpenedResult
 * @property {Response} response      2xx, body unread
 * @property {URL} url                where the bytes come from (after redirects)
 * @property {keyof typeof IMAGE_TYPES} contentType
 * @property {number | null} length   declared length, null when unknown (chunked or content-encoded)
 */

/**
 * @param {import("./config.js").Config} cfg @param {string} raw @param {AbortSignal} signal
 * @returns {Promise<OpenedResult>}
 */
export async function openResult(cfg, raw, signal) {
  let url = checkResultUrl(cfg, raw);
  for (let hop = 0; ; hop++) {
    // No credentials and no cookies: the presigned URL is its own authorization.
    let response;
    try {
      response = await fetch(url.href, { redirect: "manual", signal, headers: { Accept: "image/*" } });
    } catch (err) {
      if (signal.aborted) throw err; // the caller reports the timeout
      const why = err instanceof Error ? err.message : String(err);
      throw new ResultError("result_unreachable", `the result URL could not be reached (no response): ${why}`);
    }
    if (!REDIRECTS.has(response.status)) return checkResponse(cfg, response, url);
    await response.body?.cancel();
    const location = response.headers.get("location");
    if (!location) throw new ResultError("result_http_error", `the result URL redirected (HTTP ${response.status}) nowhere`);
    if (hop >= MAX_REDIRECTS) throw new ResultError("result_too_many_redirects", `more than ${MAX_REDIRECTS} redirects`);
    url = checkResultUrl(cfg, new URL(location, url).href);
  }
}

/** @param {import("./config.js").Config} cfg @param {Response} response @param {URL} url @returns {Promise<OpenedResult>} */
async function checkResponse(cfg, response, url) {
  const fail = async (/** @type {string} */ code, /** @type {string} */ message) => {
    await response.body?.cancel();
    return new ResultError(code, message);
  };
  if (!response.ok) throw await fail("result_http_error", `the result URL answered HTTP ${response.status}`);
  const type = (response.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
  if (!(type in IMAGE_TYPES)) {
    throw await fail("result_bad_content_type", `the result is '${type || "(none)"}', not an image type this service stores`);
  }
  const encoding = (response.headers.get("content-encoding") || "identity").toLowerCase();
  const declared = response.headers.get("content-length");
  const length = encoding === "identity" && declared !== null && /^\d+$/.test(declared) ? Number(declared) : null;
  if (length !== null && length > cfg.maxImageBytes) {
    throw await fail("result_too_large", `the result is ${length} bytes; the limit is ${cfg.maxImageBytes}`);
  }
  if (length === 0 || !response.body) throw await fail("result_empty", "the result is empty");
  return { response, url, contentType: /** @type {keyof typeof IMAGE_TYPES} */ (type), length };
}

/** @param {Uint8Array} bytes @param {number[]} prefix */
function startsWith(bytes, prefix) {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}
