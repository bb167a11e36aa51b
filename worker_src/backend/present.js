// @ts-check
/**
 * The public JSON shapes of a run and its events (docs/api.md), built from D1 rows, in the view its reader is
 * entitled to (access.js decides which): anonymous readers get the status and the error code, the run's creator
 * also its images (URLs minted now), the admin everything. An image past the bucket's lifecycle expiry is shown
 * as such (`expired: true`, `url: null`) rather than as a URL that would answer 404.
 */

import { mediaUrl } from "./signing.js";

const DAY_MS = 86400000;

/** Who reads a run. @typedef {"anonymous" | "creator" | "admin"} View */
export const VIEW = Object.freeze({
  ANONYMOUS: /** @type {View} */ ("anonymous"),
  CREATOR: /** @type {View} */ ("creator"),
  ADMIN: /** @type {View} */ ("admin"),
});

/**
 * @param {import("./config.js").Config} cfg @param {import("./runs.js").RunRow} row
 * @param {import("./runs.js").AssetRow[]} assets  not read for an anonymous view
 * @param {View} view @param {number} [nowMs]
 */
export async function presentRun(cfg, row, assets, view, nowMs = Date.now()) {
  const error = row.error_code ? { code: row.error_code, message: row.error_message } : null;
  if (view === VIEW.ANONYMOUS) return { id: row.id, status: row.status, error: error && { code: error.code } };
  const images = await Promise.all(
    assets.map(async (a) => {
      const expiresAt = imageExpiry(cfg, a.created_at);
      const expired = expiresAt !== null && Date.parse(expiresAt) <= nowMs;
      return {
        url: expired ? null : await mediaUrl(cfg, a.r2_key),
        key: a.r2_key,
        content_type: a.content_type,
        bytes: a.bytes,
        sha256: a.sha256,
        expires_at: expiresAt,
        expired,
      };
    }),
  );
  const times = { created_at: row.created_at, updated_at: row.updated_at, completed_at: row.completed_at };
  if (view === VIEW.CREATOR) return { id: row.id, status: row.status, ...times, images, error };
  return {
    id: row.id,
    status: row.status,
    request_id: row.request_id,
    client_request_id: row.client_request_id,
    provider: {
      name: row.provider,
      model: row.model,
      request_id: row.provider_request_id,
      task_id: row.provider_task_id,
    },
    prompt: row.prompt,
    parameters: JSON.parse(row.parameters),
    attempts: row.attempts,
    ...times,
    images,
    error,
  };
}

/**
 * When the lifecycle deletes an image stored at `storedAt` (R2 counts from the upload; the asset row is written
 * right after it), or null when images never expire.
 * @param {import("./config.js").Config} cfg @param {string} storedAt
 */
export function imageExpiry(cfg, storedAt) {
  return cfg.mediaExpireDays === null ? null : new Date(Date.parse(storedAt) + cfg.mediaExpireDays * DAY_MS).toISOString();
}

/** @param {import("./runs.js").EventRow} row */
export function presentEvent(row) {
  return {
    at: row.at,
    type: row.type,
    from: row.from_status,
    to: row.to_status,
    detail: row.detail ? JSON.parse(row.detail) : null,
  };
}
