// @ts-check
/**
 * Drives the /ops page in headless Chromium (Debian's `chromium`, through playwright-core) as an operator
 * would: a wrong token is refused, the right one shows the summary, and the page refreshes itself when a
 * run is added. Prints one JSON object with what the page showed; tests/e2e/test_ops.py asserts on it.
 *
 * Usage: node ops_page.mjs <frontend url> <admin token> <screenshot path> [chromium path]
 */

import { chromium } from "playwright-core";

const [url, token, screenshot, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run",
];
const TIMEOUT_MS = 15000;

const browser = await chromium.launch({ executablePath, args: FLAGS, timeout: 30000 });
try {
  const page = await browser.newPage();
  /** @type {string[]} */
  const problems = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  // The browser's own network lines (the refused token's 401, /favicon.ico) are expected; script errors are not.
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) problems.push(`console: ${msg.text()}`);
  });
  await page.goto(`${url}/ops?refresh=2`);

  await page.fill("#token", "not-the-token");
  await page.click("button[type=submit]");
  await page.waitForFunction(() => document.getElementById("status")?.textContent !== "", null, { timeout: TIMEOUT_MS });
  const refused = await page.textContent("#status");
  const hiddenAfterRefusal = await page.isHidden("#summary");

  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector("#summary", { state: "visible", timeout: TIMEOUT_MS });
  const first = await read(page);
  await page.screenshot({ path: screenshot, fullPage: true });

  // A new run, created the way any client would; the page must show it without being told to.
  const created = await fetch(`${url}/api/generate`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt: "seen by the ops page" }),
  });
  await page.waitForFunction(
    (before) => Number(document.getElementById("total")?.textContent) > before,
    Number(first.total),
    { timeout: TIMEOUT_MS },
  );
  const second = await read(page);
  const tokenInStorage = await page.evaluate(() => sessionStorage.length > 0 && localStorage.length === 0);
  console.log(JSON.stringify({ refused, hiddenAfterRefusal, first, second, created: created.status, tokenInStorage, problems }));
} finally {
  await browser.close();
}

/** What an operator reads off the page. @param {import("playwright-core").Page} page */
async function read(page) {
  return page.evaluate(() => {
    const text = (/** @type {string} */ id) => document.getElementById(id)?.textContent ?? "";
    const rows = (/** @type {string} */ id) =>
      [...(document.getElementById(id)?.querySelectorAll("tr") ?? [])].map((tr) =>
        [...tr.querySelectorAll("td")].map((td) => td.textContent ?? ""),
      );
    return {
      total: text("total"),
      dead: text("dead"),
      oldest: text("oldest"),
      p50: text("p50"),
      p95: text("p95"),
      counts: Object.fromEntries(rows("counts").map(([status, n]) => [status, n])),
      failures: rows("failures"),
      updated: text("updated"),
    };
  });
}
