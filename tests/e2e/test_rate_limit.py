"""The limit on paid work: `POST /api/generate` asks the backend's Workers Rate Limiting binding (simulated by
wrangler dev) before it reads the body, keyed by the client's address as the frontend read it from the edge. Over
the limit: 429 `rate_limited` with `Retry-After`, no run and no provider call; the next period admits the client
again. Headers a client sends to pose as someone else change nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from localdev.system import LocalSystem
from tests.e2e.support import LocalState, StandInControl, error_of, log_problems, wait_for_lines

LIMIT = 3
PERIOD_SECONDS = 10
# Headers a client might use to choose its own address; the frontend drops them (X-Client-Address is its own).
POSING = ({"X-Client-Address": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}, {"X-Real-IP": "203.0.113.9"},
          {"Forwarded": "for=203.0.113.10"})


@pytest.fixture(scope="module")
def limited_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    overrides = {"generate_rate_limit.limit": LIMIT, "generate_rate_limit.period_seconds": PERIOD_SECONDS}
    system = LocalSystem(port=0, state_dir=tmp_path_factory.mktemp("rate-limited"), overrides=overrides).start()
    yield system
    system.stop()


@pytest.fixture
def control(limited_system: LocalSystem) -> Iterator[StandInControl]:
    assert limited_system.standin is not None
    with StandInControl(limited_system.standin.base_url, limited_system.standin.api_key) as standin:
        standin.reset()
        yield standin


def _room_in_this_period(seconds: float = 5.0) -> None:
    """wrangler's simulation counts in fixed windows of the period (`floor(now / period)`): make sure the next
    `seconds` fall in one of them, so everything a test sends is counted together."""
    into = time.time() % PERIOD_SECONDS
    if into > PERIOD_SECONDS - seconds:
        time.sleep(PERIOD_SECONDS - into + 0.05)


def _client_at(system: LocalSystem, address: str) -> httpx.Client:
    """A client connecting from `address` (any 127.x address is this machine): a client of its own to the limit,
    so each test starts with a count of zero."""
    return httpx.Client(base_url=system.url, timeout=30, transport=httpx.HTTPTransport(local_address=address))


def _generate(api: httpx.Client, prompt: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return api.post("/api/generate", json={"prompt": prompt}, headers=headers or {})


def test_the_limit_trips_with_429_and_resets_after_its_period(
    limited_system: LocalSystem, control: StandInControl
) -> None:
    state = LocalState(limited_system)
    with _client_at(limited_system, "127.0.0.11") as api:
        _room_in_this_period()
        admitted = [_generate(api, f"within the limit {i}") for i in range(LIMIT)]
        assert [r.status_code for r in admitted] == [201] * LIMIT
        runs_before = state.query("SELECT COUNT(*) AS n FROM runs")[0]["n"]
        calls_before = len(control.calls())

        refused = _generate(api, "one too many")
        assert refused.status_code == 429
        error = error_of(refused)
        assert (error["code"], error["message"]) == (
            "rate_limited", f"too many generations from this client address; try again in {PERIOD_SECONDS} s")
        assert refused.headers["retry-after"] == str(PERIOD_SECONDS)
        assert "run_id" not in error
        (logged,) = wait_for_lines(limited_system, lambda line: line["request_id"] == refused.headers["x-request-id"]
                                   and line["outcome"] != "proxied")
        assert (logged["route"], logged["status"], logged["outcome"]) == ("POST /api/generate", 429, "rate_limited")
        assert log_problems(limited_system, [limited_system.admin_token]) == []
        assert state.query("SELECT COUNT(*) AS n FROM runs")[0]["n"] == runs_before, "no run for a refused request"
        assert len(control.calls()) == calls_before, "no provider call for a refused request"

        time.sleep(int(refused.headers["retry-after"]))
        assert _generate(api, "a new period").status_code == 201


def test_the_limit_counts_each_client_address_on_its_own_whatever_a_client_claims(
    limited_system: LocalSystem, control: StandInControl
) -> None:
    with _client_at(limited_system, "127.0.0.12") as api:
        _room_in_this_period()
        for i in range(LIMIT):
            assert _generate(api, f"fill {i}").status_code == 201
        for posing in POSING:
            response = _generate(api, "posing as another client", posing)
            assert response.status_code == 429, posing
        assert _generate(api, "still the same period").status_code == 429
        with _client_at(limited_system, "127.0.0.13") as other:
            assert _generate(other, "another client").status_code == 201


def test_refused_bodies_count_too(limited_system: LocalSystem, control: StandInControl) -> None:
    """The limit is asked before the body is read, so a flood of bad requests is limited like good ones."""
    with _client_at(limited_system, "127.0.0.14") as api:
        _room_in_this_period()
        bad = [api.post("/api/generate", json={"prompt": ""}) for _ in range(LIMIT)]
        assert [r.status_code for r in bad] == [400] * LIMIT
        assert _generate(api, "after the bad ones").status_code == 429
        assert control.calls() == []
