// @ts-check
/**
 * The operations page at `/ops`: asks for the admin token (kept in this tab's sessionStorage only, and says
 * where the token comes from), draws `GET /api/ops/summary` — runs per interval by status and the request →
 * succeeded distribution as inline SVG charts (no external resource: the page's CSP allows none), the counts,
 * the oldest run in progress, dead letters waiting, percentiles, polls per async run, the latest purge and the
 * latest failures (or a plain "No failures in this window"), and the "sync health" view of the summary's
 * `health` (the evidence of docs/runbook.md "Deciding on async", each figure beside its threshold, and the failures
 * by cause: both from infra/model/contract.py through ./contract.js, the declaration `infra report` reads) — and
 * refreshes itself (every 10 s, or `?refresh=<seconds>`, at least 2). Text from the API is only ever set with
 * `textContent`.
 */

import { ASYNC_RULE, FAILURE_CAUSES } from "./contract.js";

export const OPS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Qwen Image · Operations</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 64rem; padding: 1.5rem; color: #1d1d1f; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
  form { display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; }
  input, button, select { font: inherit; padding: .4rem .6rem; }
  code { font-size: .85em; background: #f2f2f2; padding: 0 .25em; border-radius: 3px; }
  .hint { font-size: .85rem; color: #555; margin: .4rem 0 0; }
  #status { min-height: 1.5em; color: #555; }
  #status.error { color: #b00020; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(10rem, 1fr)); gap: .6rem; }
  .card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem .8rem; }
  .card .label { font-size: .8rem; color: #555; }
  .card .value { font-size: 1.4rem; font-variant-numeric: tabular-nums; }
  .card .value.small { font-size: 1rem; }
  .card.alert { border-color: #b00020; }
  .chart svg { width: 100%; height: auto; display: block; }
  .chart text { font: 11px system-ui, sans-serif; fill: #555; }
  .legend { display: flex; gap: .9rem; flex-wrap: wrap; font-size: .8rem; color: #555; margin: .3rem 0 0; padding: 0; list-style: none; }
  .legend span { display: inline-block; width: .7rem; height: .7rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; }
  th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee; vertical-align: top; word-break: break-all; }
  #no-failures, #no-causes { color: #1e7e34; }
  td.alert { color: #b00020; font-weight: 600; }
  td.num { font-variant-numeric: tabular-nums; white-space: nowrap; word-break: normal; }
  #health th, #health td, #causes-table th { word-break: normal; }
  #health th:first-child { width: 40%; }
</style>
</head>
<body>
<h1>Operations</h1>
<form id="auth">
  <label for="token">Admin token</label>
  <input id="token" type="password" autocomplete="off" required>
  <label>Window <select id="window">
    <option>1h</option><option selected>24h</option><option>7d</option><option>30d</option>
  </select></label>
  <button type="submit">Show</button>
  <button type="button" id="forget">Forget token</button>
</form>
<p class="hint" id="token-help">The admin token is the stack's <code>adminToken</code> secret
(<code>pulumi config get --stack &lt;env&gt; adminToken</code>); <code>make dev</code> prints the local one when it starts.
It stays in this browser tab (sessionStorage) and is sent only to this site's <code>/api/ops/summary</code>.</p>
<p id="status" role="status"></p>
<section id="summary" hidden>
  <div class="cards">
    <div class="card"><div class="label">Runs in window</div><div class="value" id="total"></div></div>
    <div class="card" id="dead-card"><div class="label">Dead-lettered (all)</div><div class="value" id="dead"></div></div>
    <div class="card"><div class="label">Oldest in progress</div><div class="value" id="oldest"></div></div>
    <div class="card"><div class="label">p50 request → succeeded</div><div class="value" id="p50"></div></div>
    <div class="card"><div class="label">p95 request → succeeded</div><div class="value" id="p95"></div></div>
    <div class="card"><div class="label">p99 request → succeeded</div><div class="value" id="p99"></div></div>
    <div class="card"><div class="label">Polls per async run</div><div class="value" id="polls"></div></div>
    <div class="card"><div class="label">Last purge</div><div class="value small" id="purge"></div></div>
  </div>
  <h2>Runs per interval by status</h2>
  <div class="chart" id="series"></div>
  <ul class="legend" id="legend"></ul>
  <h2>Request → succeeded</h2>
  <div class="chart" id="latency"></div>
  <h2>Sync health</h2>
  <p class="hint" id="health-note"></p>
  <table id="health"><thead><tr><th>signal</th><th>sync</th><th>async</th><th>rule</th></tr></thead>
    <tbody id="health-rows"></tbody></table>
  <h3>Failures by cause</h3>
  <p id="no-causes" hidden>No failures in this window.</p>
  <table id="causes-table"><thead><tr><th>cause</th><th>async absorbs it</th><th>sync</th><th>async</th><th>codes</th></tr></thead>
    <tbody id="causes"></tbody></table>
  <h2>By status</h2>
  <table><thead><tr><th>status</th><th>runs</th></tr></thead><tbody id="counts"></tbody></table>
  <h2>Latest failures</h2>
  <p id="no-failures" hidden>No failures in this window.</p>
  <table id="failures-table"><thead><tr><th>run</th><th>status</th><th>error</th><th>created</th></tr></thead><tbody id="failures"></tbody></table>
  <p id="updated" class="hint"></p>
</section>
<script type="module" src="/ops.js"></script>
</body>
</html>
`;

export const OPS_JS = `const TOKEN_KEY = "qwen-image.admin-token";
const RULE = ${JSON.stringify(ASYNC_RULE)};
const CAUSES = ${JSON.stringify(FAILURE_CAUSES)};
const SVG = "http://www.w3.org/2000/svg";
const COLORS = { queued: "#9aa0a6", submitted: "#8ab4f8", running: "#fbbc04", persisting: "#a142f4",
  succeeded: "#34a853", failed: "#ea4335", dead_lettered: "#8b0000" };
const W = 640, H = 180, PAD = { left: 36, right: 8, top: 8, bottom: 22 };
const $ = (id) => document.getElementById(id);
const every = Math.max(2, Number(new URLSearchParams(location.search).get("refresh")) || 10) * 1000;
let timer = null;

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function seconds(ms) {
  return ms === null ? "–" : (ms < 10000 ? (ms / 1000).toFixed(2) : (ms / 1000).toFixed(1)) + " s";
}

function age(s) {
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function svg(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(label) {
  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": label });
  root.append(svg("line", { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, stroke: "#ccc" }));
  return root;
}

// An interval's start: the date for day steps, the time for a window within a day, both in between.
function when(iso, stepSeconds, spanSeconds) {
  const at = new Date(iso);
  if (stepSeconds >= 86400) return at.toLocaleDateString([], { month: "short", day: "numeric" });
  const time = { hour: "2-digit", minute: "2-digit" };
  return spanSeconds < 43200 ? at.toLocaleTimeString([], time) : at.toLocaleString([], { month: "short", day: "numeric", ...time });
}

// Stacked bars: the runs created in each interval, by the status they have now.
function drawSeries(series) {
  const points = series.points;
  const totals = points.map((p) => Object.values(p.counts).reduce((a, b) => a + b, 0));
  if (!totals.some(Boolean)) {
    const empty = document.createElement("p");
    empty.className = "hint";
    empty.textContent = "No runs were created in this window.";
    $("series").replaceChildren(empty);
    $("legend").replaceChildren();
    return;
  }
  const top = Math.max(1, ...totals);
  const span = points.length ? (Date.parse(points[points.length - 1].at) - Date.parse(points[0].at)) / 1000 : 0;
  const label = (point) => when(point.at, series.step_seconds, span);
  const root = frame("runs per interval by status");
  const slot = (W - PAD.left - PAD.right) / Math.max(1, points.length);
  const scale = (H - PAD.top - PAD.bottom) / top;
  points.forEach((point, i) => {
    let y = H - PAD.bottom;
    for (const [status, n] of Object.entries(point.counts)) {
      if (!n) continue;
      const h = n * scale;
      y -= h;
      const bar = svg("rect", { x: PAD.left + i * slot + 1, y, width: Math.max(1, slot - 2), height: h,
        fill: COLORS[status] || "#666", "data-status": status });
      bar.append(svg("title", {}, label(point) + " · " + status + ": " + n));
      root.append(bar);
    }
  });
  root.append(svg("text", { x: PAD.left - 4, y: PAD.top + 10, "text-anchor": "end" }, String(top)));
  root.append(svg("text", { x: PAD.left - 4, y: H - PAD.bottom, "text-anchor": "end" }, "0"));
  if (points.length) {
    root.append(svg("text", { x: PAD.left, y: H - 6 }, label(points[0])));
    root.append(svg("text", { x: W - PAD.right, y: H - 6, "text-anchor": "end" }, label(points[points.length - 1])));
  }
  $("series").replaceChildren(root);
  $("legend").replaceChildren(...Object.keys(COLORS).map((status) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.style.background = COLORS[status];
    item.append(swatch, status);
    return item;
  }));
}

// The histogram of request → succeeded over the window, one bar per bucket, with p50/p95/p99 marked.
function drawLatency(latency, bounds) {
  const counts = latency.le.map((n, i) => n - (i ? latency.le[i - 1] : 0));
  const used = counts.map((n, i) => (n ? i : -1)).filter((i) => i >= 0);
  if (!used.length) {
    const empty = document.createElement("p");
    empty.className = "hint";
    empty.textContent = "No succeeded runs in this window.";
    $("latency").replaceChildren(empty);
    return;
  }
  const first = Math.max(0, used[0] - 1), last = Math.min(bounds.length - 1, used[used.length - 1] + 1);
  const shown = bounds.slice(first, last + 1);
  const top = Math.max(...counts.slice(first, last + 1));
  const root = frame("request to succeeded, histogram");
  const slot = (W - PAD.left - PAD.right) / shown.length;
  const scale = (H - PAD.top - PAD.bottom) / top;
  shown.forEach((bound, j) => {
    const n = counts[first + j];
    const bar = svg("rect", { x: PAD.left + j * slot + 1, y: H - PAD.bottom - n * scale, width: Math.max(1, slot - 2),
      height: n * scale, fill: "#34a853", "data-le": bound });
    bar.append(svg("title", {}, "≤ " + seconds(bound) + ": " + n));
    root.append(bar);
    if (j % Math.ceil(shown.length / 8) === 0) {
      root.append(svg("text", { x: PAD.left + j * slot + slot / 2, y: H - 6, "text-anchor": "middle" }, "≤" + seconds(bound)));
    }
  });
  for (const [name, ms] of [["p50", latency.p50], ["p95", latency.p95], ["p99", latency.p99]]) {
    const j = shown.indexOf(ms);
    if (j < 0) continue;
    const x = PAD.left + (j + 1) * slot;
    root.append(svg("line", { x1: x, y1: PAD.top, x2: x, y2: H - PAD.bottom, stroke: "#1d1d1f", "stroke-dasharray": "3 3", "data-mark": name }));
    root.append(svg("text", { x: x + 3, y: PAD.top + 10 + (name === "p95" ? 12 : name === "p99" ? 24 : 0) }, name));
  }
  root.append(svg("text", { x: PAD.left - 4, y: PAD.top + 10, "text-anchor": "end" }, String(top)));
  $("latency").replaceChildren(root);
}

function percent(part, whole) {
  return whole ? (100 * part / whole).toFixed(1) + " % (" + part + " of " + whole + ")" : "n/a";
}

// One signal of the rule per row: each mode's figure (red where sync runs cross a threshold at which the rule
// turns async on, and for dead letters), and the rule in words.
function drawHealth(health) {
  const margin = Math.round(RULE.nearBudgetMargin * 100) + " %";
  const pct = (x) => (100 * x).toFixed(1) + " %";
  const b = health.budgets;
  $("health-note").textContent = "Upstream timeout " + seconds(b.upstream_request_ms) + ", download timeout " +
    seconds(b.download_ms) + "; near = within " + margin + ". Async processing is " +
    (health.async_enabled ? "on" : "off") + " here. The recommendation and the cost: infra report --stack <env>.";
  const m = health.by_mode;
  const p3 = (p) => p.runs ? seconds(p.p50) + " / " + seconds(p.p95) + " / " + seconds(p.p99) : "n/a";
  const ratio = (x, n) => (n ? (x / n).toFixed(2) : "n/a");
  const over = (part, whole, limit) => whole > 0 && part >= limit * whole;
  const rows = [
    ["ended", "ended runs", (x) => String(x.ended), () => false, "at least " + RULE.minEndedRuns + " to decide"],
    ["absorbable", "failures async would absorb", (x) => percent(x.absorbed, x.ended),
      (x, mode) => mode === "sync" && over(x.absorbed, x.ended, RULE.onAbsorbableShare),
      "sync: async on at ≥ " + pct(RULE.onAbsorbableShare)],
    ["provider", "provider time p50 / p95 / p99", (x) => p3(x.provider), () => false, "against " + seconds(b.upstream_request_ms)],
    ["provider-near", "provider times within " + margin + " of the upstream timeout",
      (x) => percent(x.provider.near_budget, x.provider.runs),
      (x, mode) => mode === "sync" && over(x.provider.near_budget, x.provider.runs, RULE.onNearBudgetShare),
      "sync: async on at ≥ " + pct(RULE.onNearBudgetShare) + "; async: off only below " + pct(RULE.offNearBudgetShare)],
    ["download-near", "downloads within " + margin + " of the download timeout",
      (x) => percent(x.download.near_budget, x.download.runs),
      (x, mode) => mode === "sync" && over(x.download.near_budget, x.download.runs, RULE.onNearBudgetShare),
      "sync: async on at ≥ " + pct(RULE.onNearBudgetShare)],
    ["request", "request → end p50 / p95 / p99", (x) => p3(x.request), () => false, ""],
    ["retried", "retried deliveries per run", (x) => percent(x.retries, x.ended), () => false,
      "async: off only below " + pct(RULE.offRetriedShare)],
    ["dead-lettered", "dead-lettered", (x) => percent(x.dead_lettered, x.ended), (x) => x.dead_lettered > 0, ""],
    ["polls", "polls per run", (x) => ratio(x.polls, x.ended), () => false, ""],
    ["queue-wait", "queue wait (mean)", (x) => (x.queue_wait_mean_ms === null ? "n/a" : seconds(x.queue_wait_mean_ms)),
      () => false, ""],
  ];
  $("health-rows").replaceChildren(...rows.map(([key, label, show, alert, rule]) => {
    const row = document.createElement("tr");
    row.dataset.signal = key;
    row.append(cell(label));
    for (const mode of ["sync", "async"]) {
      const td = cell(m[mode].ended ? show(m[mode]) : "no runs");
      td.dataset.mode = mode;
      td.className = "num" + (m[mode].ended && alert(m[mode], mode) ? " alert" : "");
      row.append(td);
    }
    row.append(cell(rule));
    return row;
  }));
  const causes = new Map();
  for (const f of health.failures) {
    const entry = causes.get(f.cause) || { sync: 0, async: 0, codes: [] };
    entry[f.mode] += f.runs;
    for (const c of f.codes) entry.codes.push(c.code + " (" + c.runs + ")");
    causes.set(f.cause, entry);
  }
  $("no-causes").hidden = causes.size > 0;
  $("causes-table").hidden = causes.size === 0;
  // In the contract's order: what async would absorb first.
  const order = Object.keys(CAUSES);
  const shown = [...causes].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  $("causes").replaceChildren(...shown.map(([cause, entry]) => {
    const row = document.createElement("tr");
    row.dataset.cause = cause;
    const info = CAUSES[cause] || CAUSES.unclassified;
    row.append(cell(info.label), cell(info.absorbed ? "yes" : "no"), cell(String(entry.sync)), cell(String(entry.async)),
      cell(entry.codes.join(", ")));
    return row;
  }));
}

function render(summary) {
  $("summary").hidden = false;
  $("total").textContent = String(summary.total);
  $("dead").textContent = summary.dead_lettered + (summary.dead_lettered_capped ? "+" : "");
  $("dead-card").className = summary.dead_lettered > 0 ? "card alert" : "card";
  const oldest = summary.oldest_active;
  $("oldest").textContent = oldest ? age(oldest.age_seconds) + " (" + oldest.status + ")" : "none";
  $("p50").textContent = seconds(summary.latency_ms.p50);
  $("p95").textContent = seconds(summary.latency_ms.p95);
  $("p99").textContent = seconds(summary.latency_ms.p99);
  const done = summary.by_mode.async.succeeded;
  $("polls").textContent = done.runs ? (done.polls / done.runs).toFixed(1) : "–";
  const purge = summary.retention.last_purge;
  $("purge").textContent = purge
    ? new Date(purge.at).toLocaleString() + ": " + purge.runs + " runs" + (purge.more ? " (more due)" : "")
    : (summary.retention.days === null ? "runs kept forever" : "none yet (after " + summary.retention.days + " days)");
  drawSeries(summary.series);
  drawLatency(summary.latency_ms, summary.latency_bounds_ms);
  drawHealth(summary.health);
  $("counts").replaceChildren(...Object.entries(summary.counts).map(([status, n]) => {
    const row = document.createElement("tr");
    row.dataset.status = status;
    row.append(cell(status), cell(String(n)));
    return row;
  }));
  const failures = summary.latest_failures;
  $("no-failures").hidden = failures.length > 0;
  $("failures-table").hidden = failures.length === 0;
  $("failures").replaceChildren(...failures.map((f) => {
    const row = document.createElement("tr");
    row.append(cell(f.run_id), cell(f.status), cell(f.error ? f.error.code + ": " + f.error.message : ""), cell(f.created_at));
    return row;
  }));
  $("updated").textContent = "Window " + summary.window.text + " (since " + new Date(summary.window.since).toLocaleString() +
    ") · updated " + new Date().toLocaleTimeString();
}

async function refresh() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return;
  try {
    const res = await fetch("/api/ops/summary?window=" + encodeURIComponent($("window").value), {
      headers: { Authorization: "Bearer " + token },
    });
    const body = await res.json();
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      $("summary").hidden = true;
      setStatus("The admin token was refused.", true);
      return;
    }
    if (!res.ok) {
      setStatus((body.error ? body.error.message : "HTTP " + res.status) + " (request " + res.headers.get("X-Request-Id") + ")", true);
      return;
    }
    render(body);
    setStatus("");
  } catch (err) {
    setStatus("Request failed: " + err.message, true);
  }
}

function start() {
  clearInterval(timer);
  refresh();
  timer = setInterval(refresh, every);
}

$("auth").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  $("token").value = "";
  start();
});
$("window").addEventListener("change", start);
$("forget").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(timer);
  $("summary").hidden = true;
  setStatus("Token forgotten.");
});

if (sessionStorage.getItem(TOKEN_KEY)) start();
`;
