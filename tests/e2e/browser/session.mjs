// @ts-check
/**
 * The browser the page scripts drive: headless Debian Chromium through playwright-core, offline, with a page
 * that records what a person would not see but a test must: script errors, every request that failed or
 * answered an error, and every request to another origin.
 */

import { chromium } from "playwright-core";

const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run",
];

/**
 * @param {string} executablePath @param {string} origin the site under test
 * @param {{width: number, height: number}} viewport
 */
export async function openPage(executablePath, origin, viewport) {
  const browser = await chromium.launch({ executablePath, args: FLAGS, timeout: 30000 });
  const page = await browser.newPage({ viewport });
  const seen = { problems: /** @type {string[]} */ ([]), errors: /** @type {string[]} */ ([]),
    requested: /** @type {string[]} */ ([]), offsite: /** @type {string[]} */ ([]) };
  page.on("pageerror", (err) => seen.problems.push(`page error: ${err.message}`));
  // Failed loads are recorded as responses below; script errors are the problems here.
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) seen.problems.push(`console: ${msg.text()}`);
  });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.origin === origin) seen.requested.push(url.pathname);
    else seen.offsite.push(request.url());
  });
  page.on("requestfailed", (request) => seen.errors.push(`failed ${request.url()}`));
  page.on("response", (response) => {
    if (response.status() >= 400) seen.errors.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  return { browser, page, seen };
}
