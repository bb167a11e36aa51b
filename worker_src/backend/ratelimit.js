// @ts-check
/**
 * The limit on paid work: every `POST /api/generate` asks the stack's Workers Rate Limiting binding
 * (`GENERATE_RATE_LIMIT`, `generate_rate_limit` of the stack file) before its body is read, keyed by the
 * client's address. That address is the one the frontend read from the edge (`CF-Connecting-IP`) and set as
 * `X-Client-Address`, dropping whatever a client sent under that name; a request that did not come through the
 * frontend (url mode, where the backend is public) is keyed by its own `CF-Connecting-IP`, or by whatever it put
 * in `X-Client-Address` (docs/api.md "Limits"). An IPv6 client holds a whole /64, so it is keyed by that prefix.
 */

import { ERROR, HEADERS } from "./contract.js";
import { HttpError, invalid } from "./http.js";

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEXTET = /^[0-9a-f]{1,4}$/;

/**
 * Refuse the request (429 `rate_limited`, `Retry-After`: the limit's period) when its client is over the limit;
 * nothing has been read, written or called by then.
 * @param {Request} request @param {import("./config.js").Env} env @param {import("./config.js").Config} cfg
 */
export async function limitGenerate(request, env, cfg) {
  const { success } = await env.GENERATE_RATE_LIMIT.limit({ key: clientKeyOf(request) });
  if (success) return;
  const period = cfg.generateRatePeriodSeconds;
  throw new HttpError(ERROR.RATE_LIMITED, `too many generations from this client address; try again in ${period} s`, {
    headers: { "Retry-After": String(period) },
  });
}

/** @param {Request} request */
function clientKeyOf(request) {
  const address = request.headers.get(HEADERS.clientAddress) ?? request.headers.get("cf-connecting-ip");
  if (address === null) {
    throw new HttpError(ERROR.INTERNAL_ERROR, `the request carries no client address (${HEADERS.clientAddress} ` +
      "from the frontend, or CF-Connecting-IP from the edge)");
  }
  const key = rateLimitKey(address);
  if (key === null) throw invalid(HEADERS.clientAddress, "must be an IPv4 or IPv6 address");
  return key;
}

/**
 * The counter's key of a client address: an IPv4 address as it is, an IPv6 address as its /64
 * (`2001:db8:0:1::/64`; an IPv4-mapped one as its IPv4 address); null for anything else.
 * @param {string} address
 * @returns {string | null}
 */
export function rateLimitKey(address) {
  if (IPV4.test(address)) return address;
  const text = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (mapped) return IPV4.test(mapped[1]) ? mapped[1] : null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = halves.map((half) => (half === "" ? [] : half.split(":")));
  const missing = 8 - groups.flat().length;
  const full = halves.length === 2 ? [...groups[0], ...Array(missing).fill("0"), ...groups[1]] : groups[0];
  if (full.length !== 8 || (halves.length === 2 && missing < 1) || !full.every((g) => HEXTET.test(g))) return null;
  return `${full.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
