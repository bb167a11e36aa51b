"""End-to-end fixtures: real `wrangler dev` (workerd, local R2/D1) started by the same `LocalSystem` that
`make dev` uses, each copy on free ports with its own state folder. Starting wrangler costs seconds, so the
systems are session-scoped and the stand-in is reset before every test instead.

- `system`: the default topology (frontend and backend, each in its own `wrangler dev`, service binding, media via the
  worker), with short timeouts and a small image limit so failure tests run fast.
- `signed_system`: media delivery `signed`.
- `url_system`: the frontend reaching the backend by URL.
- `async_system`: `queues.enabled` on (real local Queues with retries and the dead-letter queue), short
  poll delays and `max_retries: 2` (3 deliveries), so the async suite runs in seconds per test.
- `ops_system`: async too, with a database of its own, so the ops summary can be checked number by number.
- `schedule_system`: async with a 2 s task-time hint and `learn_from_recent_runs`, for the poll schedule.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localdev.standin import StandIn
from localdev.system import LocalSystem
from tests.e2e.support import ChunkedOrigin, LocalState, StandInControl

UPSTREAM_TIMEOUT_SECONDS = 2
DOWNLOAD_TIMEOUT_SECONDS = 3
MAX_IMAGE_BYTES = 8_000_000
FAST_FAILURES = {
    "upstream.request_timeout_seconds": UPSTREAM_TIMEOUT_SECONDS,
    "upstream.download_timeout_seconds": DOWNLOAD_TIMEOUT_SECONDS,
    "upstream.max_image_bytes": MAX_IMAGE_BYTES,
}
SIGNED_TTL_SECONDS = 600
JOBS_MAX_RETRIES = 2
ASYNC = {
    **FAST_FAILURES,
    "queues.enabled": True,
    "queues.jobs.max_retries": JOBS_MAX_RETRIES,
    "queues.jobs.max_batch_timeout_seconds": 0,
    "queues.dead_letter.max_batch_timeout_seconds": 0,
    "queues.polling.initial_delay_seconds": 1,
    "queues.polling.max_delay_seconds": 2,
    "queues.polling.max_polls": 8,
    "queues.polling.expected_task_seconds": 1,
    "queues.polling.learn_from_recent_runs": False,
}


def _start(tmp: Path, **kwargs: Any) -> LocalSystem:
    """Start a system; a start-up failure carries wrangler's output in its message (shown by pytest)."""
    return LocalSystem(port=0, state_dir=tmp, **kwargs).start()


@pytest.fixture(scope="session")
def origin() -> Iterator[ChunkedOrigin]:
    server = ChunkedOrigin()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def outsider() -> Iterator[StandIn]:
    """A second stand-in on 127.0.0.2: a loopback host that is not on any system's allowlist."""
    with StandIn(host="127.0.0.2", port=0, api_key="sk-outsider") as standin:
        yield standin


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory, origin: ChunkedOrigin) -> Iterator[LocalSystem]:
    running = _start(tmp_path_factory.mktemp("system"), overrides=FAST_FAILURES, extra_result_hosts=[origin.host])
    yield running
    running.stop()


@pytest.fixture(scope="session")
def signed_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    overrides = {
        "media.delivery.mode": "signed",
        "media.delivery.signed_url_ttl_seconds": SIGNED_TTL_SECONDS,
    }
    running = _start(tmp_path_factory.mktemp("signed"), overrides=overrides)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def url_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    running = _start(tmp_path_factory.mktemp("url-mode"), overrides={"frontend.backend_access": "url"})
    yield running
    running.stop()


@pytest.fixture(scope="session")
def async_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    running = _start(tmp_path_factory.mktemp("async"), overrides=ASYNC)
    yield running
    running.stop()


SCHEDULE = {**ASYNC, "queues.polling.expected_task_seconds": 2, "queues.polling.learn_from_recent_runs": True}


@pytest.fixture(scope="session")
def schedule_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    running = _start(tmp_path_factory.mktemp("schedule"), overrides=SCHEDULE)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def ops_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    running = _start(tmp_path_factory.mktemp("ops"), overrides=ASYNC)
    yield running
    running.stop()


def _control(system: LocalSystem) -> Iterator[StandInControl]:
    if system.standin is None:
        raise RuntimeError("this system runs without the stand-in")
    control = StandInControl(system.standin.base_url, system.standin.api_key)
    control.reset()
    yield control
    control.reset()
    control.close()


@pytest.fixture
def standin(system: LocalSystem) -> Iterator[StandInControl]:
    """The default system's stand-in, reset before and after the test."""
    yield from _control(system)


def client(system: LocalSystem, *, admin: bool = False) -> httpx.Client:
    """A client of the public entry point (the frontend), as a browser or script would call it."""
    headers = {"Authorization": f"Bearer {system.admin_token}"} if admin else {}
    return httpx.Client(base_url=system.url, timeout=30, headers=headers)


@pytest.fixture
def api(system: LocalSystem) -> Iterator[httpx.Client]:
    with client(system) as api:
        yield api


@pytest.fixture
def admin(system: LocalSystem) -> Iterator[httpx.Client]:
    with client(system, admin=True) as api:
        yield api


@pytest.fixture
def state(system: LocalSystem) -> LocalState:
    return LocalState(system)


@pytest.fixture
def async_standin(async_system: LocalSystem) -> Iterator[StandInControl]:
    yield from _control(async_system)


@pytest.fixture
def async_api(async_system: LocalSystem) -> Iterator[httpx.Client]:
    with client(async_system) as api:
        yield api


@pytest.fixture
def async_admin(async_system: LocalSystem) -> Iterator[httpx.Client]:
    with client(async_system, admin=True) as api:
        yield api


@pytest.fixture
def async_state(async_system: LocalSystem) -> LocalState:
    return LocalState(async_system)
