"""The operational view: `GET /api/ops/summary` (admin) against a system whose every run the test made — one
failed, one dead-lettered, three succeeded, one still running — and the `/ops` page in headless Chromium."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest

from localdev.system import LocalSystem
from tests.e2e.conftest import ASYNC, JOBS_MAX_RETRIES, client
from tests.e2e.support import (
    SCREENSHOTS,
    LocalState,
    StandInControl,
    create_async_run,
    error_of,
    fail_async_runs,
    run_browser,
    wait_for_run,
)


@dataclass(frozen=True)
class Made:
    """The runs this module created on `ops_system`, by what happened to them."""

    failed: str
    dead_lettered: str
    succeeded: list[str]
    running: str


@pytest.fixture(scope="module")
def ops_admin(ops_system: LocalSystem) -> Iterator[httpx.Client]:
    with client(ops_system, admin=True) as admin:
        yield admin


@pytest.fixture(scope="module")
def made(ops_system: LocalSystem) -> Made:
    assert ops_system.standin is not None
    control = StandInControl(ops_system.standin.base_url, ops_system.standin.api_key)
    with control, client(ops_system) as api, client(ops_system, admin=True) as admin:
        failed, dead = fail_async_runs(api, admin, control, JOBS_MAX_RETRIES + 1)
        succeeded = [create_async_run(api, f"fine {i}") for i in range(3)]
        for run_id in succeeded:
            assert wait_for_run(admin, run_id)["run"]["status"] == "succeeded"
        control.tasks(polls_pending=0, polls_running=1000, count=1)
        running = create_async_run(api, "takes forever")
        assert wait_for_run(admin, running, statuses=("running",))["run"]["status"] == "running"
    return Made(failed, dead, succeeded, running)


def _ms(start: str, end: str) -> int:
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return round((parse(end) - parse(start)).total_seconds() * 1000)


def test_summary_numbers_match_the_runs_created(ops_system: LocalSystem, ops_admin: httpx.Client,
                                                 made: Made) -> None:
    response = ops_admin.get("/api/ops/summary", params={"window": "1h"})
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["counts"] == {"queued": 0, "submitted": 0, "running": 1, "persisting": 0, "succeeded": 3,
                                 "failed": 1, "dead_lettered": 1}
    assert (summary["total"], summary["dead_lettered"]) == (6, 1)
    assert summary["window"]["text"] == "1h" and summary["window"]["seconds"] == 3600

    state = LocalState(ops_system)
    in_d1 = {r["status"]: r["n"] for r in state.query("SELECT status, COUNT(*) AS n FROM runs GROUP BY status")}
    assert {k: v for k, v in summary["counts"].items() if v} == in_d1

    oldest = summary["oldest_active"]
    [running] = state.query("SELECT created_at FROM runs WHERE id = ?", made.running)
    assert (oldest["run_id"], oldest["status"], oldest["created_at"]) == (made.running, "running",
                                                                          running["created_at"])
    assert 0 <= oldest["age_seconds"] < 120

    rows = state.query("SELECT created_at, completed_at FROM runs WHERE status = 'succeeded'")
    durations = sorted(_ms(r["created_at"], r["completed_at"]) for r in rows)
    nearest_rank = lambda q: durations[math.ceil(q * len(durations)) - 1]  # noqa: E731
    latency, bounds = summary["latency_ms"], summary["latency_bounds_ms"]
    assert latency["succeeded"] == 3
    assert bounds == sorted(set(bounds)) and bounds[-1] == 86_400_000
    # Percentiles are read off the histogram: the upper bound of the bucket holding the nearest rank.
    edge = lambda ms: next(b for b in bounds if b >= ms)  # noqa: E731
    assert [latency["p50"], latency["p95"], latency["p99"]] == [edge(nearest_rank(q)) for q in (0.5, 0.95, 0.99)]
    assert latency["le"] == [sum(d <= b for d in durations) for b in bounds]
    assert abs(latency["mean"] - sum(durations) / 3) <= 1

    assert [(f["run_id"], f["status"], f["error"]["code"]) for f in summary["latest_failures"]] == [
        (made.dead_lettered, "dead_lettered", "InternalError"), (made.failed, "failed", "InvalidParameter")]


def test_every_window_counts_the_same_recent_runs_from_its_own_cells(ops_admin: httpx.Client, made: Made) -> None:
    """Minute cells for 1 h, hour cells for 24 h, hour and day cells for 7 d and 30 d: the same runs either way."""
    summaries = {w: ops_admin.get("/api/ops/summary", params={"window": w}).json() for w in ("1h", "24h", "7d", "30d")}
    seen = {w: (s["counts"], s["latency_ms"]["le"], s["by_mode"], s["errors"]) for w, s in summaries.items()}
    assert seen["24h"] == seen["7d"] == seen["30d"] == seen["1h"]
    assert [summaries[w]["window"]["cell_seconds"] for w in summaries] == [60, 3600, 3600, 3600]
    assert [summaries[w]["series"]["step_seconds"] for w in summaries] == [60, 3600, 3 * 3600, 86400]
    for summary in summaries.values():
        assert sum(sum(p["counts"].values()) for p in summary["series"]["points"]) == summary["total"]


def test_summary_needs_the_admin_token_and_a_sane_window(ops_system: LocalSystem, ops_admin: httpx.Client) -> None:
    with client(ops_system) as anonymous:
        assert anonymous.get("/api/ops/summary").status_code == 401
    for params, field in (({"window": "yesterday"}, "window"), ({"window": "31d"}, "window"),
                          ({"status": "failed"}, "status")):
        response = ops_admin.get("/api/ops/summary", params=params)
        assert response.status_code == 400
        assert error_of(response)["field"] == field
    assert ops_admin.get("/api/ops/summary").json()["window"]["text"] == "24h"


def test_ops_page_in_headless_chromium(ops_system: LocalSystem, made: Made) -> None:
    screenshot = SCREENSHOTS / "ops.png"
    seen = run_browser("ops_page.mjs", ops_system.url, ops_system.admin_token, str(screenshot))
    assert seen["refused"] == "The admin token was refused." and seen["hiddenAfterRefusal"]
    assert "pulumi config get --stack <env> adminToken" in seen["tokenHelp"] and "make dev" in seen["tokenHelp"]
    first, second = seen["first"], seen["second"]
    assert first["dead"] == "1"
    assert first["counts"]["succeeded"] == "3" and first["counts"]["dead_lettered"] == "1"
    failures = {row[0]: row for row in first["failures"]}
    assert failures[made.dead_lettered][1:3] == ["dead_lettered", "InternalError: down"]
    assert failures[made.failed][1:3] == ["failed", "InvalidParameter: bad size"]
    assert first["failuresTable"] and first["noFailures"] is None
    assert first["p50"].endswith(" s") and first["p99"].endswith(" s") and first["oldest"]
    assert first["polls"] == "3.0"  # the three successes: PENDING, RUNNING, SUCCEEDED
    # Sync health: this stack is async; its failures by cause, from the contract's declaration.
    assert "Async processing is on here" in first["healthNote"]
    assert first["health"]["ended"]["async"] == "5" and first["health"]["ended"]["sync"] == "no runs"
    assert first["health"]["dead-lettered"]["async"] == "20.0 % (1 of 5)"
    assert sorted(first["causeKeys"]) == ["invalid_input", "upstream_error"]
    causes = {row[0]: row[1:] for row in first["causes"]}
    assert causes["invalid input"] == ["no", "0", "1", "InvalidParameter (1)"]
    assert causes["upstream 5xx, unreachable or a failed task"] == ["yes", "0", "1", "InternalError (1)"]
    # The charts, drawn in the page: a bar per interval and status that had runs, the latency histogram marked.
    assert {"succeeded", "failed", "dead_lettered", "running"} <= set(first["barsByStatus"])
    assert any(first["latencyBars"]) and first["latencyMarks"] == ["p50", "p95", "p99"]
    assert first["legend"] == ["queued", "submitted", "running", "persisting", "succeeded", "failed", "dead_lettered"]
    assert seen["created"] == 202 and int(second["total"]) == int(first["total"]) + 1
    assert seen["tokenInStorage"], "the token belongs in sessionStorage only"
    assert seen["problems"] == [] and seen["offsite"] == []
    assert seen["errors"] == ["401 /api/ops/summary"], "only the refused token may answer an error"
    assert screenshot.stat().st_size > 10_000


def test_ops_page_says_plainly_when_there_are_no_failures(schedule_system: LocalSystem) -> None:
    """The poll-schedule system has only ever had runs that succeeded (or none, when run on its own)."""
    seen = run_browser("ops_page.mjs", schedule_system.url, schedule_system.admin_token,
                       str(SCREENSHOTS / "ops-no-failures.png"))
    first = seen["first"]
    assert first["noFailures"] == "No failures in this window." and not first["failuresTable"]
    assert first["noCauses"] == "No failures in this window." and first["causeKeys"] == []
    assert first["dead"] == "0" and seen["problems"] == [] and seen["offsite"] == []


def test_a_task_running_past_the_poll_budget_fails(ops_system: LocalSystem, made: Made) -> None:
    with client(ops_system, admin=True) as admin:
        body = wait_for_run(admin, made.running, timeout=60)
    run = body["run"]
    max_polls = ASYNC["queues.polling.max_polls"]
    assert (run["status"], run["error"]["code"]) == ("failed", "task_timeout")
    assert run["error"]["message"] == f"the task was still RUNNING after {max_polls} polls"
    assert len([e for e in body["events"] if e["type"] == "task_polled"]) == max_polls
