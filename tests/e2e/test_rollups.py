"""The run rollups (migration 0003) kept by the real Worker agree with a recount of the raw rows after a mixed
workload: sync successes and failures, async successes, transient failures retried, permanent failures, dead
letters and re-drives of both kinds of ended run — and with whatever else the session's tests did to the same
systems before."""

from __future__ import annotations

from datetime import datetime

import httpx

from infra.d1 import rollups
from localdev.system import LocalSystem
from tests.e2e.conftest import JOBS_MAX_RETRIES
from tests.e2e.support import StandInControl, d1_of, wait_for_run


def _hour(created_at: str) -> int:
    at = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return int(at.timestamp()) // 3600 * 3600


def _generate(api: httpx.Client, prompt: str) -> str:
    response = api.post("/api/generate", json={"prompt": prompt})
    body = response.json()
    return body["run"]["id"] if "run" in body else body["error"]["run_id"]


def test_async_rollups_agree_with_a_recount_after_retries_dead_letters_and_redrives(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl, async_system: LocalSystem
) -> None:
    fine = _generate(async_api, "rollups: fine")
    wait_for_run(async_admin, fine)
    async_standin.fault(status=503, code="ServiceUnavailable", message="later", endpoint="async-submit", count=1)
    retried = _generate(async_api, "rollups: retried once")
    wait_for_run(async_admin, retried)
    async_standin.fault(status=400, code="InvalidParameter", message="bad", endpoint="async-submit")
    failed = _generate(async_api, "rollups: refused")
    wait_for_run(async_admin, failed)
    async_standin.fault(status=500, code="InternalError", message="down", endpoint="async-submit",
                        count=JOBS_MAX_RETRIES + 1)
    dead = _generate(async_api, "rollups: dead letter")
    assert wait_for_run(async_admin, dead)["run"]["status"] == "dead_lettered"
    for run_id in (failed, dead):  # both kinds of ended run, re-driven to success
        assert async_admin.post(f"/api/runs/{run_id}/retry").status_code == 202
        assert wait_for_run(async_admin, run_id)["run"]["status"] == "succeeded"

    db = d1_of(async_system)
    assert rollups.differences(db) == []
    runs = {r["id"]: r for r in db.query(
        "SELECT id, mode, status, retries, created_at, queue_wait_ms, task_ms FROM runs WHERE id IN (?, ?, ?, ?)",
        [fine, retried, failed, dead])}
    assert {r["status"] for r in runs.values()} == {"succeeded"} and {r["mode"] for r in runs.values()} == {"async"}
    assert [runs[i]["retries"] for i in (fine, retried, failed, dead)] == [0, 1, 0, JOBS_MAX_RETRIES + 1]
    assert all(r["queue_wait_ms"] is not None and r["task_ms"] is not None for r in runs.values())
    # Each run's retries are its recorded failed attempts (the dead letter's from its first life).
    for run_id, run in runs.items():
        [events] = db.query("SELECT COUNT(*) AS n FROM run_events WHERE run_id = ? AND type = 'attempt_failed'",
                            [run_id])
        assert events["n"] == run["retries"], run_id


def test_sync_rollups_agree_with_a_recount_after_successes_and_failures(
    api: httpx.Client, standin: StandInControl, system: LocalSystem
) -> None:
    ok = _generate(api, "rollups: sync fine")
    standin.fault(status=500, code="InternalError", message="down", endpoint="sync")
    upstream = _generate(api, "rollups: sync upstream down")
    standin.fault(status=404, code="NoSuchKey", message="gone", endpoint="image")
    download = _generate(api, "rollups: sync download fails")

    db = d1_of(system)
    assert rollups.differences(db) == []
    rows = db.query("SELECT id, mode, status, error_code, created_at FROM runs WHERE id IN (?, ?, ?)",
                    [ok, upstream, download])
    assert {(r["mode"], r["status"]) for r in rows} == {("sync", "succeeded"), ("sync", "failed")}
    # The hour cell of each run holds it under its status and error code.
    for row in rows:
        [cell] = db.query("SELECT runs FROM run_rollups WHERE grain = 3600 AND bucket = ? AND mode = 'sync' "
                          "AND status = ? AND error_code = ?",
                          [str(_hour(row["created_at"])), row["status"], row["error_code"] or ""])
        assert cell["runs"] >= 1, row
