// @ts-check
/**
 * The unit tier (`make unit`): the Workers' pure modules tested inside workerd itself, through
 * @cloudflare/vitest-pool-workers, under the compatibility date the Workers are deployed with. Behaviour across
 * the system (R2, D1, Queues, the provider over HTTP) is the end-to-end tier's (tests/e2e/, pytest).
 * The lines `exception = workerd/api/web-socket.c++:…: disconnected: WebSocket peer disconnected` between test files
 * are workerd's benign teardown noise; later pool releases filter them, but those pin a wrangler that needs Node 22.
 */

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [cloudflareTest({ miniflare: { compatibilityDate: compatibilityDate() } })],
  test: {
    include: ["tests/unit/**/*.test.js"],
  },
});

/** The date declared once in infra/model/contract.py, asked of the project's own Python. */
function compatibilityDate() {
  const code = "from infra.model.contract import COMPATIBILITY_DATE; print(COMPATIBILITY_DATE)";
  try {
    const root = fileURLToPath(new URL(".", import.meta.url));
    return execFileSync(".venv/bin/python", ["-c", code], { cwd: root, encoding: "utf8" }).trim();
  } catch (err) {
    throw new Error(`read compatibility date 'infra.model.contract' failed: ${err}; run make setup first`);
  }
}
