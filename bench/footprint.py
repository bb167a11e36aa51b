"""What one run costs in the units Cloudflare bills, measured end to end against the local system: a sync and
an async system (`LocalSystem`, real workerd with local D1/R2/Queues, the DashScope stand-in) each serve a few
runs the way the page at / makes them (one request, or a request and a poll a second until the run ends, then
one view of the image), one async run retried once, and one cron tick.

- D1 per invocation: the backend's log lines carry each request's, delivery's and tick's D1 queries, rows read
  and rows written (worker_src/backend/meter.js, D1's own `meta`); they are grouped by kind (`cost.KINDS`).
- CPU per invocation: the CPU time of each Worker's workerd processes over the measurement, divided by that
  Worker's invocations (an upper bound: locally the same processes run the D1, R2 and queue simulators).
- D1 bytes per run: the growth of the run tables' and their indexes' payload (SQLite's `dbstat`).

`python -m bench.footprint` starts both systems, measures and writes infra/ops/footprint.json, which
`infra report` prices (infra/ops/cost.py); tests/e2e/test_report.py measures again and holds the file to it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.processes import workerd_below
from infra.d1.executors import local_database_path
from infra.model.contract import HEADERS, TERMINAL
from infra.ops.cost import FOOTPRINT_FILE, KINDS
from localdev.system import LocalSystem

RUNS = 8
CLIENT_POLL_SECONDS = 1.0
RUN_TIMEOUT_SECONDS = 60.0
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# Statuses a delivery's `outcome` names while the task is still running (consumer.js: the task's status).
WAITING_OUTCOMES = ("pending", "running", "suspended")
RETRIED_OUTCOMES = ("attempt_failed", "throttled")
RUN_TABLES = ("runs", "run_events", "run_assets")
# What the measured systems change from the local stack: async on for one, fast polls, learning off (the
# stand-in's tasks end on their third query, not after a time).
ASYNC = {
    "queues.enabled": True,
    "queues.jobs.max_batch_timeout_seconds": 0,
    "queues.dead_letter.max_batch_timeout_seconds": 0,
    "queues.polling.initial_delay_seconds": 1,
    "queues.polling.max_delay_seconds": 2,
    "queues.polling.expected_task_seconds": 1,
    "queues.polling.learn_from_recent_runs": False,
}


class FootprintError(RuntimeError):
    """A run did not end, or the logs did not show what the measurement needs."""


@dataclass
class _Window:
    """What a system did between two moments: its backend's new log lines and each Worker's CPU ticks."""

    system: LocalSystem
    log: Path
    offset: int
    cpu: dict[str, int]


def _roles(system: LocalSystem) -> dict[str, tuple[Path, int]]:
    """Each Worker's log file and wrangler PID, by role (the log file is named after the role)."""
    pids = system.server_pids()
    return {role: (next(p for p in system.log_paths if f"-{role}-" in p.name), pid) for role, pid in pids.items()}


def _cpu_ticks(root: int) -> int:
    pids = workerd_below(root)
    if not pids:
        raise FootprintError(f"measure footprint failed: no workerd process below wrangler process {root}")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _open(system: LocalSystem) -> _Window:
    roles = _roles(system)
    log = roles["backend"][0]
    return _Window(system, log, log.stat().st_size, {role: _cpu_ticks(pid) for role, (_, pid) in roles.items()})


def _lines(window: _Window) -> list[dict[str, Any]]:
    """The backend's JSON log lines since the window opened (each one invocation: a request, delivery, tick)."""
    with window.log.open("rb") as f:
        f.seek(window.offset)
        text = f.read().decode("utf-8", errors="replace")
    out = []
    for raw in text.splitlines():
        if raw.startswith("{") and '"d1"' in raw:
            out.append(json.loads(raw))
    return out


