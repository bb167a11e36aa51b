// @ts-check
/**
 * Who may read what of a run (docs/api.md "Who may read a run"). Anyone who knows a run's id (media keys
 * contain it) sees its status and error code; its creator also its images, with the run's read token in
 * `X-Run-Token`; the admin token everything. The read token is `base64url(HMAC-SHA256(RUN_TOKEN_KEY,
 * "run-read-token\n<run id>"))`: derived, never stored or logged, so an idempotent replay can hand the key's
 * holder the same token again (the first answer may have been lost) and D1 holds nothing that opens a run.
 */

import { requireAdmin } from "./auth.js";
import { ERROR, HEADERS } from "./contract.js";
import { HttpError } from "./http.js";
import { VIEW } from "./present.js";
import { macMatches, macOf } from "./signing.js";

/** @param {string} runId */
const tokenMessage = (runId) => `run-read-token\n${runId}`;

/** @param {import("./config.js").Config} cfg @returns {import("./signing.js").MacKey} */
const tokenKey = (cfg) => ({ secret: cfg.runTokenKey, binding: "RUN_TOKEN_KEY", purpose: "run read tokens" });

/** The read token of run `runId`. @param {import("./config.js").Config} cfg @param {string} runId */
export function readToken(cfg, runId) {
  return macOf(tokenKey(cfg), tokenMessage(runId));
}

/**
 * How a request may see run `runId` (null: the run this generate request creates or replays, whose sender is its
 * creator): admin with the admin token, creator with the run's read token, else anonymous. A credential that is
 * sent must be right: a wrong admin token is a 401, a wrong read token a 403, never quietly a smaller view.
 * @param {Request} request @param {import("./config.js").Config} cfg @param {string | null} runId
 * @returns {Promise<import("./present.js").View>}
 */
export async function viewOf(request, cfg, runId) {
  if (request.headers.has("authorization")) {
    await requireAdmin(request, cfg);
    return VIEW.ADMIN;
  }
  if (runId === null) return VIEW.CREATOR;
  const token = request.headers.get(HEADERS.runToken);
  if (token === null) return VIEW.ANONYMOUS;
  if (!(await macMatches(tokenKey(cfg), tokenMessage(runId), token))) {
    throw new HttpError(ERROR.FORBIDDEN, `${HEADERS.runToken} is not this run's read token`);
  }
  return VIEW.CREATOR;
}
