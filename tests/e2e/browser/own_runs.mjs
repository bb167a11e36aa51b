// @ts-check
/**
 * Drives the page at `/` in headless Chromium as a user would on a sync or an async stack: generate an image,
 * follow the run until it is done, see it, reload, and find it among this browser's runs. Prints one JSON object
 * with what the page showed, kept (localStorage) and sent (the run token of every request);
 * tests/e2e/test_page.py asserts on it.
 *
 * Usage: node own_runs.mjs <frontend url> <prompt> [chromium path]
 */

import { openPage } from "./session.mjs";

const [url, prompt, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const TIMEOUT_MS = 60000;

const { browser, page, seen } = await openPage(executablePath, new URL(url).origin, { width: 1000, height: 900 });
try {
  /** @type {{method: string, url: string, runToken: string | null}[]} */
  const requests = [];
  page.on("request", (request) => {
    requests.push({ method: request.method(), url: request.url(), runToken: request.headers()["x-run-token"] ?? null });
  });
  await page.goto(url);
  await page.fill("#prompt", prompt);
  await page.click("#submit");
  await page.waitForFunction(() => {
    const status = document.getElementById("status");
    return status?.textContent === "Done." || status?.className === "error";
  }, null, { timeout: TIMEOUT_MS });
  const status = await page.textContent("#status");
  await page.waitForFunction(() => /** @type {HTMLImageElement} */ (document.getElementById("image")).naturalWidth > 0,
    null, { timeout: TIMEOUT_MS });
  const image = await page.evaluate(() => {
    const img = /** @type {HTMLImageElement} */ (document.getElementById("image"));
    return { src: img.src, alt: img.alt };
  });
  const meta = await page.textContent("#result-meta");
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem("qwen-image.recent-runs") || "null"));

  await page.reload();
  await page.waitForFunction(() => {
    const img = /** @type {HTMLImageElement | null} */ (document.querySelector("#recent li img"));
    return img !== null && img.complete && img.naturalWidth > 0;
  }, null, { timeout: TIMEOUT_MS });
  const recent = await page.evaluate(() => [...document.querySelectorAll("#recent li")].map((li) => ({
    src: li.querySelector("img")?.src ?? null,
    alt: li.querySelector("img")?.alt ?? null,
    meta: li.querySelector(".meta")?.textContent ?? "",
  })));
  console.log(JSON.stringify({ status, image, meta, stored, recent, requests, ...seen }));
} finally {
  await browser.close();
}