def _settled(window: _Window, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The window's lines once the cron tick's (the last thing measured) has reached the log."""
    deadline = time.monotonic() + timeout
    while True:
        lines = _lines(window)
        if any(line["route"].startswith("cron ") for line in lines):
            return lines
        if time.monotonic() > deadline:
            raise FootprintError(f"measure footprint failed: no cron line in {window.log} after {timeout:g} s")
        time.sleep(0.1)


def _cpu_ms(window: _Window) -> dict[str, float]:
    roles = _roles(window.system)
    return {role: (_cpu_ticks(pid) - window.cpu[role]) * 1000 / TICKS_PER_SECOND for role, (_, pid) in roles.items()}


def run_payload_bytes(system: LocalSystem) -> int:
    """Bytes the run tables and their indexes hold (pages less their unused space)."""
    path = local_database_path(system.persist_dir, system.database_name)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        marks = ", ".join("?" for _ in RUN_TABLES)
        [(used,)] = db.execute(
            f"SELECT IFNULL(SUM(d.pgsize - d.unused), 0) FROM dbstat d JOIN sqlite_master m ON m.name = d.name "
            f"WHERE m.tbl_name IN ({marks})", RUN_TABLES).fetchall()
    return int(used)


def kind_of(line: dict[str, Any]) -> str | None:
    """The footprint kind of one backend log line, None for anything a run does not cost (health checks...)."""
    route: str = line["route"]
    if route.startswith("cron "):
        return "cron_tick" if line["outcome"] in ("done", "error") else None
    if route.startswith("queue "):
        outcome = line["outcome"]
        if route.endswith("-dlq"):
            return None
        if outcome == "submitted":
            return "deliver_submit"
        if outcome in WAITING_OUTCOMES:
            return "deliver_poll"
        if outcome in ("succeeded", "failed"):
            return "deliver_final"
        return "deliver_retry" if outcome in RETRIED_OUTCOMES else "deliver_other"
    if route == "POST /api/generate":
        return {201: "generate_sync", 202: "generate_async"}.get(line["status"])
    if route == "GET /api/runs/:id":
        return "read_run"
    if route in ("GET /api/media/:key", "HEAD /api/media/:key"):
        return "read_media"
    return None


class _Client:
    """The page's way of making a run: one request, a poll a second while it runs with the run's read token, one
    view of the image."""

    def __init__(self, system: LocalSystem) -> None:
        self.http = httpx.Client(base_url=system.url, timeout=30)
        self.calls = 0

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.calls += 1
        return self.http.request(method, url, **kwargs)

    def make_run(self, prompt: str) -> dict[str, Any]:
        response = self.call("POST", "/api/generate", json={"prompt": prompt})
        if response.status_code not in (201, 202):
            raise FootprintError(f"measure footprint failed: POST /api/generate answered {response.status_code}: "
                                 f"{response.text[:300]}")
        created = response.json()
        run = created["run"]
        # The page keeps the run's read token and sends it back with every read (docs/api.md "Who may read a run").
        private = {HEADERS.run_token: created["read_token"]}
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while run["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise FootprintError(f"measure footprint failed: run {run['id']} still {run['status']} after "
                                     f"{RUN_TIMEOUT_SECONDS:g} s")
            time.sleep(CLIENT_POLL_SECONDS)
            run = self.call("GET", f"/api/runs/{run['id']}", headers=private).json()["run"]
        for image in run.get("images") or []:
            self.call("GET", image["url"]).raise_for_status()
        return run

    def close(self) -> None:
        self.http.close()


@dataclass(frozen=True)
class Measured:
    """One system's share of the footprint."""

    lines: list[dict[str, Any]]
    cpu_ms: dict[str, float]
    frontend_calls: int
    bytes_per_run: float
    runs: list[dict[str, Any]]


def measure_system(system: LocalSystem, runs: int = RUNS, *, retried_run: bool = False) -> Measured:
    """`runs` runs the page's way (then, with `retried_run`, one whose submit fails once), and one cron tick."""
    client = _Client(system)
    window = _open(system)
    before = run_payload_bytes(system)
    try:
        made = [client.make_run(f"footprint {i}") for i in range(runs)]
        grown = run_payload_bytes(system) - before
        if retried_run:
            if system.standin is None:
                raise FootprintError("measure footprint failed: a retried run needs the stand-in")
            httpx.post(f"{system.standin.base_url}/_standin/faults", timeout=10, json={
                "status": 500, "code": "InternalError", "message": "once", "endpoint": "async-submit", "count": 1,
            }).raise_for_status()
            made.append(client.make_run("footprint retried"))
        system.run_cron("*/5 * * * *").raise_for_status()
    finally:
        client.close()
    return Measured(_settled(window), _cpu_ms(window), client.calls, grown / runs, made)


def footprint(sync: Measured, asyn: Measured, how: str) -> dict[str, Any]:
    """infra/ops/footprint.json from the two systems' measurements."""
    by_kind: dict[str, list[dict[str, int]]] = defaultdict(list)
    lines = [*sync.lines, *asyn.lines]
    for line in lines:
        kind = kind_of(line)
        if kind is not None:
            by_kind[kind].append(line["d1"])
    missing = [k for k in KINDS if not by_kind.get(k)]
    if missing or by_kind.get("deliver_other"):
        raise FootprintError(f"measure footprint failed: no log line of {missing} (or unexpected deliveries: "
                             f"{len(by_kind.get('deliver_other', []))}); read the backend's log")

    def mean(kind: str, field: str) -> float:
        values = [d[field] for d in by_kind[kind]]
        return round(sum(values) / len(values), 1)

    backend_invocations = len(lines)
    frontend_calls = sync.frontend_calls + asyn.frontend_calls
    cpu = {"backend": (sync.cpu_ms["backend"] + asyn.cpu_ms["backend"]) / backend_invocations,
           "frontend": (sync.cpu_ms["frontend"] + asyn.cpu_ms["frontend"]) / frontend_calls}
    return {
        "measured": datetime.now(UTC).date().isoformat(),
        "how": how,
        "invocations": {kind: {"count": len(by_kind[kind]), "d1_queries": mean(kind, "queries"),
                               "d1_rows_read": mean(kind, "rows_read"), "d1_rows_written": mean(kind, "rows_written")}
                        for kind in KINDS},
        "cpu_ms_per_invocation": {role: round(ms, 2) for role, ms in cpu.items()},
        "d1_bytes_per_run": {"sync": round(sync.bytes_per_run), "async": round(asyn.bytes_per_run)},
    }


@contextmanager
def systems(state: Path) -> Iterator[tuple[LocalSystem, LocalSystem]]:
    """A sync and an async local system, each with its own state, stopped on exit."""
    with ExitStack() as stack:
        sync = stack.enter_context(LocalSystem(port=0, state_dir=state / "sync"))
        asyn = stack.enter_context(LocalSystem(port=0, state_dir=state / "async", overrides=ASYNC))
        yield sync, asyn


HOW = (f"python -m bench.footprint: {RUNS} sync and {RUNS} async runs as the page makes them (plus one async run "
       "retried once and a cron tick) against the local system")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp, systems(Path(tmp)) as (sync, asyn):
        measured = footprint(measure_system(sync), measure_system(asyn, retried_run=True), HOW)
    FOOTPRINT_FILE.write_text(json.dumps(measured, indent=2) + "\n")
    print(f"wrote {FOOTPRINT_FILE}:\n{json.dumps(measured, indent=2)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
