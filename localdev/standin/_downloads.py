"""How a result image download is answered: normally, or with a misbehaviour a test asked for.

Why these misbehaviours: each is a way a real download can go wrong that the backend must survive
(a connection dropped before any response, a cut-off body, a wrong Content-Type, a body larger than allowed,
a redirect to somewhere it must not follow, a slow trickle); ``/_standin/image-behavior`` picks one and
``control`` hands it out.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from ._replies import Reply

__all__ = ["DEFAULT_OVERSIZE_BYTES", "IMAGE_MODES", "ImageBehavior", "image_reply"]

IMAGE_MODES = ("normal", "reset", "truncate", "wrong-content-type", "oversize", "redirect", "slow")
DEFAULT_OVERSIZE_BYTES = 32 * 1024 * 1024


@dataclass
class ImageBehavior:
    """One ``image-behavior`` setting; ``size`` is for oversize, ``location`` for redirect, ``seconds`` for slow."""

    mode: str = "normal"
    remaining: int | None = None  # None: until reset
    size: int = DEFAULT_OVERSIZE_BYTES
    location: str = ""
    seconds: float = 0.0


def image_reply(method: str, png: bytes, b: ImageBehavior) -> Reply:
    """Answer a GET or HEAD for ``png`` the way ``b`` says, with OSS's server headers."""
    common = [("Server", "AliyunOSS"), ("x-oss-request-id", secrets.token_hex(12).upper())]
    body = b"" if method == "HEAD" else png
    if b.mode == "reset":
        return Reply(0, reset=True, endpoint="image")
    if b.mode == "redirect":
        return Reply(302, [("Location", b.location), ("Content-Type", "text/plain"), *common], b"", endpoint="image")
    if b.mode == "oversize":
        size = b.size
        chunks = None if method == "HEAD" else _padded(png, size)
        return Reply(
            200,
            [("Content-Type", "image/png"), ("Content-Length", str(size)), *common],
            chunks=chunks,
            endpoint="image",
        )
    ctype = "text/html" if b.mode == "wrong-content-type" else "image/png"
    headers = [("Content-Type", ctype), ("Content-Length", str(len(png))), *common]
    if b.mode == "truncate" and method == "GET":
        return Reply(200, headers, chunks=[png[: len(png) // 2]], close=True, endpoint="image")
    if b.mode == "slow" and method == "GET":
        pieces = 20
        step = max(1, math.ceil(len(png) / pieces))
        chunks = [png[i : i + step] for i in range(0, len(png), step)]
        return Reply(200, headers, chunks=chunks, chunk_delay=b.seconds / len(chunks), endpoint="image")
    return Reply(200, headers, chunks=[body], endpoint="image")


def _padded(prefix: bytes, size: int) -> Iterator[bytes]:
    """Exactly ``size`` bytes: the PNG, then zeros, streamed in 64 KiB pieces."""
    head = prefix[:size]
    yield head
    left = size - len(head)
    zeros = bytes(65536)
    while left > 0:
        n = min(left, len(zeros))
        yield zeros[:n]
        left -= n
