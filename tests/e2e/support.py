"""Helpers for the end-to-end tests: the stand-in's control API, a view of local R2 and D1 as persisted
on disk, a plain origin server for result downloads without a Content-Length, and the Workers' log lines as the
local runtime printed them, held to the one shape every line must have.

Nothing here imitates the system under test; these are the test's own eyes and a second real server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
import string
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from infra.d1 import rollups
from infra.d1.executors import LocalD1Executor, local_database_path, miniflare_sqlite
from infra.model.contract import LOG, RUN_ID, SIZES, TERMINAL
from infra.model.settings import REPO_ROOT
from localdev.standin import render_png
from localdev.system import LocalSystem


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def respelled(mac: str) -> str:
    """Another spelling of an unpadded base64url MAC (43 characters for 32 bytes): the last character's unused low
    bit set, which a lenient decoder reads as the same bytes (Python's does)."""
    other = mac[:-1] + B64URL[B64URL.index(mac[-1]) | 1]
    if other == mac or base64.urlsafe_b64decode(other + "=") != base64.urlsafe_b64decode(mac + "="):
        raise ValueError(f"{mac!r} has no second spelling this way")
    return other


def expected_png(prompt: str, seed: int, size: str = "1664*928") -> bytes:
    """The exact bytes the stand-in renders for a request (it is deterministic in prompt, seed and size)."""
    if size not in SIZES:
        raise ValueError(f"{size!r} is not one of the API's sizes {SIZES}")
    width, height = (int(side) for side in size.split("*"))
    return render_png(prompt, seed, width, height)


class StandInControl:
    """The stand-in's `/_standin/` control API over HTTP, as any test client would use it."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self._client = httpx.Client(base_url=base_url, timeout=30)

    def _post(self, name: str, **body: Any) -> dict[str, Any]:
        response = self._client.post(f"/_standin/{name}", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"stand-in control {name} failed: {response.status_code} {response.text}")
        return response.json()

    def reset(self) -> None:
        self._post("reset")

    def fault(self, **body: Any) -> None:
        self._post("faults", **body)

    def latency(self, seconds: float, endpoint: str = "any") -> None:
        self._post("latency", seconds=seconds, endpoint=endpoint)

    def image_behavior(self, mode: str, **body: Any) -> None:
        self._post("image-behavior", mode=mode, **body)

    def padding(self, size: int, endpoint: str = "any", count: int = 1) -> None:
        """Make the next `count` JSON answers of `endpoint` `size` bytes longer (a `padding` field)."""
        self._post("padding", bytes=size, endpoint=endpoint, count=count)

    def result_url(self, url: str, count: int = 1) -> None:
        self._post("result-url", url=url, count=count)

    def url_ttl(self, seconds: float) -> None:
        self._post("url-ttl", seconds=seconds)

    def expire_urls(self) -> int:
        return int(self._post("expire-urls")["expired"])

    def tasks(self, **script: Any) -> None:
        """Script the next async tasks (`polls_pending`, `polls_running` or a timed `seconds`; `outcome`, `code`,
        `message`, `count`)."""
        self._post("tasks", **script)

    def task(self, task_id: str) -> dict[str, Any]:
        """The stand-in's record of one async task (what was submitted, how often it was polled)."""
        response = self._client.get(f"/_standin/tasks/{task_id}")
        response.raise_for_status()
        return response.json()

    def calls(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        calls = self._client.get("/_standin/calls").json()["calls"]
        return [c for c in calls if endpoint is None or c["endpoint"] == endpoint]

    def mint_result_url(self, prompt: str = "minted", seed: int = 1) -> str:
        """A fresh, valid presigned result URL, obtained the way the backend gets one: a sync call."""
        body = {
            "model": "qwen-image-plus",
            "input": {"messages": [{"role": "user", "content": [{"text": prompt}]}]},
            "parameters": {"seed": seed, "size": "1328*1328"},
        }
        response = self._client.post(
            "/api/v1/services/aigc/multimodal-generation/generation",
            json=body,
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        response.raise_for_status()
        return response.json()["output"]["choices"][0]["message"]["content"][0]["image"]

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> StandInControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int


class LocalState:
    """Read-only view of a system's persisted local R2 bucket and D1 database (miniflare's SQLite files)."""

    def __init__(self, system: LocalSystem) -> None:
        self._r2_path = miniflare_sqlite(system.persist_dir, "r2", "miniflare-R2BucketObject", system.bucket_name)
        self._d1_path = local_database_path(system.persist_dir, system.database_name)

    def _r2(self, sql: str, prefix: str) -> list[tuple[Any, ...]]:
        if not self._r2_path.exists():  # miniflare creates the bucket's file on first use
            return []
        with self._open(self._r2_path) as db:
            return db.execute(sql, (len(prefix), prefix)).fetchall()

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def objects(self, prefix: str = "") -> list[StoredObject]:
        rows = self._r2("SELECT key, size FROM _mf_objects WHERE substr(key, 1, ?) = ? ORDER BY key", prefix)
        return [StoredObject(key, size) for key, size in rows]

    def multipart_uploads(self, prefix: str = "") -> list[tuple[str, str]]:
        """(key, state) of multipart uploads; `open` is what an interrupted, never-aborted upload leaves."""
        states = {0: "open", 1: "completed", 2: "aborted"}
        rows = self._r2("SELECT key, state FROM _mf_multipart_uploads WHERE substr(key, 1, ?) = ?", prefix)
        return [(key, states.get(state, str(state))) for key, state in rows]

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of the local D1 database (read-only)."""
        with self._open(self._d1_path) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql, params).fetchall()]


class ChunkedOrigin:
    """A second, plain HTTP origin that streams registered bodies with chunked encoding (no Content-Length),
    the case where the backend cannot hand R2 a length up front, or with a Content-Length when asked."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._bodies: dict[str, tuple[bytes, str]] = {}
        self._with_length: set[str] = set()
        self.requests: list[str] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                origin.requests.append(self.path)
                body, content_type = origin._bodies.get(self.path, (b"not found", "text/plain"))
                self.send_response(200 if self.path in origin._bodies else 404)
                self.send_header("Content-Type", content_type)
                if self.path in origin._with_length:
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(body), 256 * 1024):
                    piece = body[start : start + 256 * 1024]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read `requests`."""

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.host = f"{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def serve(self, path: str, body: bytes, content_type: str = "image/png", *, with_length: bool = False) -> str:
        self._bodies[path] = (body, content_type)
        if with_length:
            self._with_length.add(path)
        return f"http://{self.host}{path}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error envelope, checked for its required shape."""
    body = response.json()
    error = body["error"]
    if not {"code", "message", "request_id"} <= error.keys():
        raise AssertionError(f"error envelope incomplete: {json.dumps(body)}")
    if response.headers.get("x-request-id") != error["request_id"]:
        raise AssertionError("X-Request-Id header and error.request_id differ")
    return error


def assert_failed_cleanly(
    admin: httpx.Client, state: LocalState, response: httpx.Response, status: int, code: str, run_code: str
) -> dict[str, Any]:
    """The HTTP error, the failed run with its code (read with the admin token), and an empty run folder in R2
    (no object, no upload)."""
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code
    assert error["provider_code"] == run_code
    body = admin.get(f"/api/runs/{error['run_id']}").json()
    run = body["run"]
    assert run["status"] == "failed"
    assert run["error"]["code"] == run_code
    assert run["completed_at"] is not None and run["images"] == []
    assert body["events"][-1]["to"] == "failed"
    assert not [o for o in state.objects() if run["id"] in o.key]
    assert not [key for key, status in state.multipart_uploads() if run["id"] in key and status == "open"]
    return run


FINISHED = tuple(TERMINAL)


def wait_for_run(admin: httpx.Client, run_id: str, statuses: tuple[str, ...] = FINISHED,
                 timeout: float = 45.0) -> dict[str, Any]:
    """`{"run", "events"}` (read with the admin token, so the whole run) once the run is in one of `statuses`;
    fails with the last body after `timeout`."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = admin.get(f"/api/runs/{run_id}")
        response.raise_for_status()
        body = response.json()
        if body["run"]["status"] in statuses:
            return body
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} not in {statuses} after {timeout:.0f}s: {json.dumps(body)}")


def create_async_run(api: httpx.Client, prompt: str) -> str:
    """A run through the queue: its id, once the API has answered 202."""
    response = api.post("/api/generate", json={"prompt": prompt})
    assert response.status_code == 202, response.text
    return response.json()["run"]["id"]


def fail_async_runs(api: httpx.Client, admin: httpx.Client, control: StandInControl,
                    deliveries: int) -> tuple[str, str]:
    """Two ended async runs, one at a time (the stand-in's faults apply to the next calls, whoever makes them):
    one `failed` at once by a provider 400 `InvalidParameter`, one `dead_lettered` by a 500 `InternalError` on
    each of its `deliveries`."""
    control.fault(status=400, code="InvalidParameter", message="bad size", endpoint="async-submit")
    failed = create_async_run(api, "fails at once")
    assert wait_for_run(admin, failed)["run"]["status"] == "failed"
    control.fault(status=500, code="InternalError", message="down", endpoint="async-submit", count=deliveries)
    dead = create_async_run(api, "never gets through")
    assert wait_for_run(admin, dead)["run"]["status"] == "dead_lettered"
    return failed, dead


def events_of(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The events of one type, oldest first (`status` events are the transitions)."""
    return [e for e in body["events"] if e["type"] == kind]


def transitions(body: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["from"], e["to"]) for e in events_of(body, "status")]


def iso(at: datetime) -> str:
    """A time as the Worker writes it (`2026-01-02T03:04:05.678Z`)."""
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def d1_of(system: LocalSystem) -> LocalD1Executor:
    """The system's local D1 database, for reads and for the rollup checks of `infra.d1.rollups`."""
    return LocalD1Executor(system.persist_dir, system.database_name)


def _sql(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def write_run(system: LocalSystem, *, status: str, path: list[str], since: datetime, job_seq: int = 0) -> str:
    """A run whose status events walked `path` (ending in `status`), unchanged since `since`, written through
    wrangler's own `d1 execute --local` and counted in the rollups as the Worker counts a run it creates: the
    state a backend that died mid-request (or a run nobody finished) leaves behind."""
    run_id = str(uuid.uuid4())
    at = iso(since)
    row = {
        "id": run_id, "request_id": f"left-{run_id[:8]}", "request_hash": "0" * 64, "provider": "dashscope",
        "model": "qwen-image-plus", "status": status, "prompt": "left behind", "parameters": "{}",
        "attempts": 0, "created_at": at, "updated_at": at, "job_seq": job_seq,
        "mode": "async" if "queued" in path else "sync",
    }
    keys, measures = rollups.columns(d1_of(system))
    statements = [
        f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join(_sql(v) for v in row.values())})",
        *(
            "INSERT INTO run_events (run_id, at, type, from_status, to_status) "
            f"VALUES ({_sql(run_id)}, {_sql(at)}, 'status', {_sql(previous)}, {_sql(to)})"
            for previous, to in zip([None, *path[:-1]], path, strict=True)
        ),
        rollups.add_cells_sql(keys, measures, f"run_id = {_sql(run_id)}"),
    ]
    result = system.wrangler("d1", "execute", system.database_name, "--local", "--command", "; ".join(statements))
    assert result.returncode == 0, result.stdout + result.stderr
    return run_id


CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT = REPO_ROOT / "node_modules" / "playwright-core"
BROWSER_SCRIPTS = Path(__file__).parent / "browser"
# Screenshots of the pages, written by every run of the browser tests for a person to look at (git-ignored).
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"


def run_browser(script: str, *args: str) -> dict[str, Any]:
    """Run `tests/e2e/browser/<script>` (headless Debian Chromium through playwright-core) and return the JSON
    object it prints last: what the page showed."""
    if not CHROMIUM.exists():
        raise AssertionError(f"{CHROMIUM} is missing: the page tests need Debian's chromium "
                             "(`apt-get install -y chromium`; `make test` installs it)")
    if not PLAYWRIGHT.exists() or shutil.which("node") is None:
        raise AssertionError("node and node_modules/playwright-core are needed: run `make setup`")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["node", str(BROWSER_SCRIPTS / script), *args, str(CHROMIUM)], capture_output=True,
                          text=True, timeout=120, check=False, cwd=REPO_ROOT)
    if done.returncode != 0:
        raise AssertionError(f"browser run failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the Workers' log lines -------------------------------------------------------------------------------------

# wrangler dev prints its own lines too: a banner until it is ready, then one `[wrangler:...]` line per request,
# and a status block (`⎔ ...`, then the bindings table, then an empty line) when a service binding (dis)connects.
_READY = "Ready on http"
_WRANGLER = "[wrangler:"
_STATUS = "⎔ "


def worker_output(system: LocalSystem) -> list[str]:
    """Every line the Workers wrote to their `wrangler dev`'s output: all of it after wrangler's `Ready on` line
    except wrangler's own lines above. A line a Worker writes in any other shape is in here too."""
    found = []
    for path in system.log_paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        ready = next((i for i, line in enumerate(lines) if _READY in line), len(lines))
        in_status = False
        for line in lines[ready + 1:]:
            in_status = (in_status or line.startswith(_STATUS)) and line.strip() != ""
            if line.strip() and not in_status and not line.startswith(_WRANGLER):
                found.append(line)
    return found


def log_lines(system: LocalSystem) -> list[dict[str, Any]]:
    """The Workers' lines, parsed (a line that is not a JSON object fails `log_problems`, not this)."""
    parsed = []
    for line in worker_output(system):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            parsed.append(value)
    return parsed


def wait_for_lines(system: LocalSystem, matches: Callable[[dict[str, Any]], bool], count: int = 1,
                   timeout: float = 15.0) -> list[dict[str, Any]]:
    """The lines `matches` accepts, once there are `count` of them (the output reaches its file a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in log_lines(system) if matches(line)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def log_problems(system: LocalSystem, never: Iterable[str]) -> list[str]:
    """Every line the Workers wrote that breaks the rule (infra/model/contract.py `LOG`, docs/runbook.md "Logs"):
    one JSON object with all of `LOG.fields` of the right types and no field outside `LOG.fields` and
    `LOG.detail`, and none of the texts in `never` (secrets, read tokens, whole prompts) nor a signed URL's
    query anywhere in it."""
    secrets = [text for text in never if text]
    allowed = {*LOG.fields, *LOG.detail}
    problems = []
    for line in worker_output(system):
        why = []
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            problems.append(f"not one JSON object: {line[:200]}")
            continue
        why += [f"no {name}" for name in LOG.fields if name not in value]
        why += [f"unknown field {name}" for name in value if name not in allowed]
        if not (isinstance(value.get("request_id"), str) and value["request_id"]):
            why.append("request_id is not an id")
        if value.get("run_id") is not None and not RUN_ID.match(str(value["run_id"])):
            why.append("run_id is not a run id")
        if not (isinstance(value.get("route"), str) and value["route"]):
            why.append("no route")
        if not isinstance(value.get("status"), int | str) or not (isinstance(value.get("outcome"), str) and
                                                                 value["outcome"]):
            why.append("status or outcome missing")
        if not (isinstance(value.get("duration_ms"), int) and value["duration_ms"] >= 0):
            why.append("duration_ms is not a count of milliseconds")
        why += ["holds a secret, a read token or a whole prompt" for text in secrets if text in line][:1]
        if "sig=" in line or "exp=" in line:
            why.append("holds a signed URL's query")
        if why:
            problems.append(f"{'; '.join(why)}: {line[:300]}")
    return problems
