"""Every rejected request is a 400 `invalid_request` naming the field, and reaches neither D1 nor the
provider; unknown paths and methods are plain JSON 404/405."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from infra.model.contract import LIMITS
from tests.e2e.support import StandInControl, error_of

TOO_LONG_PROMPT = "x" * 801
BAD_BODIES: list[tuple[str, Any, str]] = [
    ("missing prompt", {}, "prompt"),
    ("empty prompt", {"prompt": ""}, "prompt"),
    ("blank prompt", {"prompt": "   \n"}, "prompt"),
    ("prompt too long", {"prompt": TOO_LONG_PROMPT}, "prompt"),
    ("prompt not a string", {"prompt": 42}, "prompt"),
    ("negative prompt too long", {"prompt": "ok", "negative_prompt": "n" * 501}, "negative_prompt"),
    ("negative prompt not a string", {"prompt": "ok", "negative_prompt": ["blurry"]}, "negative_prompt"),
    ("size not offered", {"prompt": "ok", "size": "1024*1024"}, "size"),
    ("size with x", {"prompt": "ok", "size": "1328x1328"}, "size"),
    ("size not a string", {"prompt": "ok", "size": 1328}, "size"),
    ("seed negative", {"prompt": "ok", "seed": -1}, "seed"),
    ("seed too large", {"prompt": "ok", "seed": 2147483648}, "seed"),
    ("seed fractional", {"prompt": "ok", "seed": 1.5}, "seed"),
    ("seed as string", {"prompt": "ok", "seed": "7"}, "seed"),
    ("seed boolean", {"prompt": "ok", "seed": True}, "seed"),
    ("unknown field", {"prompt": "ok", "n": 2}, "n"),
    ("array body", ["prompt"], "body"),
    ("null body", None, "body"),
]


def _no_upstream_call(standin: StandInControl) -> None:
    assert standin.calls() == [], "a rejected request must not reach the provider"


@pytest.mark.parametrize(("case", "body", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_generate_body_names_the_field(
    api: httpx.Client, standin: StandInControl, case: str, body: Any, field: str
) -> None:
    # Sent as JSON text, so `null` is a body too (httpx sends no body for json=None).
    response = api.post("/api/generate", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: ")
    _no_upstream_call(standin)


@pytest.mark.parametrize(
    ("content", "field"),
    [(b"{not json", "body"), (b"", "body"), (b'{"prompt": "\xff\xfe"}', "body")],
    ids=["malformed", "empty", "not UTF-8"],
)
def test_unparseable_body_is_rejected(
    api: httpx.Client, standin: StandInControl, content: bytes, field: str
) -> None:
    response = api.post("/api/generate", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["field"] == field
    _no_upstream_call(standin)


@pytest.mark.parametrize(
    "key",
    ["", "k" * 15, "k" * 129, "has space and is long enough", "naïve-but-long-enough"],
    ids=["empty", "15 chars (guessable)", "129 chars", "space", "non-ascii"],
)
def test_bad_idempotency_key_is_rejected(api: httpx.Client, standin: StandInControl, key: str) -> None:
    response = api.post("/api/generate", json={"prompt": "ok"}, headers={"Idempotency-Key": key.encode()})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_request", "Idempotency-Key")
    assert error["message"] == (f"Idempotency-Key: must be {LIMITS.idempotency_key_min_chars} to "
                                f"{LIMITS.idempotency_key_chars} printable ASCII characters, unguessable (a random "
                                "UUID)")
    _no_upstream_call(standin)


def test_limits_are_inclusive(api: httpx.Client, standin: StandInControl) -> None:
    """800 characters counted as the provider counts them (code points: each emoji is one), 128-char key (and a
    16-character one)."""
    body = {"prompt": "🦊" * 800, "negative_prompt": "n" * 500, "seed": 2147483647, "size": "928*1664"}
    response = api.post("/api/generate", json=body, headers={"Idempotency-Key": "k" * 128})
    assert response.status_code == 201, response.text
    shortest = api.post("/api/generate", json={"prompt": "ok"}, headers={"Idempotency-Key": "k" * 16})
    assert shortest.status_code == 201, shortest.text
    assert len(standin.calls("sync")) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "done"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-45T00:00:00Z"}, "until"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"sort": "asc"}, "sort"),
    ],
    ids=lambda v: str(v),
)
def test_bad_list_query_names_the_parameter(admin: httpx.Client, query: dict[str, str], field: str) -> None:
    response = admin.get("/api/runs", params=query)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_request", field)


def test_unknown_run_is_404(api: httpx.Client) -> None:
    for run_id in ("00000000-0000-4000-8000-000000000000", "not-a-run-id"):
        response = api.get(f"/api/runs/{run_id}")
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


def test_unknown_path_is_plain_404_json(api: httpx.Client) -> None:
    response = api.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", "/api/generate", "POST"), ("DELETE", "/api/runs", "GET"), ("POST", "/api/health", "GET")],
)
def test_wrong_method_is_405_with_allow(api: httpx.Client, method: str, path: str, allow: str) -> None:
    response = api.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert error_of(response)["code"] == "method_not_allowed"
