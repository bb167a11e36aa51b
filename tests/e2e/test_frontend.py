"""The frontend Worker: the page, and `/api/*` proxied to the backend through the service binding or, in
`url` mode, to a separately served backend by URL, marked with `X-Backend-Via` either way."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from infra.model.contract import LIMITS, SIZES, TERMINAL
from localdev.system import LocalSystem
from tests.e2e.support import SCREENSHOTS, StandInControl, error_of, run_browser


def test_page_has_the_prompt_box_and_its_script(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<textarea id="prompt"' in page.text and 'src="/app.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert uuid.UUID(page.headers["x-request-id"])
    script = api.get("/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert 'fetch("/api/generate"' in script.text and "Idempotency-Key" in script.text


def test_the_page_offers_what_the_api_accepts(api: httpx.Client) -> None:
    page = api.get("/").text
    assert re.findall(r"<option>([^<]*)</option>", page) == list(SIZES)
    assert f'<textarea id="prompt" name="prompt" maxlength="{LIMITS.prompt_chars}"' in page
    assert f'<input id="negative_prompt" name="negative_prompt" maxlength="{LIMITS.negative_prompt_chars}">' in page
    assert f'max="{LIMITS.seed_max}"' in page
    assert f"const FINISHED = {json.dumps(list(TERMINAL), separators=(',', ':'))};" in api.get("/app.js").text


def test_frontend_unknown_path_and_method(api: httpx.Client) -> None:
    missing = api.get("/nothing")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    wrong = api.post("/")
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET, HEAD")


def test_service_binding_mode_marks_every_proxied_response(api: httpx.Client, standin: StandInControl) -> None:
    for response in (
        api.get("/api/health"),
        api.get("/api/nothing"),
        api.post("/api/generate", json={}),
        api.post("/api/generate", json={"prompt": "via binding"}),
    ):
        assert response.headers["x-backend-via"] == "service-binding", response.request.url
    assert "x-backend-via" not in api.get("/").headers, "only proxied responses are marked"


def test_proxy_passes_method_body_query_and_status_through(api: httpx.Client) -> None:
    response = api.get("/api/runs", params={"limit": "5"})
    assert response.status_code == 401, "the backend saw the request, without credentials"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture
def url_api(url_system: LocalSystem) -> httpx.Client:
    return httpx.Client(base_url=url_system.url, timeout=30)


def test_url_mode_reaches_the_backend_by_url(url_system: LocalSystem, url_api: httpx.Client) -> None:
    assert url_system.backend_url and url_system.backend_url != url_system.url
    health = url_api.get("/api/health")
    assert (health.status_code, health.headers["x-backend-via"]) == (200, "url")
    direct = httpx.get(f"{url_system.backend_url}/api/health")
    assert direct.status_code == 200 and "x-backend-via" not in direct.headers


def test_url_mode_generates_and_serves_through_the_frontend(url_system: LocalSystem, url_api: httpx.Client) -> None:
    response = url_api.post("/api/generate", json={"prompt": "via url", "seed": 2}, headers={"X-Request-Id": "url-1"})
    assert response.status_code == 201, response.text
    assert response.headers["x-backend-via"] == "url"
    assert response.headers["x-request-id"] == "url-1"
    image = response.json()["run"]["images"][0]
    assert image["url"].startswith(f"{url_system.url}/api/media/"), "image URLs point at the public entry point"
    served = url_api.get(image["url"])
    assert (served.status_code, served.headers["x-backend-via"]) == (200, "url")
    assert len(served.content) == image["bytes"]



def test_home_page_in_headless_chromium(system: LocalSystem, standin: StandInControl) -> None:
    screenshot = SCREENSHOTS / "home.png"
    seen = run_browser("home_page.mjs", system.url, str(screenshot))
    before, generated, refused = seen["before"], seen["generated"], seen["refused"]
    assert "Your recent runs" in before["heading"]
    assert before["recentHelp"].startswith("Runs started from this browser") and before["recentEmpty"]
    assert generated["status"] == "Done." and generated["resultShown"] and generated["imageWidth"] == 1664
    assert generated["imageSrc"].startswith(f"{system.url}/api/media/generated/")
    assert not generated["recentEmpty"] and generated["recent"][0].startswith("succeeded · ")
    assert refused["status"].startswith("prompt: must be 1 to 800 characters and not blank (request ")
    assert not refused["resultShown"] and refused["imageSrc"] is None, "the old image must not stay under the error"
    assert seen["favicon"] == 200 and "/favicon.svg" in seen["requested"]
    assert seen["errors"] == ["400 /api/generate"], "only the refused prompt may answer an error"
    assert seen["problems"] == []
    assert screenshot.stat().st_size > 10_000


def test_the_favicon_is_served_at_both_addresses(api: httpx.Client) -> None:
    for path in ("/favicon.svg", "/favicon.ico"):
        response = api.get(path)
        assert (response.status_code, response.headers["content-type"]) == (200, "image/svg+xml"), path
        assert response.text.startswith("<svg xmlns=\"http://www.w3.org/2000/svg\"")
