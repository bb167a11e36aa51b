// @ts-check
/**
 * Drives the /ops page in headless Chromium (Debian's `chromium`, through playwright-core) as an operator
 * would: a wrong token is refused, the right one shows the summary with its charts, and the page refreshes
 * itself when a run is added. Records every request that failed or answered an error, and every request that
 * left the site (there must be none: the charts are drawn in the page). Prints one JSON object with what the
 * page showed; tests/e2e/test_ops.py asserts on it.
 *
 * Usage: node ops_page.mjs <frontend url> <admin token> <screenshot path> [chromium path]
 */

import { openPage } from "./session.mjs";

const [url, token, screenshot, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const TIMEOUT_MS = 15000;

const { browser, page, seen } = await openPage(executablePath, new URL(url).origin, { width: 1100, height: 900 });
try {
  await page.goto(`${url}/ops?refresh=2`);
  const tokenHelp = await page.textContent("#token-help");

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
  console.log(JSON.stringify({
    tokenHelp, refused, hiddenAfterRefusal, first, second, created: created.status, tokenInStorage, ...seen,
  }));
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
    const visible = (/** @type {string} */ id) => {
      const node = document.getElementById(id);
      return node !== null && !node.hidden && node.getClientRects().length > 0;
    };
    /** @type {Record<string, number>} */
    const barsByStatus = {};
    for (const bar of document.querySelectorAll("#series svg rect[data-status]")) {
      const status = bar.getAttribute("data-status") ?? "";
      barsByStatus[status] = (barsByStatus[status] ?? 0) + 1;
    }
    return {
      total: text("total"),
      dead: text("dead"),
      oldest: text("oldest"),
      p50: text("p50"),
      p95: text("p95"),
      p99: text("p99"),
      polls: text("polls"),
      purge: text("purge"),
      counts: Object.fromEntries(rows("counts").map(([status, n]) => [status, n])),
      failures: rows("failures"),
      noFailures: visible("no-failures") ? text("no-failures") : null,
      failuresTable: visible("failures-table"),
      barsByStatus,
      latencyBars: [...document.querySelectorAll("#latency svg rect[data-le]")].map((bar) => Number(bar.getAttribute("height")) > 0),
      latencyMarks: [...document.querySelectorAll("#latency svg line[data-mark]")].map((line) => line.getAttribute("data-mark")),
      latencyText: text("latency"),
      legend: [...document.querySelectorAll("#legend li")].map((li) => li.textContent),
      updated: text("updated"),
      healthNote: text("health-note"),
      health: Object.fromEntries([...document.querySelectorAll("#health-rows tr")].map((tr) => {
        const mode = (/** @type {string} */ m) => tr.querySelector(`td[data-mode=${m}]`);
        return [tr.getAttribute("data-signal"), {
          sync: mode("sync")?.textContent ?? "", async: mode("async")?.textContent ?? "",
          syncAlert: mode("sync")?.classList.contains("alert") ?? false, rule: tr.lastElementChild?.textContent ?? "",
        }];
      })),
      causes: rows("causes"),
      causeKeys: [...document.querySelectorAll("#causes tr")].map((tr) => tr.getAttribute("data-cause")),
      noCauses: visible("no-causes") ? text("no-causes") : null,
    };
  });
}
