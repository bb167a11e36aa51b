"""Every line the Workers log, as the local runtime printed it, is one JSON object of the contract's shape
(infra/model/contract.py `LOG`): `request_id`, `run_id` where there is one, `route`, `status`, `outcome` and
`duration_ms`, never a secret, a read token, a signed URL's signature or a whole prompt. The requests below cover
a success, each kind of failure, the async steps (submit, polls, a failed attempt, a dead letter, a re-drive) and
the sweeper; then every line of both Workers' output is checked, whatever test wrote it, and each request's own
lines are found by its request id (or its run's id) with the outcome docs/runbook.md "Logs" gives it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.model.bindings import SWEEP_CRON
from infra.model.naming import Role, physical_name
from localdev.system import LocalSystem
from tests.e2e.conftest import UPSTREAM_TIMEOUT_SECONDS
from tests.e2e.support import StandInControl, log_problems, wait_for_lines, wait_for_run, write_run


def prompt() -> str:
    """A prompt no other line could contain by chance, so finding it in the log means it was logged whole."""
    return f"log check {uuid.uuid4()}: a lighthouse keeper's cat reading the tide tables by lamplight"


def never_logged(system: LocalSystem, *more: str) -> list[str]:
    assert system.standin is not None
    return [system.admin_token, system.signing_key, system.run_token_key, system.standin.api_key, *more]


def lines_of(system: LocalSystem, request_id: str, count: int = 2) -> list[dict[str, Any]]:
    """The backend's and the frontend's line of one request: they share its id."""
    return wait_for_lines(system, lambda line: line["request_id"] == request_id, count)


def one_request(system: LocalSystem, response: httpx.Response) -> dict[str, Any]:
    """The backend's line of a proxied request, after checking the frontend's line beside it."""
    request_id = response.headers["x-request-id"]
    found = lines_of(system, request_id)
    assert len(found) == 2, found
    frontend = [line for line in found if line["outcome"] == "proxied"]
    backend = [line for line in found if line["outcome"] != "proxied"]
    assert len(frontend) == len(backend) == 1, found
    assert frontend[0]["via"] == "service-binding" and frontend[0]["status"] == response.status_code
    if not backend[0]["route"].endswith("(no route)"):  # the frontend masks what it cannot name
        assert frontend[0]["route"] == backend[0]["route"], "both Workers call the route alike"
    return backend[0]


@pytest.fixture
def secrets_seen() -> list[str]:
    """Read tokens and prompts the test handed out: none of them may reach the log."""
    return []


def test_a_success_and_each_failure_kind_log_one_line_per_worker(
        system: LocalSystem, standin: StandInControl, secrets_seen: list[str]) -> None:
    api = httpx.Client(base_url=system.url, timeout=30)
    admin = httpx.Client(base_url=system.url, timeout=30, headers={"Authorization": f"Bearer {system.admin_token}"})
    text = prompt()
    secrets_seen.append(text)
    key = str(uuid.uuid4())
    created = api.post("/api/generate", json={"prompt": text}, headers={"Idempotency-Key": key,
                                                                          "X-Request-Id": "client-chosen-1"})
    run_id, token = created.json()["run"]["id"], created.json()["read_token"]
    secrets_seen.append(token)
    line = one_request(system, created)
    assert (line["route"], line["status"], line["outcome"], line["run_id"]) == (
        "POST /api/generate", 201, "ok", run_id)
    assert line["client_request_id"] == "client-chosen-1" and line["duration_ms"] >= 0

    read = api.get(f"/api/runs/{run_id}", headers={"X-Run-Token": token})
    assert one_request(system, read)["route"] == "GET /api/runs/:id" and one_request(system, read)["run_id"] == run_id
    media = api.get(read.json()["run"]["images"][0]["url"])
    assert one_request(system, media)["route"] == "GET /api/media/:key"
    assert one_request(system, media)["run_id"] == run_id, "an image fetch is a line of its run"
    replay = api.post("/api/generate", json={"prompt": text}, headers={"Idempotency-Key": key})
    assert one_request(system, replay)["outcome"] == "replayed"

    failures: list[tuple[httpx.Response, str, str]] = [
        (api.post("/api/generate", json={"prompt": " "}), "POST /api/generate", "invalid_request"),
        (api.post("/api/generate", content=b"{}", headers={"Content-Type": "text/plain"}), "POST /api/generate",
         "unsupported_media_type"),
        (api.post("/api/generate", content=b" " * 20_000, headers={"Content-Type": "application/json"}),
         "POST /api/generate", "payload_too_large"),
        (api.get(f"/api/runs/{uuid.uuid4()}"), "GET /api/runs/:id", "not_found"),
        (api.get("/api/nothing/here"), "GET (no route)", "not_found"),
        (api.delete("/api/generate"), "DELETE /api/generate", "method_not_allowed"),
        (api.get("/api/runs"), "GET /api/runs", "unauthorized"),
        (api.get(f"/api/runs/{run_id}", headers={"X-Run-Token": "x" * 43}), "GET /api/runs/:id", "forbidden"),
        (api.post("/api/generate", json={"prompt": "another body"}, headers={"Idempotency-Key": key}),
         "POST /api/generate", "idempotency_conflict"),
        (admin.get("/api/ops/summary"), "GET /api/ops/summary", "ok"),
    ]
    for response, route, outcome in failures:
        found = one_request(system, response)
        assert (found["route"], found["status"], found["outcome"]) == (route, response.status_code, outcome), found

    upstream: list[tuple[dict[str, Any], str]] = [
        ({"status": 500, "code": "InternalError", "message": "down", "endpoint": "sync"}, "upstream_error"),
        ({"status": 429, "code": "Throttling.RateQuota", "message": "slow down", "endpoint": "sync"},
         "upstream_throttled"),
    ]
    for fault, outcome in upstream:
        standin.fault(**fault)
        failed = api.post("/api/generate", json={"prompt": prompt()})
        found = one_request(system, failed)
        assert (found["outcome"], found["run_id"]) == (outcome, failed.json()["error"]["run_id"]), found
    standin.latency(UPSTREAM_TIMEOUT_SECONDS + 2, endpoint="sync")
    slow = api.post("/api/generate", json={"prompt": prompt()})
    assert one_request(system, slow)["outcome"] == "upstream_timeout"
    standin.reset()
    standin.result_url("https://not-allowed.example/result.png")
    refused = api.post("/api/generate", json={"prompt": prompt()})
    assert (refused.status_code, one_request(system, refused)["outcome"]) == (502, "upstream_error")
    page = api.get("/")
    assert lines_of(system, page.headers["x-request-id"], 1)[0]["route"] == "GET /"

    assert log_problems(system, never_logged(system, *secrets_seen)) == []


def test_the_sweeper_logs_each_run_it_fails_and_its_tick(system: LocalSystem) -> None:
    since = datetime.now(UTC) - timedelta(hours=3)
    stuck = write_run(system, status="running", path=["running"], since=since)
    assert system.run_cron(SWEEP_CRON).status_code == 200
    (swept,) = wait_for_lines(system, lambda line: line["run_id"] == stuck)
    assert (swept["route"], swept["status"], swept["outcome"], swept["stuck_in"]) == (
        f"cron {SWEEP_CRON}", "ok", "abandoned", "running")
    (tick,) = wait_for_lines(system, lambda line: line["request_id"] == swept["request_id"] and line["run_id"] is None)
    assert (tick["outcome"], tick["swept"]) == ("done", 1) and "purged" in tick
    assert log_problems(system, never_logged(system)) == []


def test_the_async_steps_each_log_a_line_of_their_run(
        async_system: LocalSystem, async_standin: StandInControl, secrets_seen: list[str]) -> None:
    api = httpx.Client(base_url=async_system.url, timeout=30)
    admin = httpx.Client(base_url=async_system.url, timeout=30,
                         headers={"Authorization": f"Bearer {async_system.admin_token}"})
    assert async_system.settings is not None
    jobs = f"queue {physical_name(async_system.settings, Role.JOBS)}"
    dead_letters = f"queue {physical_name(async_system.settings, Role.DEAD_LETTER)}"

    async_standin.fault(status=500, code="InternalError", message="once", endpoint="async-submit", count=1)
    text = prompt()
    created = api.post("/api/generate", json={"prompt": text})
    run_id = created.json()["run"]["id"]
    secrets_seen += [text, created.json()["read_token"]]
    assert wait_for_run(admin, run_id)["run"]["status"] == "succeeded"
    steps = wait_for_lines(async_system, lambda line: line["run_id"] == run_id and line["route"] == jobs, 3)
    outcomes = [line["outcome"] for line in steps]
    assert outcomes[:2] == ["attempt_failed", "submitted"] and outcomes[-1] == "succeeded", outcomes
    assert steps[0]["status"] == "retry" and steps[0]["delay_seconds"] == 1 and steps[0]["attempt"] == 1
    assert all(line["request_id"] != created.headers["x-request-id"] for line in steps), "a delivery has its own id"
    (request,) = [line for line in lines_of(async_system, created.headers["x-request-id"]) if line["outcome"] == "ok"]
    assert (request["status"], request["run_id"]) == (202, run_id)

    async_standin.fault(status=500, code="InternalError", message="never", endpoint="async-submit", count=50)
    doomed = api.post("/api/generate", json={"prompt": prompt()}).json()["run"]["id"]
    assert wait_for_run(admin, doomed)["run"]["status"] == "dead_lettered"
    (letter,) = wait_for_lines(async_system, lambda line: line["run_id"] == doomed and line["route"] == dead_letters)
    assert (letter["status"], letter["outcome"], letter["error"]) == ("ack", "dead_lettered", "InternalError: never")
    async_standin.reset()
    redriven = admin.post(f"/api/runs/{doomed}/retry")
    found = [line for line in lines_of(async_system, redriven.headers["x-request-id"]) if line["outcome"] == "ok"]
    assert [(line["route"], line["run_id"]) for line in found] == [("POST /api/runs/:id/retry", doomed)]
    assert wait_for_run(admin, doomed)["run"]["status"] == "succeeded"

    assert log_problems(async_system, never_logged(async_system, *secrets_seen)) == []


def test_a_signed_image_url_never_reaches_the_log(signed_system: LocalSystem) -> None:
    api = httpx.Client(base_url=signed_system.url, timeout=30)
    created = api.post("/api/generate", json={"prompt": prompt()}).json()
    url = created["run"]["images"][0]["url"]
    assert "sig=" in url
    fetched = api.get(url)
    assert fetched.status_code == 200
    assert api.get(url.replace("sig=", "sig=x")).status_code == 403
    assert log_problems(signed_system, never_logged(signed_system, created["read_token"], url.split("?")[1])) == []
