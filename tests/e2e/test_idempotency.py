"""`Idempotency-Key`: a replay answers 200 with the same run (and its read token, since the first answer may
have been lost) and never calls the provider again; the same key with another body is a 409 that says nothing
about the run the key names. The key's uniqueness is enforced by D1, so concurrent requests agree too."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.e2e.support import LocalState, StandInControl, error_of


def test_replay_returns_the_same_run_without_a_second_upstream_call(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl
) -> None:
    key = str(uuid.uuid4())
    body = {"prompt": "a paper boat", "seed": 11}
    first = api.post("/api/generate", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    # Same body, fields in another order: still the same request.
    second = api.post("/api/generate", json={"seed": 11, "prompt": "a paper boat"}, headers={"Idempotency-Key": key})
    assert second.status_code == 200
    assert second.json()["run"] == first.json()["run"]
    assert second.json()["read_token"] == first.json()["read_token"], "the same token: the first may be lost"
    assert len(standin.calls("sync")) == 1
    assert len(standin.calls("image")) == 1

    events = admin.get(f"/api/runs/{first.json()['run']['id']}").json()["events"]
    replays = [e for e in events if e["type"] == "idempotent_replay"]
    assert [e["detail"]["request_id"] for e in replays] == [second.headers["x-request-id"]]


def test_same_key_with_another_body_is_a_conflict(api: httpx.Client, standin: StandInControl) -> None:
    key = str(uuid.uuid4())
    first = api.post("/api/generate", json={"prompt": "a paper boat"}, headers={"Idempotency-Key": key})
    conflict = api.post("/api/generate", json={"prompt": "a paper plane"}, headers={"Idempotency-Key": key})
    assert conflict.status_code == 409
    error = error_of(conflict)
    assert set(error) == {"code", "message", "request_id"}, "nothing about the run the key names"
    assert (error["code"], error["message"]) == (
        "idempotency_conflict", "this Idempotency-Key was already used with a different request body")
    assert first.json()["run"]["id"] not in conflict.text
    assert first.json()["read_token"] not in conflict.text
    assert len(standin.calls("sync")) == 1


def test_failed_run_is_replayed_not_retried(api: httpx.Client, standin: StandInControl) -> None:
    """A key names one attempt: replaying it reports the recorded failure instead of calling again."""
    standin.fault(status=500, code="InternalError", message="boom", endpoint="sync")
    key = str(uuid.uuid4())
    first = api.post("/api/generate", json={"prompt": "a storm"}, headers={"Idempotency-Key": key})
    assert first.status_code == 502
    replay = api.post("/api/generate", json={"prompt": "a storm"}, headers={"Idempotency-Key": key})
    assert replay.status_code == 200
    run = replay.json()["run"]
    assert (run["id"], run["status"], run["error"]["code"]) == (error_of(first)["run_id"], "failed", "InternalError")
    assert len(standin.calls("sync")) == 1


def test_concurrent_requests_with_one_key_make_one_run(
    api: httpx.Client, standin: StandInControl, state: LocalState
) -> None:
    standin.latency(0.5, endpoint="sync")  # keep the first request in flight while the others arrive
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(
            pool.map(
                lambda _: api.post("/api/generate", json={"prompt": "a crowd"}, headers={"Idempotency-Key": key}),
                range(4),
            )
        )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["run"]["id"] for r in responses}) == 1
    assert len(standin.calls("sync")) == 1
    assert len(state.query("SELECT id FROM runs WHERE idempotency_key = ?", key)) == 1
