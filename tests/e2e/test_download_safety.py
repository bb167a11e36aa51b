"""What the backend agrees to download: only the stack's allowed result hosts (a redirect off the list is
never followed), only image bytes, never more than the limit, streamed even without a Content-Length.

Disallowed hosts are loopback addresses outside the allowlist (a second stand-in on 127.0.0.2) and `.invalid`
names, never private-range or public addresses.
"""

from __future__ import annotations

import random

import httpx
import pytest

from localdev.standin import StandIn
from tests.e2e.conftest import MAX_IMAGE_BYTES
from tests.e2e.support import (
    ChunkedOrigin,
    LocalState,
    StandInControl,
    StoredObject,
    assert_failed_cleanly,
    expected_png,
    sha256,
)

PART_BYTES = 5 * 1024 * 1024


def _outsider_url(outsider: StandIn) -> str:
    control = StandInControl(outsider.base_url, outsider.api_key)
    try:
        control.reset()
        return control.mint_result_url()
    finally:
        control.close()


def _outsider_calls(outsider: StandIn) -> list[dict[str, object]]:
    return httpx.get(f"{outsider.base_url}/_standin/calls").json()["calls"]


def test_result_on_a_host_outside_the_allowlist_is_never_fetched(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState, outsider: StandIn
) -> None:
    url = _outsider_url(outsider)
    before = len(_outsider_calls(outsider))
    standin.result_url(url)
    response = api.post("/api/generate", json={"prompt": "an outsider"})
    run = assert_failed_cleanly(admin, state, response, 502, "upstream_error", "result_host_not_allowed")
    assert "127.0.0.2" in run["error"]["message"]
    assert len(_outsider_calls(outsider)) == before


def test_redirect_to_a_host_outside_the_allowlist_is_not_followed(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState, outsider: StandIn
) -> None:
    url = _outsider_url(outsider)
    before = len(_outsider_calls(outsider))
    standin.image_behavior(mode="redirect", location=url, count=1)
    response = api.post("/api/generate", json={"prompt": "a redirect"})
    assert_failed_cleanly(admin, state, response, 502, "upstream_error", "result_host_not_allowed")
    assert [c["status"] for c in standin.calls("image")] == [302]
    assert len(_outsider_calls(outsider)) == before


def test_redirect_within_the_allowlist_is_followed(
    api: httpx.Client, standin: StandInControl
) -> None:
    target = standin.mint_result_url(prompt="redirect target", seed=5)
    standin.image_behavior(mode="redirect", location=target, count=1)
    response = api.post("/api/generate", json={"prompt": "a redirect"})
    assert response.status_code == 201, response.text
    assert response.json()["run"]["images"][0]["sha256"] == sha256(expected_png("redirect target", 5, "1328*1328"))
    assert [c["status"] for c in standin.calls("image")] == [302, 200]


@pytest.mark.parametrize(
    ("url", "run_code"),
    [
        ("http://images.example.invalid/x.png", "result_host_not_allowed"),
        ("file:///etc/passwd", "result_url_not_https"),
        ("ftp://127.0.0.1/x.png", "result_url_not_https"),
        ("not a url", "result_url_invalid"),
    ],
    ids=["invalid-name", "file", "ftp", "garbage"],
)
def test_unacceptable_result_urls_are_refused(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState, url: str, run_code: str
) -> None:
    standin.result_url(url)
    response = api.post("/api/generate", json={"prompt": "a strange url"})
    assert_failed_cleanly(admin, state, response, 502, "upstream_error", run_code)


def test_credentials_in_a_result_url_are_refused(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState
) -> None:
    host = standin.base_url.removeprefix("http://")
    standin.result_url(f"http://user:secret@{host}/x.png")
    response = api.post("/api/generate", json={"prompt": "credentials"})
    assert_failed_cleanly(admin, state, response, 502, "upstream_error", "result_url_invalid")


@pytest.mark.parametrize("with_length", [False, True], ids=["chunked", "content-length"])
@pytest.mark.parametrize("size", [300_000, PART_BYTES + 700_000], ids=["small", "over a part"])
def test_a_result_is_streamed_into_r2_byte_for_byte(
    api: httpx.Client, standin: StandInControl, state: LocalState, origin: ChunkedOrigin, size: int,
    with_length: bool,
) -> None:
    """Without a Content-Length the result goes up in multipart parts once it exceeds one; with one, in a single
    put. The bytes are random, so that a piece read into a reused buffer too early would show in the object."""
    png = expected_png("streamed", 9, "1328*1328")
    body = png + random.Random(size).randbytes(size - len(png))
    framing = "length" if with_length else "chunked"
    standin.result_url(origin.serve(f"/{framing}-{size}.png", body, with_length=with_length))
    response = api.post("/api/generate", json={"prompt": "streamed"})
    assert response.status_code == 201, response.text
    [image] = response.json()["run"]["images"]
    assert (image["bytes"], image["sha256"]) == (size, sha256(body))
    assert state.objects(image["key"]) == [StoredObject(image["key"], size)]
    expected_uploads = [(image["key"], "completed")] if size > PART_BYTES and not with_length else []
    assert state.multipart_uploads(image["key"]) == expected_uploads
    assert sha256(httpx.get(image["url"]).content) == sha256(body)


def test_result_without_content_length_over_the_limit_leaves_nothing(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState, origin: ChunkedOrigin
) -> None:
    """Caught while streaming, after whole multipart parts were uploaded: the upload is aborted."""
    png = expected_png("too big", 9, "1328*1328")
    standin.result_url(origin.serve("/too-big.png", png + bytes(MAX_IMAGE_BYTES + 1 - len(png))))
    response = api.post("/api/generate", json={"prompt": "too big"})
    run = assert_failed_cleanly(admin, state, response, 502, "upstream_error", "result_too_large")
    assert [status for key, status in state.multipart_uploads() if run["id"] in key] == ["aborted"]


def test_bytes_that_are_not_the_declared_image_type_are_refused(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl, state: LocalState, origin: ChunkedOrigin
) -> None:
    standin.result_url(origin.serve("/page.png", b"<html><body>sign in first</body></html>", "image/png"))
    response = api.post("/api/generate", json={"prompt": "html in disguise"})
    run = assert_failed_cleanly(admin, state, response, 502, "upstream_error", "result_bad_content_type")
    assert "bytes" in run["error"]["message"]
