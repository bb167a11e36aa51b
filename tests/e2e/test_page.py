"""The page at `/` end to end in headless Chromium, on a sync and an async stack: create a run, follow it, show
its image; keep the run's read token (with its id and prompt) in localStorage and send it back in a header,
never in a URL; after a reload the run is among this browser's runs."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import pytest

from localdev.system import LocalSystem
from tests.e2e.conftest import client
from tests.e2e.support import run_browser, sha256


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_page_creates_follows_and_shows_a_run_with_its_read_token(
    request: pytest.FixtureRequest, mode: str
) -> None:
    system: LocalSystem = request.getfixturevalue("system" if mode == "sync" else "async_system")
    prompt = f"a {mode} fox seen by the page"
    seen = run_browser("own_runs.mjs", system.url, prompt)
    assert seen["problems"] == [] and seen["errors"] == [] and seen["offsite"] == []
    assert seen["status"] == "Done."

    [kept] = seen["stored"]
    assert set(kept) == {"id", "token", "prompt"} and kept["prompt"] == prompt
    mac = hmac.new(system.run_token_key.encode(), f"run-read-token\n{kept['id']}".encode(), hashlib.sha256).digest()
    assert kept["token"] == base64.urlsafe_b64encode(mac).rstrip(b"=").decode(), "the run's own read token"

    with client(system, admin=True) as admin:
        run = admin.get(f"/api/runs/{kept['id']}").json()["run"]
    assert (run["status"], run["prompt"]) == ("succeeded", prompt)
    [image] = run["images"]
    assert seen["image"] == {"src": image["url"], "alt": prompt}
    assert image["sha256"] in seen["meta"]
    assert sha256(httpx.get(image["url"], timeout=30).content) == image["sha256"]

    reads = [r for r in seen["requests"] if f"/api/runs/{kept['id']}" in r["url"]]
    assert reads, "the page read its run back (following it, then among this browser's runs)"
    assert {r["runToken"] for r in reads} == {kept["token"]}, "every read sends the token in X-Run-Token"
    assert not [r["url"] for r in seen["requests"] if kept["token"] in r["url"]], "never in a URL"

    [recent] = seen["recent"]
    assert (recent["src"], recent["alt"]) == (image["url"], prompt)
    assert recent["meta"].startswith("succeeded · ") and recent["meta"].endswith(prompt)
