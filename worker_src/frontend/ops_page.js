// @ts-check
/**
 * The operations page at `/ops`: asks for the admin token (kept in this tab's sessionStorage only), shows
 * `GET /api/ops/summary` — counts by status, the oldest run in progress, dead letters waiting for a
 * re-drive, request → succeeded p50/p95 — and the latest failures, and refreshes itself (every 10 s, or
 * `?refresh=<seconds>`, at least 2). Text from the API is only ever set with `textContent`.
 */

export const OPS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Qwen Image · Operations</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 64rem; padding: 1.5rem; color: #1d1d1f; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
  form { display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; }
  input, button, select { font: inherit; padding: .4rem .6rem; }
  #status { min-height: 1.5em; color: #555; }
  #status.error { color: #b00020; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(10rem, 1fr)); gap: .6rem; }
  .card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem .8rem; }
  .card .label { font-size: .8rem; color: #555; }
  .card .value { font-size: 1.4rem; font-variant-numeric: tabular-nums; }
  .card.alert { border-color: #b00020; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; }
  th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee; vertical-align: top; word-break: break-all; }
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
<p id="status" role="status"></p>
<section id="summary" hidden>
  <div class="cards">
    <div class="card"><div class="label">Runs in window</div><div class="value" id="total"></div></div>
    <div class="card" id="dead-card"><div class="label">Dead-lettered (all)</div><div class="value" id="dead"></div></div>
    <div class="card"><div class="label">Oldest in progress</div><div class="value" id="oldest"></div></div>
    <div class="card"><div class="label">p50 request → succeeded</div><div class="value" id="p50"></div></div>
    <div class="card"><div class="label">p95 request → succeeded</div><div class="value" id="p95"></div></div>
  </div>
  <h2>By status</h2>
  <table><thead><tr><th>status</th><th>runs</th></tr></thead><tbody id="counts"></tbody></table>
  <h2>Latest failures</h2>
  <table><thead><tr><th>run</th><th>status</th><th>error</th><th>created</th></tr></thead><tbody id="failures"></tbody></table>
  <p id="updated" class="label"></p>
</section>
<script type="module" src="/ops.js"></script>
</body>
</html>
`;

export const OPS_JS = `const TOKEN_KEY = "qwen-image.admin-token";
const $ = (id) => document.getElementById(id);
const every = Math.max(2, Number(new URLSearchParams(location.search).get("refresh")) || 10) * 1000;
let timer = null;

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function seconds(ms) {
  return ms === null ? "–" : (ms / 1000).toFixed(1) + " s";
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

function render(summary) {
  $("summary").hidden = false;
  $("total").textContent = String(summary.total);
  $("dead").textContent = String(summary.dead_lettered);
  $("dead-card").className = summary.dead_lettered > 0 ? "card alert" : "card";
  const oldest = summary.oldest_active;
  $("oldest").textContent = oldest ? age(oldest.age_seconds) + " (" + oldest.status + ")" : "none";
  $("p50").textContent = seconds(summary.latency_ms.p50);
  $("p95").textContent = seconds(summary.latency_ms.p95);
  $("counts").replaceChildren(...Object.entries(summary.counts).map(([status, n]) => {
    const row = document.createElement("tr");
    row.dataset.status = status;
    row.append(cell(status), cell(String(n)));
    return row;
  }));
  $("failures").replaceChildren(...summary.latest_failures.map((f) => {
    const row = document.createElement("tr");
    row.append(cell(f.run_id), cell(f.status), cell(f.error ? f.error.code + ": " + f.error.message : ""), cell(f.created_at));
    return row;
  }));
  $("updated").textContent = "Window " + summary.window.text + " · updated " + new Date().toLocaleTimeString();
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
