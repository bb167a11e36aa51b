"""Generation through the public entry point: the provider's short-lived result becomes a stable, stored image,
and the run is recorded in D1 with its audit trail."""

from __future__ import annotations

import json
import re
import uuid

import httpx

from localdev.system import LocalSystem
from tests.e2e.support import LocalState, StandInControl, StoredObject, expected_png, sha256

KEY_PATTERN = re.compile(r"^generated/\d{4}/\d{2}/\d{2}/(?P<run>[0-9a-f-]{36})/0\.png$")


def test_health_names_the_environment(api: httpx.Client) -> None:
    response = api.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "environment": "local"}
    assert response.headers["x-backend-via"] == "service-binding"


def test_generated_image_is_served_from_its_stable_url_after_the_upstream_url_expired(
    api: httpx.Client, standin: StandInControl, system: LocalSystem
) -> None:
    prompt, seed, size = "a red fox reading a newspaper, watercolor", 42, "1328*1328"
    response = api.post("/api/generate", json={"prompt": prompt, "seed": seed, "size": size})
    assert response.status_code == 201, response.text
    run = response.json()["run"]
    assert run["status"] == "succeeded"
    assert response.headers["location"] == f"/api/runs/{run['id']}"
    [image] = run["images"]
    match = KEY_PATTERN.match(image["key"])
    assert match and match["run"] == run["id"], image["key"]
    assert image["url"] == f"{system.url}/api/media/{image['key']}"
    want = expected_png(prompt, seed, size)
    assert (image["sha256"], image["bytes"], image["content_type"]) == (sha256(want), len(want), "image/png")

    assert standin.expire_urls() >= 1
    downloads_before = len(standin.calls("image"))
    served = httpx.get(image["url"], timeout=30)
    assert served.status_code == 200
    assert sha256(served.content) == sha256(want)
    assert len(standin.calls("image")) == downloads_before, "the stable URL must not go back to the provider"


def test_run_shape_and_events_record_each_transition(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl
) -> None:
    mine = api.post("/api/generate", json={"prompt": "a lighthouse at dusk"}).json()["run"]
    [sync_call] = standin.calls("sync")

    body = admin.get(f"/api/runs/{mine['id']}").json()
    run = body["run"]
    assert {name: run[name] for name in mine} == mine, "the creator's view is a part of the whole run"
    assert (run["prompt"], run["parameters"]) == ("a lighthouse at dusk", {})
    assert run["provider"] == {
        "name": "dashscope",
        "model": "qwen-image-plus",
        "request_id": sync_call["request_id"],
        "task_id": None,
    }
    assert run["error"] is None and run["attempts"] == 1
    assert run["created_at"] <= run["updated_at"] == run["completed_at"]
    transitions = [(e["type"], e["from"], e["to"]) for e in body["events"]]
    assert transitions == [
        ("status", None, "running"),
        ("status", "running", "persisting"),
        ("status", "persisting", "succeeded"),
    ]
    assert body["events"][1]["detail"]["provider_request_id"] == sync_call["request_id"]


def test_d1_rows_match_the_run(api: httpx.Client, standin: StandInControl, system: LocalSystem) -> None:
    """Checked with wrangler's own `d1 execute --local`, independent of the API's reading of the tables."""
    run = api.post("/api/generate", json={"prompt": "a teapot", "negative_prompt": "blurry", "seed": 7}).json()["run"]
    sql = (
        "SELECT r.status, r.attempts, r.prompt, r.parameters, r.provider, r.completed_at IS NOT NULL AS done, "
        "a.idx, a.r2_key, a.sha256, a.bytes, a.content_type, a.source_host, "
        "(SELECT COUNT(*) FROM run_events e WHERE e.run_id = r.id) AS events "
        f"FROM runs r JOIN run_assets a ON a.run_id = r.id WHERE r.id = '{run['id']}'"
    )
    result = system.wrangler("d1", "execute", system.database_name, "--local", "--json", "--command", sql)
    assert result.returncode == 0, result.stdout + result.stderr
    [row] = json.loads(result.stdout)[0]["results"]
    image = run["images"][0]
    assert row == {
        "status": "succeeded",
        "attempts": 1,
        "prompt": "a teapot",
        "parameters": json.dumps({"negative_prompt": "blurry", "seed": 7}, separators=(",", ":")),
        "provider": "dashscope",
        "done": 1,
        "idx": 0,
        "r2_key": image["key"],
        "sha256": image["sha256"],
        "bytes": image["bytes"],
        "content_type": "image/png",
        "source_host": standin.base_url.removeprefix("http://"),
        "events": 3,
    }


def test_stored_object_is_exactly_the_recorded_asset(
    api: httpx.Client, standin: StandInControl, state: LocalState
) -> None:
    run = api.post("/api/generate", json={"prompt": "a quiet harbour", "seed": 3}).json()["run"]
    [image] = run["images"]
    run_folder = image["key"].rsplit("/", 1)[0] + "/"
    assert state.objects(run_folder) == [StoredObject(image["key"], image["bytes"])]


def test_request_ids_are_ours_and_a_clients_own_is_kept_beside_them(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState
) -> None:
    """A spoofed X-Request-Id never becomes the recorded `request_id`: support queries by request id find only
    what the backend recorded. The client's id is kept as `client_request_id`, filterable and echoed."""
    given = f"test-{uuid.uuid4()}"
    response = api.post("/api/generate", json={"prompt": "a kite"}, headers={"X-Request-Id": given})
    assert response.status_code == 201
    ours = response.headers["x-request-id"]
    assert uuid.UUID(ours) and ours != given
    assert response.headers["x-client-request-id"] == given
    run_id = response.json()["run"]["id"]
    [row] = state.query("SELECT request_id, client_request_id FROM runs WHERE id = ?", run_id)
    assert row == {"request_id": ours, "client_request_id": given}
    run = admin.get(f"/api/runs/{run_id}").json()["run"]
    assert (run["request_id"], run["client_request_id"]) == (ours, given)

    assert admin.get("/api/runs", params={"request_id": given}).json()["runs"] == []
    by_client_id = admin.get("/api/runs", params={"client_request_id": given}).json()["runs"]
    assert [r["id"] for r in by_client_id] == [run_id]
    assert [r["id"] for r in admin.get("/api/runs", params={"request_id": ours}).json()["runs"]] == [run_id]


def test_an_unusable_client_request_id_is_left_out_not_echoed(api: httpx.Client) -> None:
    for given in ("bad id with spaces", "x" * 129, "<script>"):
        response = api.get("/api/health", headers={"X-Request-Id": given})
        assert uuid.UUID(response.headers["x-request-id"])
        assert "x-client-request-id" not in response.headers, given
    plain = api.get("/api/health")
    assert uuid.UUID(plain.headers["x-request-id"]) and "x-client-request-id" not in plain.headers
