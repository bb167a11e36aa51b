"""The poll schedule of the async path in the real runtime, against timed stand-in tasks (RUNNING for a fixed
time, like DashScope's): the first query comes when the task should be done — after the settings' hint, then,
once enough tasks have finished, after what recent tasks took by the provider's own clock — so a task that
ends when expected costs one query, and one that runs longer backs off exponentially."""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import pairwise

import httpx
import pytest

from localdev.system import LocalSystem
from tests.e2e.conftest import SCHEDULE, client
from tests.e2e.support import StandInControl, d1_of, events_of, wait_for_run

TASK_SECONDS = 4
HINT = SCHEDULE["queues.polling.expected_task_seconds"]
WARM_UP = 5  # tasks the consumer needs before it trusts their mean (worker_src/backend/backoff.js)


@pytest.fixture(scope="module")
def control(schedule_system: LocalSystem) -> Iterator[StandInControl]:
    assert schedule_system.standin is not None
    with StandInControl(schedule_system.standin.base_url, schedule_system.standin.api_key) as standin:
        standin.reset()
        standin.tasks(seconds=TASK_SECONDS)
        yield standin
        standin.reset()


@pytest.fixture(scope="module")
def api(schedule_system: LocalSystem) -> Iterator[httpx.Client]:
    with client(schedule_system) as api:
        yield api


@pytest.fixture(scope="module")
def admin(schedule_system: LocalSystem) -> Iterator[httpx.Client]:
    """Reads whole runs (their events are the admin's to read)."""
    with client(schedule_system, admin=True) as admin:
        yield admin


def _submitted(body: dict) -> dict:
    return next(e["detail"] for e in events_of(body, "status") if e["to"] == "submitted")


def _generate(api: httpx.Client, prompt: str) -> str:
    response = api.post("/api/generate", json={"prompt": prompt})
    assert response.status_code == 202, response.text
    return response.json()["run"]["id"]


@pytest.fixture(scope="module")
def warmed(api: httpx.Client, admin: httpx.Client, control: StandInControl) -> list[dict]:
    """Runs made before the consumer knows how long tasks take: it goes by the hint."""
    runs = [_generate(api, f"warm-up {i}") for i in range(WARM_UP)]
    return [wait_for_run(admin, run_id, timeout=60) for run_id in runs]


def test_before_any_task_finished_the_first_poll_goes_by_the_hint_and_then_backs_off(
    warmed: list[dict], control: StandInControl, schedule_system: LocalSystem
) -> None:
    for body in warmed:
        assert body["run"]["status"] == "succeeded", body["run"]
        assert _submitted(body) | {"task_id": None, "provider_request_id": None, "duration_ms": None} == {
            "task_id": None, "provider_request_id": None, "duration_ms": None,
            "expected_task_seconds": HINT, "expected_from": "settings", "first_poll_in_seconds": round(HINT * 1.1)}
        statuses = [e["detail"]["task_status"] for e in events_of(body, "task_polled")]
        assert statuses[-1] == "SUCCEEDED" and set(statuses[:-1]) == {"RUNNING"} and len(statuses) >= 2, statuses
        task = control.task(body["run"]["provider"]["task_id"])
        gaps = [b - a for a, b in pairwise([task["submit_time"], *[c["at"] for c in control.calls("task")
                                                                     if task["task_id"] in c["path"]]])]
        assert gaps[0] >= round(HINT * 1.1) - 0.05 and all(gap >= 0.95 for gap in gaps[1:]), gaps
    # What the provider said the tasks took, not when we happened to look.
    ids = [b["run"]["id"] for b in warmed]
    rows = d1_of(schedule_system).query(f"SELECT task_ms FROM runs WHERE id IN ({', '.join('?' * len(ids))})", ids)
    assert {r["task_ms"] for r in rows} == {TASK_SECONDS * 1000}


def _js_round(x: float) -> int:
    return math.floor(x + 0.5)


def test_once_tasks_have_finished_the_first_poll_waits_as_long_as_they_took_and_sees_the_result(
    warmed: list[dict], api: httpx.Client, admin: httpx.Client, control: StandInControl,
    schedule_system: LocalSystem,
) -> None:
    # What the system's finished async tasks took (the warm-up's, and any other test's on this system).
    [known] = d1_of(schedule_system).query("SELECT AVG(task_ms) / 1000.0 AS mean FROM runs WHERE mode = 'async' "
                                           "AND status = 'succeeded' AND task_ms IS NOT NULL")
    learned = _js_round(min(4 * HINT, max(HINT / 4, known["mean"])) * 10) / 10
    assert abs(learned - TASK_SECONDS) <= 1, "the warm-up's tasks dominate what was learned"
    body = wait_for_run(admin, _generate(api, "after the warm-up"), timeout=60)
    assert body["run"]["status"] == "succeeded"
    detail = _submitted(body)
    assert (detail["expected_task_seconds"], detail["expected_from"], detail["first_poll_in_seconds"]) == (
        learned, "recent_runs", _js_round(learned * 1.1))
    assert [e["detail"]["task_status"] for e in events_of(body, "task_polled")] == ["SUCCEEDED"]
    assert control.task(body["run"]["provider"]["task_id"])["polls"] == 1
