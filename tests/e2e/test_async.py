"""Async processing through the real local Queues (workerd's retries and dead-letter queue), D1 and R2, against
the stand-in's async API: `POST /api/generate` answers 202 at once and the consumer takes the run through
queued → submitted → running → persisting → succeeded, retries what is transient, fails what is permanent,
dead-letters what keeps failing, and never does work twice for duplicate deliveries."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import httpx
import pytest

from localdev.system import LocalSystem
from tests.e2e.conftest import JOBS_MAX_RETRIES
from tests.e2e.support import (
    LocalState,
    StandInControl,
    StoredObject,
    events_of,
    expected_png,
    sha256,
    transitions,
    wait_for_run,
)

HAPPY_PATH = [(None, "queued"), ("queued", "submitted"), ("submitted", "running"), ("running", "persisting"),
              ("persisting", "succeeded")]


def _run_row(state: LocalState, run_id: str) -> dict:
    [row] = state.query("SELECT status, provider_task_id, job_seq, polls, lease_token, attempts FROM runs "
                        "WHERE id = ?", run_id)
    return row


def _objects_of(state: LocalState, run: dict) -> list[StoredObject]:
    return [o for o in state.objects() if f"/{run['id']}/" in o.key]


def test_generate_answers_202_and_the_consumer_takes_the_run_to_succeeded(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl, async_state: LocalState,
    async_system: LocalSystem,
) -> None:
    prompt, seed, size = "a lighthouse in a storm, ink", 5, "1328*1328"
    response = async_api.post("/api/generate", json={"prompt": prompt, "seed": seed, "size": size,
                                                     "negative_prompt": "blurry"})
    assert response.status_code == 202, response.text
    queued = response.json()["run"]
    assert (queued["status"], queued["images"], queued["completed_at"]) == ("queued", [], None)
    assert response.headers["location"] == f"/api/runs/{queued['id']}"

    body = wait_for_run(async_admin, queued["id"])
    run = body["run"]
    assert run["status"] == "succeeded", run
    assert transitions(body) == HAPPY_PATH
    [submit] = async_standin.calls("async-submit")
    assert run["provider"]["task_id"] == submit["task_id"] and run["attempts"] == 1
    assert not async_standin.calls("sync")
    task = async_standin.task(submit["task_id"])
    # What reached the provider is the request, sent as the async API wants it.
    assert (task["prompt"], task["negative_prompt"], task["seed"], task["size"]) == (prompt, "blurry", seed, size)
    assert [e["detail"]["task_status"] for e in events_of(body, "task_polled")] == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert len(async_standin.calls("task")) == task["polls"] == 3
    # Each query waits for the delayed wake-up the consumer sent: the first when the task should be done
    # (expected_task_seconds 1 s), then initial_delay (1 s), then doubled and capped at max_delay (2 s); delays
    # are minimums. The arithmetic itself is the unit tier's (tests/unit/backend/backoff.test.js).
    times = [submit["at"]] + [c["at"] for c in async_standin.calls("task")]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert len(gaps) == 3 and min(gaps[:2]) >= 0.95 and gaps[2] >= 1.95, gaps

    [image] = run["images"]
    want = expected_png(prompt, seed, size)
    assert (image["sha256"], image["bytes"]) == (sha256(want), len(want))
    assert _objects_of(async_state, run) == [StoredObject(image["key"], len(want))]
    assert async_standin.expire_urls() >= 1
    assert sha256(httpx.get(image["url"], timeout=30).content) == sha256(want)
    assert _run_row(async_state, run["id"]) == {
        "status": "succeeded", "provider_task_id": submit["task_id"], "job_seq": 3, "polls": 3,
        "lease_token": None, "attempts": 1,
    }


@pytest.mark.parametrize(("endpoint", "status", "code"), [
    ("async-submit", 429, "Throttling.RateQuota"),
    ("async-submit", 503, "ServiceUnavailable"),
    ("task", 500, "InternalError"),
], ids=["throttled submit", "submit 5xx", "poll 5xx"])
def test_transient_upstream_errors_are_retried_with_backoff_then_succeed(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl, endpoint: str, status: int,
    code: str,
) -> None:
    async_standin.fault(status=status, code=code, message="try later", endpoint=endpoint, count=1)
    run_id = async_api.post("/api/generate", json={"prompt": f"weather after {code}"}).json()["run"]["id"]
    body = wait_for_run(async_admin, run_id)
    assert body["run"]["status"] == "succeeded", body["run"]
    [failed] = events_of(body, "attempt_failed")
    assert failed["detail"] | {"message": None} == {
        "stage": "submit" if endpoint == "async-submit" else "poll", "code": code, "message": None,
        "http_status": status, "attempt": 1, "max_attempts": JOBS_MAX_RETRIES + 1, "retry_in_seconds": 1,
    }
    submits = async_standin.calls("async-submit")
    assert [c["status"] for c in submits] == ([status, 200] if endpoint == "async-submit" else [200])
    assert body["run"]["provider"]["task_id"] == submits[-1]["task_id"]
    assert transitions(body)[-1] == ("persisting", "succeeded")


@pytest.mark.parametrize(("setup", "code", "path"), [
    ({"fault": {"status": 400, "code": "InvalidParameter", "message": "bad size", "endpoint": "async-submit"}},
     "InvalidParameter", [(None, "queued"), ("queued", "failed")]),
    ({"tasks": {"polls_pending": 0, "polls_running": 1, "outcome": "FAILED", "code": "DataInspectionFailed",
                "message": "Output data may contain inappropriate content."}},
     "DataInspectionFailed", [(None, "queued"), ("queued", "submitted"), ("submitted", "running"),
                              ("running", "failed")]),
    ({"tasks": {"polls_pending": 1, "polls_running": 0, "outcome": "UNKNOWN"}},
     "task_unknown", [(None, "queued"), ("queued", "submitted"), ("submitted", "failed")]),
], ids=["submit 400", "task FAILED", "task UNKNOWN"])
def test_permanent_failures_fail_the_run_at_once_with_the_providers_code(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl, async_state: LocalState,
    setup: dict, code: str, path: list,
) -> None:
    if "fault" in setup:
        async_standin.fault(**setup["fault"])
    else:
        async_standin.tasks(**setup["tasks"])
    run_id = async_api.post("/api/generate", json={"prompt": f"a failure: {code}"}).json()["run"]["id"]
    body = wait_for_run(async_admin, run_id)
    run = body["run"]
    assert (run["status"], run["error"]["code"]) == ("failed", code)
    assert transitions(body) == path
    assert events_of(body, "attempt_failed") == [], "a permanent failure is not retried"
    assert len(async_standin.calls("async-submit")) == 1
    assert run["images"] == [] and not _objects_of(async_state, run)
    assert _run_row(async_state, run_id)["lease_token"] is None


def test_a_job_that_always_errors_is_dead_lettered_after_exactly_the_configured_attempts(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl
) -> None:
    async_standin.fault(status=500, code="InternalError", message="it never works", endpoint="async-submit", count=50)
    run_id = async_api.post("/api/generate", json={"prompt": "a poisoned job"}).json()["run"]["id"]
    body = wait_for_run(async_admin, run_id)
    run = body["run"]
    assert run["status"] == "dead_lettered"
    assert run["error"] == {"code": "InternalError", "message": "it never works"}
    attempts = JOBS_MAX_RETRIES + 1
    assert len(async_standin.calls("async-submit")) == attempts
    failed = events_of(body, "attempt_failed")
    assert [e["detail"]["attempt"] for e in failed] == list(range(1, attempts + 1))
    assert failed[-1]["detail"]["retry_in_seconds"] is None, "the last attempt is not followed by another"
    assert [e["detail"]["retry_in_seconds"] for e in failed[:-1]] == [1, 2][: attempts - 1]
    assert transitions(body) == [(None, "queued"), ("queued", "dead_lettered")]
    assert run["completed_at"] is not None and run["provider"]["task_id"] is None


def test_the_same_job_delivered_concurrently_makes_one_task_and_one_asset_set(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl, async_state: LocalState
) -> None:
    """Four requests with one Idempotency-Key at once: the first creates the run and sends its job, and each
    replay of the still-queued run sends the same job again (the producer is at-least-once), so the consumer
    gets four deliveries of wake-up 0 of one run, concurrently while the first one submits."""
    async_standin.latency(1.5, endpoint="async-submit")
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(
            lambda _: async_api.post("/api/generate", json={"prompt": "one fox, once"},
                                     headers={"Idempotency-Key": key}),
            range(4),
        ))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 202]
    [run_id] = {r.json()["run"]["id"] for r in responses}
    body = wait_for_run(async_admin, run_id)
    assert body["run"]["status"] == "succeeded"
    sent = events_of(body, "job_sent")
    assert sorted((e["detail"]["seq"], e["detail"]["reason"]) for e in sent) == [(0, "created")] + [(0, "replay")] * 3
    skipped = events_of(body, "delivery_skipped")
    assert len(skipped) == 3, skipped
    assert {e["detail"]["reason"] for e in skipped} <= {"leased", "stale"}
    assert len(async_standin.calls("async-submit")) == 1, "a duplicate delivery submitted a second task"
    assert transitions(body) == HAPPY_PATH
    [image] = body["run"]["images"]
    assert async_state.query("SELECT idx, r2_key FROM run_assets WHERE run_id = ?", run_id) == [
        {"idx": 0, "r2_key": image["key"]}]
    assert _objects_of(async_state, body["run"]) == [StoredObject(image["key"], image["bytes"])]
