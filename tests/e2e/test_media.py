"""`GET /api/media/<key>`: immutable caching, validators, byte ranges and conditional requests, and in
`signed` delivery mode URLs that only work with a valid, unexpired HMAC signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from localdev.system import LocalSystem
from tests.e2e.conftest import SIGNED_TTL_SECONDS
from tests.e2e.support import StandInControl, error_of, expected_png, respelled, sha256

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def image(api: httpx.Client, standin: StandInControl) -> dict[str, Any]:
    """A freshly generated image and the bytes it must have."""
    run = api.post("/api/generate", json={"prompt": "a media test", "seed": 99, "size": "1328*1328"}).json()["run"]
    return {**run["images"][0], "content": expected_png("a media test", 99, "1328*1328")}


def test_stored_image_has_validators_and_immutable_caching(api: httpx.Client, image: dict[str, Any]) -> None:
    response = api.get(image["url"])
    assert response.status_code == 200
    assert response.content == image["content"]
    headers = response.headers
    assert headers["content-type"] == "image/png"
    assert headers["cache-control"] == IMMUTABLE
    assert headers["content-length"] == str(len(image["content"]))
    assert headers["accept-ranges"] == "bytes"
    assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
    assert headers["x-content-type-options"] == "nosniff"


def test_head_has_the_headers_without_the_body(api: httpx.Client, image: dict[str, Any]) -> None:
    response = api.head(image["url"])
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(image["content"]))


def test_matching_etag_is_304(api: httpx.Client, image: dict[str, Any]) -> None:
    etag = api.get(image["url"]).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = api.get(image["url"], headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert (response.headers["etag"], response.headers["cache-control"]) == (etag, IMMUTABLE)
    assert api.get(image["url"], headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", -50, None), ("bytes=10-999999999", 10, None)],
)
def test_range_is_206_with_exactly_those_bytes(
    api: httpx.Client, image: dict[str, Any], range_header: str, start: int, end: int | None
) -> None:
    content: bytes = image["content"]
    want = content[start : None if end is None else end + 1]
    first = start if start >= 0 else len(content) + start
    response = api.get(image["url"], headers={"Range": range_header})
    assert response.status_code == 206
    assert response.content == want
    assert response.headers["content-range"] == f"bytes {first}-{first + len(want) - 1}/{len(content)}"
    assert response.headers["content-length"] == str(len(want))


def test_unsatisfiable_range_is_416(api: httpx.Client, image: dict[str, Any]) -> None:
    response = api.get(image["url"], headers={"Range": f"bytes={len(image['content'])}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(image['content'])}"


def test_stale_if_range_gets_the_whole_object(api: httpx.Client, image: dict[str, Any]) -> None:
    etag = api.head(image["url"]).headers["etag"]
    assert api.get(image["url"], headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    stale = api.get(image["url"], headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert (stale.status_code, sha256(stale.content)) == (200, sha256(image["content"]))


@pytest.mark.parametrize(
    "key",
    # Dated today: an unknown key of a day past the lifecycle's expiry is 410 (tests/e2e/test_retention.py).
    [f"generated/{datetime.now(UTC):%Y/%m/%d}/nothing/0.png", "other/secret.txt", "generated/%2e%2e/x.png",
     "generated//0.png"],
)
def test_unknown_or_unsafe_key_is_404(api: httpx.Client, key: str) -> None:
    response = api.get(f"/api/media/{key}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# -- signed delivery ------------------------------------------------------------------------------


@pytest.fixture
def signed(signed_system: LocalSystem) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    """A client of the signed-mode system and one image generated there."""
    with httpx.Client(base_url=signed_system.url, timeout=30) as client:
        run = client.post("/api/generate", json={"prompt": "signed", "seed": 1, "size": "1328*1328"}).json()["run"]
        yield client, run["images"][0]


def _sign(secret: str, key: str, exp: int) -> str:
    mac = hmac.new(secret.encode(), f"{key}\n{exp}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def test_signed_url_carries_exp_and_sig_and_works(signed: tuple[httpx.Client, dict[str, Any]]) -> None:
    client, image = signed
    query = parse_qs(urlsplit(image["url"]).query)
    exp = int(query["exp"][0])
    assert time.time() < exp <= time.time() + SIGNED_TTL_SECONDS + 1
    response = client.get(image["url"])
    assert response.status_code == 200
    assert sha256(response.content) == image["sha256"]
    max_age = int(response.headers["cache-control"].split("max-age=")[1].split(",")[0])
    assert response.headers["cache-control"].startswith("private, ")
    assert 0 < max_age <= SIGNED_TTL_SECONDS, "a cached copy must not outlive the signature"
    ranged = client.get(image["url"], headers={"Range": "bytes=0-7"})
    assert (ranged.status_code, ranged.content) == (206, b"\x89PNG\r\n\x1a\n")


def test_signature_is_the_documented_hmac(
    signed: tuple[httpx.Client, dict[str, Any]], signed_system: LocalSystem
) -> None:
    client, image = signed
    exp = int(time.time()) + 30
    url = f"/api/media/{image['key']}?exp={exp}&sig={_sign(signed_system.signing_key, image['key'], exp)}"
    assert client.get(url).status_code == 200


def test_missing_bad_or_expired_signature_is_403(
    signed: tuple[httpx.Client, dict[str, Any]], signed_system: LocalSystem
) -> None:
    client, image = signed
    key, secret = image["key"], signed_system.signing_key
    exp = int(parse_qs(urlsplit(image["url"]).query)["exp"][0])
    good_sig = _sign(secret, key, exp)
    past = int(time.time()) - 1
    cases = {
        "no query": f"/api/media/{key}",
        "no sig": f"/api/media/{key}?exp={exp}",
        "no exp": f"/api/media/{key}?sig={good_sig}",
        "tampered sig": f"/api/media/{key}?exp={exp}&sig={good_sig[:-2]}AA",
        "exp moved later": f"/api/media/{key}?exp={exp + 3600}&sig={good_sig}",
        "signed with another key": f"/api/media/{key}?exp={exp}&sig={_sign('not-the-key', key, exp)}",
        "expired": f"/api/media/{key}?exp={past}&sig={_sign(secret, key, past)}",
        "other object's sig": f"/api/media/{key}?exp={exp}&sig={_sign(secret, key + 'x', exp)}",
        # One spelling each: the same exp and MAC written differently are refused too.
        "exp with a leading zero": f"/api/media/{key}?exp=0{exp}&sig={good_sig}",
        "sig spelled otherwise": f"/api/media/{key}?exp={exp}&sig={respelled(good_sig)}",
        "sig padded": f"/api/media/{key}?exp={exp}&sig={good_sig}=",
        "exp twice": f"/api/media/{key}?exp={exp}&sig={good_sig}&exp={exp}",
        "sig twice": f"/api/media/{key}?exp={exp}&sig={good_sig}&sig={good_sig}",
    }
    for case, url in cases.items():
        response = client.get(url)
        assert response.status_code == 403, case
        assert error_of(response)["code"] == "forbidden", case
