"""Admin routes (`GET /api/runs`): a bearer token or 401; newest first, filters by status, time window and
request id, stable keyset pagination."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from localdev.system import LocalSystem
from tests.e2e.support import StandInControl, error_of


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer  x y"],
    ids=["none", "wrong token", "basic", "empty bearer", "two words"],
)
def test_run_list_needs_the_admin_token(api: httpx.Client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = api.get("/api/runs", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == 'Bearer realm="admin"'


def test_token_comparison_is_exact(api: httpx.Client, system: LocalSystem) -> None:
    for near_miss in (system.admin_token[:-1], system.admin_token + "x", system.admin_token.upper()):
        assert api.get("/api/runs", headers={"Authorization": f"Bearer {near_miss}"}).status_code == 401
    assert api.get("/api/runs", headers={"Authorization": f"bearer {system.admin_token}"}).status_code == 200


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_list_filters_and_paginates_newest_first(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl
) -> None:
    since = _now()
    tag = uuid.uuid4().hex[:8]
    made = []
    for i in range(5):
        if i == 2:
            standin.fault(status=400, code="InvalidParameter", message="bad", endpoint="sync")
        response = api.post("/api/generate", json={"prompt": f"list {i}"}, headers={"X-Request-Id": f"{tag}-{i}"})
        made.append(response.headers["x-request-id"])
    until = _now()

    everything = admin.get("/api/runs", params={"since": since, "until": until, "limit": 100}).json()
    assert [r["request_id"] for r in everything["runs"]] == made[::-1]
    assert everything["next_cursor"] is None

    failed = admin.get("/api/runs", params={"since": since, "status": "failed"}).json()["runs"]
    assert [(r["request_id"], r["error"]["code"]) for r in failed] == [(made[2], "InvalidParameter")]

    by_request = admin.get("/api/runs", params={"request_id": made[3]}).json()["runs"]
    assert [r["request_id"] for r in by_request] == [made[3]]
    assert by_request[0]["images"][0]["url"].startswith("http")

    pages, cursor = [], None
    while True:
        params = {"since": since, "until": until, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = admin.get("/api/runs", params=params).json()
        pages.append([r["request_id"] for r in page["runs"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [made[4:2:-1], made[2:0:-1], made[0:1]]

    assert admin.get("/api/runs", params={"until": since, "request_id": made[0]}).json()["runs"] == []
