// @ts-check
/** The public JSON shapes of a run and its events (docs/api.md), built from D1 rows. */

import { mediaUrl } from "./signing.js";

/**
 * @param {import("./config.js").Config} cfg @param {import("./runs.js").RunRow} row
 * @param {import("./runs.js").AssetRow[]} assets
 */
export async function presentRun(cfg, row, assets) {
  return {
    id: row.id,
    status: row.status,
    request_id: row.request_id,
    provider: {
      name: row.provider,
      model: row.model,
      request_id: row.provider_request_id,
      task_id: row.provider_task_id,
    },
    prompt: row.prompt,
    parameters: JSON.parse(row.parameters),
    attempts: row.attempts,
    created_at: row.created_at,
    updated_at: row.updated_at,
    completed_at: row.completed_at,
    images: await Promise.all(
      assets.map(async (a) => ({
        url: await mediaUrl(cfg, a.r2_key),
        key: a.r2_key,
        content_type: a.content_type,
        bytes: a.bytes,
        sha256: a.sha256,
      })),
    ),
    error: row.error_code ? { code: row.error_code, message: row.error_message } : null,
  };
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
