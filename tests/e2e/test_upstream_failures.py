"""Every way the provider or its result download can fail ends in a recorded `failed` run carrying the
provider's (or the download's) code, the documented HTTP error, and nothing left in R2."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import DOWNLOAD_TIMEOUT_SECONDS, MAX_IMAGE_BYTES, UPSTREAM_TIMEOUT_SECONDS
from tests.e2e.support import LocalState, StandInControl, assert_failed_cleanly

PROVIDER_ERRORS = [
    (400, "InvalidParameter", "The size does not match the allowed size."),
    (400, "DataInspectionFailed", "Input data may contain inappropriate content."),
    (401, "InvalidApiKey", "Invalid API-key provided."),
    (403, "AccessDenied.Unpurchased", "Access to model denied."),
    (500, "InternalError", "An internal error has occured, please try again later."),
    (503, "ServiceUnavailable", "Service temporarily unavailable."),
]


@pytest.mark.parametrize(("status", "code", "message"), PROVIDER_ERRORS, ids=[p[1] for p in PROVIDER_ERRORS])
def test_provider_error_is_a_failed_run_with_its_code(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState, status: int, code: str,
    message: str,
) -> None:
    standin.fault(status=status, code=code, message=message, endpoint="sync")
    response = api.post("/api/generate", json={"prompt": "a cat"})
    run = assert_failed_cleanly(admin, state, response, 502, "upstream_error", code)
    assert run["error"]["message"] == message
    [call] = standin.calls("sync")
    assert run["provider"]["request_id"] == call["request_id"], "the provider's request id is kept for support"
    assert standin.calls("image") == []


def test_throttling_is_429_with_the_providers_retry_after(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState
) -> None:
    standin.fault(status=429, code="Throttling.RateQuota", message="Requests rate limit exceeded", retry_after=7)
    response = api.post("/api/generate", json={"prompt": "a cat"})
    assert_failed_cleanly(admin, state, response, 429, "upstream_throttled", "Throttling.RateQuota")
    assert response.headers["retry-after"] == "7"


def test_throttling_without_retry_after_still_says_when(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState
) -> None:
    standin.fault(status=429, code="Throttling.RateQuota", message="Requests rate limit exceeded")
    response = api.post("/api/generate", json={"prompt": "too soon"})
    assert_failed_cleanly(admin, state, response, 429, "upstream_throttled", "Throttling.RateQuota")
    assert response.headers["retry-after"] == "60"


def test_provider_timeout_is_504(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState
) -> None:
    standin.latency(UPSTREAM_TIMEOUT_SECONDS + 5, endpoint="sync")
    started = time.monotonic()
    response = api.post("/api/generate", json={"prompt": "a slow cat"})
    elapsed = time.monotonic() - started
    assert_failed_cleanly(admin, state, response, 504, "upstream_timeout", "upstream_timeout")
    assert UPSTREAM_TIMEOUT_SECONDS <= elapsed < UPSTREAM_TIMEOUT_SECONDS + 3, "cut off at the timeout"


IMAGE_FAILURES: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("connection dropped before any response", {"mode": "reset"}, 502, "upstream_error", "result_unreachable"),
    ("truncated body", {"mode": "truncate"}, 502, "upstream_error", "result_truncated"),
    ("wrong content type", {"mode": "wrong-content-type"}, 502, "upstream_error", "result_bad_content_type"),
    ("declared oversize", {"mode": "oversize", "bytes": MAX_IMAGE_BYTES + 1}, 502, "upstream_error",
     "result_too_large"),
    ("slow download", {"mode": "slow", "seconds": DOWNLOAD_TIMEOUT_SECONDS + 4}, 504, "upstream_timeout",
     "download_timeout"),
]


@pytest.mark.parametrize(
    ("case", "behavior", "status", "code", "run_code"), IMAGE_FAILURES, ids=[f[0] for f in IMAGE_FAILURES]
)
def test_broken_result_download_is_a_failed_run(
    api: httpx.Client,
    admin: httpx.Client,
    standin: StandInControl,
    state: LocalState,
    case: str,
    behavior: dict[str, Any],
    status: int,
    code: str,
    run_code: str,
) -> None:
    standin.image_behavior(**behavior)
    response = api.post("/api/generate", json={"prompt": f"a cat, {case}"})
    assert_failed_cleanly(admin, state, response, status, code, run_code)
    assert len(standin.calls("image")) == 1


@pytest.mark.parametrize(("status", "code"), [(403, "AccessDenied"), (404, "NoSuchKey"), (500, "InternalError")])
def test_result_url_error_is_a_failed_run(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState, status: int, code: str
) -> None:
    standin.fault(status=status, code=code, message="from OSS", endpoint="image")
    response = api.post("/api/generate", json={"prompt": "a cat"})
    run = assert_failed_cleanly(admin, state, response, 502, "upstream_error", "result_http_error")
    assert str(status) in run["error"]["message"]


def test_result_url_already_expired_is_a_failed_run(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState
) -> None:
    standin.url_ttl(0)  # expires at the next whole second ...
    standin.latency(1.1, endpoint="image")  # ... which has passed when the download is served
    response = api.post("/api/generate", json={"prompt": "a cat, too late"})
    run = assert_failed_cleanly(admin, state, response, 502, "upstream_error", "result_http_error")
    assert "403" in run["error"]["message"]


def test_image_just_under_the_limit_is_stored(api: httpx.Client, standin: StandInControl) -> None:
    """The limit is inclusive and a large body streams through (nothing holds it whole)."""
    standin.image_behavior(mode="oversize", bytes=MAX_IMAGE_BYTES - 1)
    response = api.post("/api/generate", json={"prompt": "a cat, just under"})
    assert response.status_code == 201, "a body within the limit is stored"
    assert response.json()["run"]["images"][0]["bytes"] == MAX_IMAGE_BYTES - 1
