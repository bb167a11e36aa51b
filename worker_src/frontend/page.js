// @ts-check
/**
 * The page: a prompt box, the generated image (loaded from its stable URL, never the provider's; a new request
 * clears the previous one, so an error never sits under an old image), and the runs started from this browser
 * (kept in its localStorage, and labelled so; the full run list is an admin route). Each run it creates is kept
 * with the run's read token (sent back in a header, never in a URL, to see its images) and its prompt (which only
 * the admin can read back). An image past the bucket's lifecycle is shown as expired. Text from runs is only ever
 * set with `textContent`. Limits, sizes, header names and the statuses a run ends in come from contract.js.
 */

import { HEADERS, LIMITS, SIZES, STATUS, TERMINAL } from "./contract.js";

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Qwen Image</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>
  body { font: 16px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1.5rem; color: #1d1d1f; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  form { display: grid; gap: .6rem; }
  textarea, input, select, button { font: inherit; padding: .45rem .6rem; }
  textarea { min-height: 5rem; }
  .row { display: flex; gap: .6rem; flex-wrap: wrap; align-items: center; }
  button { cursor: pointer; }
  #status { min-height: 1.5em; }
  #status.error { color: #b00020; }
  #result img { max-width: 100%; border-radius: 6px; margin-top: .5rem; }
  #result .meta, #recent .meta { font-size: .85rem; color: #555; word-break: break-all; }
  h2 { font-size: 1.1rem; margin: 1.5rem 0 .2rem; }
  .hint { font-size: .85rem; color: #555; margin: 0 0 .6rem; }
  code { font-size: .85em; background: #f2f2f2; padding: 0 .25em; border-radius: 3px; }
  #recent { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .8rem; }
  #recent li { border: 1px solid #ddd; border-radius: 6px; padding: .5rem; cursor: pointer; }
  #recent img { width: 100%; aspect-ratio: 1; object-fit: cover; border-radius: 4px; background: #eee; }
</style>
</head>
<body>
<h1>Qwen Image</h1>
<form id="generate">
  <label for="prompt">Prompt</label>
  <textarea id="prompt" name="prompt" maxlength="${LIMITS.promptChars}" required placeholder="a red fox reading a newspaper, watercolor"></textarea>
  <label for="negative_prompt">Negative prompt (optional)</label>
  <input id="negative_prompt" name="negative_prompt" maxlength="${LIMITS.negativePromptChars}">
  <div class="row">
    <label>Size <select id="size" name="size">
      <option value="">default</option>
      ${SIZES.map((size) => `<option>${size}</option>`).join("")}
    </select></label>
    <label>Seed <input id="seed" name="seed" type="number" min="0" max="${LIMITS.seedMax}" step="1"></label>
    <button id="submit" type="submit">Generate</button>
  </div>
</form>
<p id="status" role="status"></p>
<section id="result" hidden>
  <img id="image" alt="">
  <p class="meta" id="result-meta"></p>
</section>
<h2>Your recent runs</h2>
<p class="hint" id="recent-help">Runs started from this browser, newest first (the last 12, remembered in this browser's
storage only). Other people's runs are not shown here; an operator lists every run with <code>python -m infra runs list --stack &lt;env&gt;</code>.</p>
<ul id="recent"></ul>
<p class="hint" id="recent-empty" hidden>No runs from this browser yet.</p>
<script type="module" src="/app.js"></script>
</body>
</html>
`;

export const APP_JS = `const RECENT_KEY = "qwen-image.recent-runs";
const RECENT_MAX = 12;
const RUN_TOKEN = ${JSON.stringify(HEADERS.runToken)};
const $ = (id) => document.getElementById(id);

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// [{id, token, prompt}], newest first; entries of another shape (an older page's) are dropped.
function recentRuns() {
  let runs;
  try { runs = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]"); } catch { runs = []; }
  return Array.isArray(runs) ? runs.filter((r) => r && typeof r.id === "string" && typeof r.token === "string") : [];
}

function saveRecent(runs) {
  localStorage.setItem(RECENT_KEY, JSON.stringify(runs.slice(0, RECENT_MAX)));
}

function remember(entry) {
  saveRecent([entry, ...recentRuns().filter((r) => r.id !== entry.id)]);
}

function forget(id) {
  saveRecent(recentRuns().filter((r) => r.id !== id));
}

// The run as its creator sees it, or null once it cannot be read any more (gone, or its token refused).
async function readRun(entry) {
  const res = await fetch("/api/runs/" + encodeURIComponent(entry.id), { headers: { [RUN_TOKEN]: entry.token } });
  if (res.status === 403 || res.status === 404) {
    forget(entry.id);
    return null;
  }
  return res.ok ? (await res.json()).run : undefined;
}

function clearResult() {
  $("result").hidden = true;
  $("image").removeAttribute("src");
  $("image").hidden = false;
  $("result-meta").textContent = "";
}

function show(run, prompt) {
  clearResult();
  const image = run.images[0];
  if (!image) return;
  $("result").hidden = false;
  if (image.expired) {
    $("image").hidden = true;
    $("result-meta").textContent = "run " + run.id + " · the image expired on " + new Date(image.expires_at).toLocaleString() +
      " (the bucket keeps generated images for a limited time)";
    return;
  }
  $("image").src = image.url;
  $("image").alt = prompt;
  $("result-meta").textContent =
    "run " + run.id + " · " + image.content_type + " · " + image.bytes + " bytes · sha256 " + image.sha256;
}

const FINISHED = ${JSON.stringify(TERMINAL)};

// Async stacks answer 202 with a queued run: follow it until it finishes.
async function follow(run, entry) {
  while (!FINISHED.includes(run.status)) {
    setStatus("Run " + run.status + "…");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const next = await readRun(entry);
    if (next === null) throw new Error("the run can no longer be read");
    if (next) run = next;
  }
  return run;
}

async function loadRecent() {
  const list = $("recent");
  const entries = recentRuns();
  const runs = await Promise.all(entries.map(readRun));
  const found = entries.map((entry, i) => ({ entry, run: runs[i] })).filter((r) => r.run);
  $("recent-empty").hidden = found.length > 0;
  list.replaceChildren(...found.map(({ entry, run }) => {
    const item = document.createElement("li");
    if (run.images[0] && !run.images[0].expired) {
      const img = document.createElement("img");
      img.src = run.images[0].url;
      img.alt = entry.prompt;
      img.loading = "lazy";
      item.append(img);
    }
    const meta = document.createElement("div");
    meta.className = "meta";
    const expired = run.images[0] && run.images[0].expired ? " · image expired" : "";
    meta.textContent = run.status + expired + " · " + new Date(run.created_at).toLocaleString() + " · " + entry.prompt.slice(0, 80);
    item.append(meta);
    item.addEventListener("click", () => show(run, entry.prompt));
    return item;
  }));
}

$("generate").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { prompt: $("prompt").value };
  if ($("negative_prompt").value) body.negative_prompt = $("negative_prompt").value;
  if ($("size").value) body.size = $("size").value;
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  $("submit").disabled = true;
  clearResult();
  setStatus("Generating…");
  try {
    const res = await fetch("/api/generate", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify(body),
    });
    const data = await res.json();
    if (!res.ok) {
      const error = data.error || {};
      if (error.run_id && error.read_token) remember({ id: error.run_id, token: error.read_token, prompt: body.prompt });
      const id = error.request_id || res.headers.get("X-Request-Id");
      setStatus((error.message || "HTTP " + res.status) + " (request " + id + ")", true);
      return;
    }
    const entry = { id: data.run.id, token: data.read_token, prompt: body.prompt };
    remember(entry);
    const run = res.status === 202 ? await follow(data.run, entry) : data.run;
    show(run, entry.prompt);
    if (run.status === ${JSON.stringify(STATUS.SUCCEEDED)}) setStatus("Done.");
    else setStatus("Run " + run.status + (run.error ? ": " + run.error.code + ": " + run.error.message : ""), true);
  } catch (err) {
    setStatus("Request failed: " + err.message, true);
  } finally {
    $("submit").disabled = false;
    loadRecent();
  }
});

loadRecent();
`;
