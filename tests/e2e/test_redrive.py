"""Re-driving a failed or dead-lettered run (`POST /api/runs/<id>/retry`, admin, and `infra runs retry`):
the run goes back to `queued` under a new wake-up number, gets a new upstream task and finishes; anything else
is refused with a 409 that says why."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from infra.cli import main
from localdev.system import LocalSystem
from tests.e2e.conftest import JOBS_MAX_RETRIES
from tests.e2e.support import StandInControl, error_of, events_of, transitions, wait_for_run


def _dead_lettered_run(api: httpx.Client, admin: httpx.Client, standin: StandInControl, prompt: str) -> str:
    """A run whose every delivery failed; the fault is used up with it, so a re-drive meets a healthy upstream."""
    standin.fault(status=500, code="InternalError", message="down", endpoint="async-submit",
                  count=JOBS_MAX_RETRIES + 1)
    run_id = api.post("/api/generate", json={"prompt": prompt}).json()["run"]["id"]
    assert wait_for_run(admin, run_id)["run"]["status"] == "dead_lettered"
    return run_id


def test_redrive_of_a_dead_lettered_run_succeeds_with_a_new_task(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl
) -> None:
    run_id = _dead_lettered_run(async_api, async_admin, async_standin, "a second chance")
    response = async_admin.post(f"/api/runs/{run_id}/retry")
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/runs/{run_id}"
    queued = response.json()["run"]
    assert (queued["status"], queued["error"], queued["completed_at"]) == ("queued", None, None)

    body = wait_for_run(async_admin, run_id)
    run = body["run"]
    assert run["status"] == "succeeded" and len(run["images"]) == 1
    assert transitions(body) == [(None, "queued"), ("queued", "dead_lettered"), ("dead_lettered", "queued"),
                                 ("queued", "submitted"), ("submitted", "running"), ("running", "persisting"),
                                 ("persisting", "succeeded")]
    redrive = events_of(body, "status")[2]["detail"]
    assert redrive["redrive"] is True and redrive["previous"] == {
        "status": "dead_lettered", "error_code": "InternalError", "task_id": None}
    submits = async_standin.calls("async-submit")
    assert [c["status"] for c in submits] == [500] * (JOBS_MAX_RETRIES + 1) + [200]
    assert run["provider"]["task_id"] == submits[-1]["task_id"]


def test_cli_redrives_a_failed_run(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl, async_system: LocalSystem,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    async_standin.fault(status=400, code="InvalidParameter", message="nope", endpoint="async-submit")
    run_id = async_api.post("/api/generate", json={"prompt": "fixed upstream"}).json()["run"]["id"]
    assert wait_for_run(async_admin, run_id)["run"]["status"] == "failed"

    monkeypatch.setenv("ADMIN_TOKEN", async_system.admin_token)
    args = ["runs", "retry", "--stack", "local", "--base-url", async_system.url, run_id]
    assert main(args) == 0
    assert capsys.readouterr().out == (f"run {run_id} re-driven: now queued; follow it with "
                                       f"`infra runs show --stack local {run_id}`\n")
    assert wait_for_run(async_admin, run_id)["run"]["status"] == "succeeded"

    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"error: retry run '{run_id}' failed: {async_system.url} answered 409 not_retryable: run is 'succeeded': "
        "only failed or dead_lettered runs can be re-driven\n")


def test_only_failed_or_dead_lettered_runs_are_redriven(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl
) -> None:
    run_id = async_api.post("/api/generate", json={"prompt": "all good"}).json()["run"]["id"]
    assert wait_for_run(async_admin, run_id)["run"]["status"] == "succeeded"
    refused = async_admin.post(f"/api/runs/{run_id}/retry")
    assert refused.status_code == 409
    error = error_of(refused)
    assert (error["code"], error["run_id"], error["status"]) == ("not_retryable", run_id, "succeeded")
    assert len(async_standin.calls("async-submit")) == 1

    assert async_api.post(f"/api/runs/{run_id}/retry").status_code == 401
    missing = async_admin.post("/api/runs/00000000-0000-4000-8000-000000000000/retry")
    assert (missing.status_code, error_of(missing)["code"]) == (404, "not_found")
    assert async_admin.get(f"/api/runs/{run_id}/retry").status_code == 405


def test_concurrent_redrives_move_the_run_once(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl
) -> None:
    async_standin.fault(status=400, code="InvalidParameter", message="nope", endpoint="async-submit")
    run_id = async_api.post("/api/generate", json={"prompt": "twice at once"}).json()["run"]["id"]
    assert wait_for_run(async_admin, run_id)["run"]["status"] == "failed"
    with ThreadPoolExecutor(max_workers=3) as pool:
        responses = list(pool.map(lambda _: async_admin.post(f"/api/runs/{run_id}/retry"), range(3)))
    assert sorted(r.status_code for r in responses) == [202, 409, 409]
    body = wait_for_run(async_admin, run_id)
    assert body["run"]["status"] == "succeeded"
    assert [e["detail"]["reason"] for e in events_of(body, "job_sent")] == ["created", "redrive"]
    assert [c["status"] for c in async_standin.calls("async-submit")] == [400, 200]


def test_a_sync_stack_does_not_redrive(api: httpx.Client, admin: httpx.Client, standin: StandInControl) -> None:
    standin.fault(status=400, code="InvalidParameter", message="nope", endpoint="sync")
    run_id = error_of(api.post("/api/generate", json={"prompt": "sync"}))["run_id"]
    refused = admin.post(f"/api/runs/{run_id}/retry")
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "async_disabled"
