"""The ``Reply`` value every route returns, and the JSON answers most routes give.

Why a value instead of writing to the socket: routes stay plain functions that tests and the call log
can inspect, and only ``server`` knows how bytes reach the wire (streaming, delays, dropped connections).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reply", "error_reply", "json_reply", "method_not_allowed", "padded"]


@dataclass
class Reply:
    """One HTTP answer; ``chunks`` streams a body whose Content-Length is already in headers. ``reset``: no
    answer at all, the connection is closed before the status line (as a dropped connection looks)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: Iterable[bytes] | None = None
    chunk_delay: float = 0.0
    close: bool = False
    reset: bool = False
    endpoint: str = "other"
    task_id: str | None = None
    request_id: str | None = None


def json_reply(status: int, payload: dict[str, Any], endpoint: str = "other") -> Reply:
    """A JSON body; a ``request_id`` in it is echoed as ``X-Request-Id`` like DashScope does."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    rid = payload.get("request_id")
    return Reply(
        status,
        [("Content-Type", "application/json"), *([("X-Request-Id", rid)] if rid else [])],
        body,
        endpoint=endpoint,
        request_id=rid if isinstance(rid, str) else None,
    )


def error_reply(status: int, code: str, message: str, endpoint: str = "other") -> Reply:
    """DashScope's flat error body ``{request_id, code, message}`` (the SDK parses exactly this)."""
    return json_reply(status, {"request_id": str(uuid.uuid4()), "code": code, "message": message}, endpoint)


def method_not_allowed(method: str, path: str, allowed: str, endpoint: str = "other") -> Reply:
    """405 with an ``Allow`` header, in the same JSON shape as every other error."""
    reply = error_reply(405, "MethodNotAllowed", f"Method {method} is not allowed for {path}.", endpoint)
    reply.headers.append(("Allow", allowed))
    return reply


def padded(reply: Reply, size: int) -> Reply:
    """The same JSON answer with a ``padding`` field of ``size`` bytes first, streamed (never built whole): the
    answer of a provider that sends far more than a client should read."""
    if size <= 0 or not reply.body.startswith(b"{"):
        return reply
    head = b'{"padding": "'
    tail = b'", ' + reply.body[1:] if reply.body != b"{}" else b'"}'
    headers = [(k, v) for k, v in reply.headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(head) + size + len(tail))))
    reply.headers, reply.body, reply.chunks = headers, b"", _padding_chunks(head, size, tail)
    return reply


def _padding_chunks(head: bytes, size: int, tail: bytes) -> Iterable[bytes]:
    yield head
    piece = b"x" * 65536
    while size > 0:
        yield piece[: min(size, len(piece))]
        size -= len(piece)
    yield tail
