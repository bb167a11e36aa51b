// @ts-check
/**
 * Drives the page at `/` in headless Chromium as a user would: it says whose runs it lists (this browser's),
 * a prompt generates an image, a request the API refuses clears that image instead of leaving it under the
 * error, and nothing the page loads answers an error (the favicon included). Prints one JSON object with what
 * the page showed; tests/e2e/test_frontend.py asserts on it.
 *
 * Usage: node home_page.mjs <frontend url> <screenshot path> [chromium path]
 */

import { openPage } from "./session.mjs";

const [url, screenshot, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const TIMEOUT_MS = 30000;

const { browser, page, seen } = await openPage(executablePath, new URL(url).origin, { width: 1000, height: 900 });
try {
  await page.goto(url);
  await page.waitForLoadState("networkidle");
  const before = await state(page);

  await page.fill("#prompt", "a lighthouse in a storm, ink");
  await page.click("#submit");
  await page.waitForFunction(() => document.getElementById("status")?.textContent === "Done.", null, { timeout: TIMEOUT_MS });
  await page.waitForFunction(() => /** @type {HTMLImageElement} */ (document.getElementById("image")).naturalWidth > 0,
    null, { timeout: TIMEOUT_MS });
  await page.waitForFunction(() => document.querySelectorAll("#recent li").length === 1, null, { timeout: TIMEOUT_MS });
  const generated = await state(page);
  await page.screenshot({ path: screenshot, fullPage: true });

  // Blank prompts pass the form's `required` but not the API: a 400 the page must show without the old image.
  await page.fill("#prompt", "   ");
  await page.click("#submit");
  await page.waitForFunction(() => document.getElementById("status")?.className === "error", null, { timeout: TIMEOUT_MS });
  const refused = await state(page);
  const favicon = await page.evaluate(async () => (await fetch("/favicon.ico")).status);
  console.log(JSON.stringify({ before, generated, refused, favicon, ...seen }));
} finally {
  await browser.close();
}

/** What a user sees. @param {import("playwright-core").Page} page */
async function state(page) {
  return page.evaluate(() => {
    const image = /** @type {HTMLImageElement} */ (document.getElementById("image"));
    const shown = (/** @type {string} */ id) => {
      const node = document.getElementById(id);
      return node !== null && !node.hidden && node.getClientRects().length > 0;
    };
    return {
      heading: [...document.querySelectorAll("h2")].map((h) => h.textContent),
      recentHelp: document.getElementById("recent-help")?.textContent ?? "",
      recentEmpty: shown("recent-empty"),
      recent: [...document.querySelectorAll("#recent li .meta")].map((m) => m.textContent),
      status: document.getElementById("status")?.textContent ?? "",
      resultShown: shown("result"),
      imageSrc: image.getAttribute("src"),
      imageWidth: image.naturalWidth,
    };
  });
}
