// @ts-check
/** Admin routes: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time; no token set = no access. */

import { ERROR } from "./contract.js";
import { HttpError } from "./http.js";

const encoder = new TextEncoder();

/** @param {Request} request @param {import("./config.js").Config} cfg */
export async function requireAdmin(request, cfg) {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.get("authorization") || "");
  if (!cfg.adminToken || !match || !(await sameSecret(match[1], cfg.adminToken))) {
    throw new HttpError(ERROR.UNAUTHORIZED, "this route needs Authorization: Bearer <admin token>", {
      headers: { "WWW-Authenticate": 'Bearer realm="admin"' },
    });
  }
}

/** Digests first, so the comparison takes the same time whatever the lengths. @param {string} a @param {string} b */
async function sameSecret(a, b) {
  const [da, db] = await Promise.all([a, b].map((s) => crypto.subtle.digest("SHA-256", encoder.encode(s))));
  return crypto.subtle.timingSafeEqual(da, db);
}
