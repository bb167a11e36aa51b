"""The sweeper of abandoned sync runs, in the real runtime: the backend's cron handler fails a sync run a dead
request left non-terminal (code `abandoned`, with a status event) and deletes what it stored in R2, and
leaves alone a run that may still be in flight and every async run.

A crash cannot be staged honestly inside one `wrangler dev`, so each run is written in exactly the state
a backend dying mid-request leaves behind: its row and status events in the local D1 database (through
wrangler's own `d1 execute --local`, `support.write_run`) and, for a `persisting` run, an object under its R2
prefix.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from infra.d1 import rollups
from infra.model.bindings import SWEEP_CRON, sweep_after_seconds
from localdev.system import LocalSystem
from tests.e2e.conftest import client
from tests.e2e.support import LocalState, d1_of, events_of, write_run

STUCK_FOR = timedelta(hours=3)


def _put_object(system: LocalSystem, key: str, tmp_path: Path) -> None:
    body = tmp_path / "partial.png"
    body.write_bytes(b"\x89PNG half an image")
    result = system.wrangler("r2", "object", "put", f"{system.bucket_name}/{key}", "--local", "--file", str(body))
    assert result.returncode == 0, result.stdout + result.stderr


def _prefix(run_id: str, created: datetime) -> str:
    return f"generated/{created:%Y/%m/%d}/{run_id}/"


def _show(api: httpx.Client, run_id: str) -> dict:
    response = api.get(f"/api/runs/{run_id}")
    response.raise_for_status()
    return response.json()


@pytest.fixture
def url_admin(url_system: LocalSystem) -> httpx.Client:
    """Reads the whole run (its events are the admin's to read)."""
    return client(url_system, admin=True)


def test_the_stuck_for_period_is_past_the_sweep_threshold(url_system: LocalSystem) -> None:
    """The runs below are old enough to sweep only because the threshold is well under STUCK_FOR."""
    assert url_system.settings is not None
    assert sweep_after_seconds(url_system.settings) < STUCK_FOR.total_seconds()


def test_cron_fails_abandoned_sync_runs_and_deletes_what_they_stored(
    url_system: LocalSystem, url_admin: httpx.Client, tmp_path: Path
) -> None:
    state = LocalState(url_system)
    since = datetime.now(UTC) - STUCK_FOR
    persisting = write_run(url_system, status="persisting", path=["running", "persisting"], since=since)
    running = write_run(url_system, status="running", path=["running"], since=since)
    leftover = _prefix(persisting, since) + "0.png"
    _put_object(url_system, leftover, tmp_path)
    assert [o.key for o in state.objects(_prefix(persisting, since))] == [leftover]

    response = url_system.run_cron(SWEEP_CRON)
    assert response.status_code == 200, response.text

    for run_id, stuck_in in ((persisting, "persisting"), (running, "running")):
        body = _show(url_admin, run_id)
        run = body["run"]
        assert run["status"] == "failed", run_id
        assert run["error"]["code"] == "abandoned"
        assert run["error"]["message"] == (
            f"the run was stuck in '{stuck_in}' for 3.0 h (the backend stopped mid-request)"
        )
        assert run["completed_at"] is not None and run["images"] == []
        last = events_of(body, "status")[-1]
        assert (last["from"], last["to"]) == (stuck_in, "failed")
        assert last["detail"]["code"] == "abandoned" and last["detail"]["stage"] == "sweep"
    assert state.objects(_prefix(persisting, since)) == []
    assert state.query("SELECT COUNT(*) AS n FROM run_assets WHERE run_id = ?", persisting) == [{"n": 0}]
    # From a day before these runs: older cells may belong to runs the retention purge removed (test_retention.py).
    since = int((since - timedelta(days=1)).timestamp())
    assert rollups.differences(d1_of(url_system), since_bucket=since) == []


def test_cron_leaves_a_run_that_may_still_be_in_flight(url_system: LocalSystem, url_admin: httpx.Client) -> None:
    fresh = write_run(url_system, status="running", path=["running"], since=datetime.now(UTC) - timedelta(seconds=5))

    assert url_system.run_cron(SWEEP_CRON).status_code == 200

    body = _show(url_admin, fresh)
    assert body["run"]["status"] == "running" and body["run"]["error"] is None
    assert len(body["events"]) == 1


@pytest.mark.parametrize(
    ("status", "path", "job_seq"),
    [
        ("queued", ["queued"], 0),
        ("submitted", ["queued", "submitted"], 0),
        ("running", ["queued", "submitted", "running"], 3),
        ("persisting", ["queued", "submitted", "running", "persisting"], 4),
        ("running", ["running", "failed", "queued", "submitted", "running"], 2),
    ],
    ids=["queued", "submitted", "polling", "persisting", "re-driven sync run"],
)
def test_cron_never_touches_an_async_run(
    url_system: LocalSystem, url_admin: httpx.Client, tmp_path: Path, status: str, path: list[str], job_seq: int
) -> None:
    """Async runs recover through leases and redelivery; however old, the sweeper leaves them as they are."""
    since = datetime.now(UTC) - STUCK_FOR
    run_id = write_run(url_system, status=status, path=path, since=since, job_seq=job_seq)
    key = _prefix(run_id, since) + "0.png"
    _put_object(url_system, key, tmp_path)

    assert url_system.run_cron(SWEEP_CRON).status_code == 200

    body = _show(url_admin, run_id)
    assert body["run"]["status"] == status and body["run"]["error"] is None, json.dumps(body)
    assert len(body["events"]) == len(path)
    assert [o.key for o in LocalState(url_system).objects(_prefix(run_id, since))] == [key]
