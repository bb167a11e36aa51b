"""Who may read what of a run (docs/api.md "Who may read a run"): anyone who knows a run's id — and every media
URL contains it — sees its status and error code; its creator, with the run's read token, also its images; the
admin token everything. A wrong credential is refused, never quietly read as a smaller view, and a media URL
lets its holder neither read more nor renew it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from infra.model.contract import HEADERS
from localdev.system import LocalSystem
from tests.e2e.conftest import client
from tests.e2e.support import StandInControl, error_of, respelled

CREATOR_FIELDS = {"id", "status", "created_at", "updated_at", "completed_at", "images", "error"}
ADMIN_FIELDS = CREATOR_FIELDS | {"request_id", "client_request_id", "provider", "prompt", "parameters", "attempts"}


def _created(api: httpx.Client, prompt: str = "a private fox", **extra: Any) -> tuple[dict[str, Any], str]:
    response = api.post("/api/generate", json={"prompt": prompt, **extra})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["run"], body["read_token"]


def _as_creator(token: str) -> dict[str, str]:
    return {HEADERS.run_token: token}


def test_the_creator_gets_its_view_and_the_read_token_at_creation(api: httpx.Client, standin: StandInControl) -> None:
    run, token = _created(api)
    assert set(run) == CREATOR_FIELDS
    assert run["status"] == "succeeded" and len(run["images"]) == 1
    assert len(token) == 43, "base64url of a 32-byte MAC"


def test_anonymous_readers_see_the_status_and_the_error_code_only(
    api: httpx.Client, standin: StandInControl
) -> None:
    run, _ = _created(api)
    assert api.get(f"/api/runs/{run['id']}").json() == {"run": {"id": run["id"], "status": "succeeded",
                                                                "error": None}}
    standin.fault(status=400, code="DataInspectionFailed", message="Input data may contain inappropriate content.",
                  endpoint="sync")
    failed = error_of(api.post("/api/generate", json={"prompt": "something it refuses"}))
    assert api.get(f"/api/runs/{failed['run_id']}").json() == {"run": {
        "id": failed["run_id"], "status": "failed", "error": {"code": "DataInspectionFailed"}}}


def test_the_creator_reads_its_images_with_the_token_and_nothing_more(
    api: httpx.Client, standin: StandInControl
) -> None:
    run, token = _created(api)
    body = api.get(f"/api/runs/{run['id']}", headers=_as_creator(token)).json()
    assert set(body) == {"run"}, "no events for the creator"
    assert set(body["run"]) == CREATOR_FIELDS
    assert body["run"]["images"][0]["sha256"] == run["images"][0]["sha256"]
    assert "a private fox" not in str(body)


def test_the_admin_reads_everything(api: httpx.Client, admin: httpx.Client, standin: StandInControl) -> None:
    run, _ = _created(api, seed=4)
    body = admin.get(f"/api/runs/{run['id']}").json()
    assert set(body["run"]) == ADMIN_FIELDS
    assert (body["run"]["prompt"], body["run"]["parameters"]) == ("a private fox", {"seed": 4})
    assert [e["to"] for e in body["events"] if e["type"] == "status"] == ["running", "persisting", "succeeded"]


def test_a_failed_sync_run_names_its_read_token_to_its_creator(api: httpx.Client, standin: StandInControl) -> None:
    standin.fault(status=500, code="InternalError", message="boom", endpoint="sync")
    error = error_of(api.post("/api/generate", json={"prompt": "a storm"}))
    mine = api.get(f"/api/runs/{error['run_id']}", headers=_as_creator(error["read_token"])).json()["run"]
    assert mine["error"] == {"code": "InternalError", "message": "boom"}


def test_a_wrong_credential_is_refused_not_read_as_a_smaller_view(
    api: httpx.Client, standin: StandInControl
) -> None:
    run, token = _created(api)
    _, other_token = _created(api, prompt="another run")
    for case, wrong in {"another run's token": other_token, "tampered": token[:-2] + "AA",
                        "another spelling": respelled(token), "padded": token + "=", "empty": ""}.items():
        response = api.get(f"/api/runs/{run['id']}", headers=_as_creator(wrong))
        assert response.status_code == 403, case
        assert error_of(response)["message"] == f"{HEADERS.run_token} is not this run's read token", case
    refused = api.get(f"/api/runs/{run['id']}", headers={"Authorization": "Bearer not-the-admin-token"})
    assert refused.status_code == 401 and error_of(refused)["code"] == "unauthorized"


def test_the_read_token_is_the_documented_hmac_of_the_run_id(
    api: httpx.Client, standin: StandInControl, system: LocalSystem
) -> None:
    run, token = _created(api)
    mac = hmac.new(system.run_token_key.encode(), f"run-read-token\n{run['id']}".encode(), hashlib.sha256).digest()
    assert token == base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def test_the_read_token_is_never_stored_or_logged(api: httpx.Client, standin: StandInControl,
                                                  system: LocalSystem) -> None:
    run, token = _created(api)
    assert api.get(f"/api/runs/{run['id']}", headers=_as_creator(token)).status_code == 200
    time.sleep(0.5)  # the request log lines reach the log files
    holders = [p for p in [*system.persist_dir.rglob("*"), *system.log_paths] if p.is_file()]
    assert holders, "the state folder and the logs exist"
    assert [p for p in holders if token.encode() in p.read_bytes()] == []


def test_a_media_url_lets_its_holder_read_nothing_more(api: httpx.Client, standin: StandInControl) -> None:
    run, _ = _created(api)
    url = run["images"][0]["url"]
    run_id = urlsplit(url).path.split("/")[-2]
    assert run_id == run["id"], "the key names the run"
    with httpx.Client(base_url=api.base_url, timeout=30) as holder:
        assert holder.get(url).status_code == 200
        assert holder.get(f"/api/runs/{run_id}").json() == {"run": {"id": run_id, "status": "succeeded",
                                                                    "error": None}}


@pytest.fixture
def signed_api(signed_system: LocalSystem) -> Iterator[httpx.Client]:
    with client(signed_system) as api:
        yield api


def _sign(secret: str, key: str, exp: int) -> str:
    mac = hmac.new(secret.encode(), f"{key}\n{exp}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def test_an_expired_signed_url_stays_expired_for_whoever_holds_it(
    signed_api: httpx.Client, signed_system: LocalSystem
) -> None:
    run, token = _created(signed_api, prompt="signed and expired")
    key = run["images"][0]["key"]
    past = int(time.time()) - 1
    expired = f"/api/media/{key}?exp={past}&sig={_sign(signed_system.signing_key, key, past)}"
    assert signed_api.get(expired).status_code == 403
    # What its holder can learn from the URL is the run id; reading the run with it mints nothing.
    anonymous = signed_api.get(f"/api/runs/{Path(key).parent.name}")
    assert anonymous.json() == {"run": {"id": run["id"], "status": "succeeded", "error": None}}
    assert "sig=" not in anonymous.text and "/api/media/" not in anonymous.text
    assert signed_api.get(expired).status_code == 403, "still expired"
    # The creator, with the read token, gets a fresh URL: that is the token's job.
    fresh = signed_api.get(f"/api/runs/{run['id']}", headers=_as_creator(token)).json()["run"]["images"][0]["url"]
    assert signed_api.get(fresh).status_code == 200
