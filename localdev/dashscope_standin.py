"""Local stand-in for Alibaba DashScope's Qwen-Image text-to-image API.

Why: the backend Worker must be developed and tested end to end without internet access or a real
API key. This module speaks the DashScope wire format documented in
``shared/reference/dashscope-api.md`` (sync generation, async submit, task polling, cancel, OSS
presigned result URLs) closely enough that the official ``dashscope`` Python SDK accepts it, and it
adds a small control API under ``/_standin/`` so tests can inject faults, latency, broken image
downloads, expired URLs and scripted task outcomes deterministically.

Run: ``python -m localdev.dashscope_standin --host 127.0.0.1 --port 8790 --api-key KEY``.
Embed: ``with StandIn(port=0) as s: ... s.base_url ...``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import uuid
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, quote, urlsplit

# ---------------------------------------------------------------------------------------------
# Wire constants (reference: dashscope-api.md sections 1-4)
# ---------------------------------------------------------------------------------------------

SYNC_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
ASYNC_PATH = "/api/v1/services/aigc/text2image/image-synthesis"
TASK_RE = re.compile(r"^/api/v1/tasks/(?P<task_id>[^/]+)$")
CANCEL_RE = re.compile(r"^/api/v1/tasks/(?P<task_id>[^/]+)/cancel$")
IMAGE_RE = re.compile(
    r"^/(?P<key>[0-9a-f]{2}/[0-9a-f]{2}/\d{8}/[0-9a-f]{8}/"
    r"(?P<rid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-1\.png)$"
)

SYNC_MODELS = frozenset(
    {"qwen-image-max", "qwen-image-max-2025-12-30", "qwen-image-plus", "qwen-image-plus-2026-01-09", "qwen-image"}
)
ASYNC_MODELS = frozenset({"qwen-image", "qwen-image-plus"})
# Current (2026) size table; the first entry is the default.
SIZES: tuple[str, ...] = ("1664*928", "1472*1104", "1328*1328", "1104*1472", "928*1664")
DEFAULT_SIZE = SIZES[0]
PROMPT_MAX = 800
NEGATIVE_PROMPT_MAX = 500
SEED_MAX = 2147483647
TASK_RETENTION_SECONDS = 86400.0
CHINA_TZ = timezone(timedelta(hours=8))  # DashScope timestamps look like UTC+8 (UNCONFIRMED).

OSS_BUCKET = "dashscope-result-local"
OSS_HOST_ID = "dashscope-result-local.oss-cn-local.aliyuncs.com"
MSG_INVALID_KEY = "Invalid API-key provided."
MSG_NO_KEY = "No API-key provided."
MSG_INTERNAL = "An internal error has occured, please try again later or contact service support."
MSG_SYNC_NOT_SUPPORTED = "current user api does not support synchronous calls."
MSG_RATE = "Requests rate limit exceeded, please try again later."
MAX_BODY = 10 * 1024 * 1024
CALL_LOG_MAX = 10000

ENDPOINTS = ("sync", "async-submit", "task", "image", "any")
IMAGE_MODES = ("normal", "truncate", "wrong-content-type", "oversize", "redirect", "slow")
TASK_OUTCOMES = ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")
DEFAULT_OVERSIZE_BYTES = 32 * 1024 * 1024


class ApiError(Exception):
    """A request-level failure, answered with the flat body ``{request_id, code, message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------
# PNG rendering: real, deterministic, fast (row-level bytes operations, never per-pixel loops)
# ---------------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def render_png(prompt: str, seed: int, width: int, height: int) -> bytes:
    """Render an RGB PNG that depends only on (prompt, seed, width, height).

    A colour ramp row is built once per channel, interleaved with slice assignment, then every
    image row is that ramp rotated (diagonal stripes) and re-tinted per horizontal band with
    ``bytes.translate``; all heavy work happens in C, so a 1664x928 image takes milliseconds.
    """
    digest = hashlib.sha256(f"{seed}\x00{width}x{height}\x00{prompt}".encode()).digest()
    base = bytearray(width * 3)
    for channel in range(3):
        start, span = digest[channel], digest[3 + channel] - 128
        base[channel::3] = bytes((start + (i * span) // max(width, 1)) & 255 for i in range(width))
    base_row = bytes(base)
    bands = 16
    tables = [bytes((x + digest[6 + b]) & 255 for x in range(256)) for b in range(bands)]
    step = 1 + digest[30] % 7
    rows = []
    for y in range(height):
        shift = 3 * ((y * step) % width)
        row = base_row[shift:] + base_row[:shift]
        rows.append(b"\x00" + row.translate(tables[(y * bands) // height]))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + _png_chunk(b"IEND", b"")
    )


class _PngCache:
    """Small LRU so repeated downloads of the same result do not re-render."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, prompt: str, seed: int, width: int, height: int) -> bytes:
        key = (prompt, seed, width, height)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        data = render_png(prompt, seed, width, height)
        with self._lock:
            self._items[key] = data
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return data


# ---------------------------------------------------------------------------------------------
# State records
# ---------------------------------------------------------------------------------------------


@dataclass
class _Fault:
    count: int
    status: int
    code: str
    message: str
    endpoint: str
    retry_after: float | None


@dataclass
class _ImageBehavior:
    mode: str = "normal"
    remaining: int | None = None  # None: until reset
    size: int = DEFAULT_OVERSIZE_BYTES
    location: str = ""
    seconds: float = 0.0


@dataclass
class _TaskScript:
    polls_pending: int = 1
    polls_running: int = 1
    outcome: str = "SUCCEEDED"
    code: str = "InternalError"
    message: str = MSG_INTERNAL
    remaining: int | None = None  # None: until reset

    def public(self) -> dict[str, Any]:
        return {
            "polls_pending": self.polls_pending,
            "polls_running": self.polls_running,
            "outcome": self.outcome,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class _Generation:
    """What is needed to render one result image."""

    prompt: str
    negative_prompt: str
    seed: int
    width: int
    height: int


@dataclass
class _ImageRecord:
    gen: _Generation
    issued_at: float
    expires: int
    revoked: bool = False


@dataclass
class _Task:
    task_id: str
    model: str
    gen: _Generation
    prompt_extend: bool
    script: _TaskScript
    submit_time: float
    status: str = "PENDING"
    polls: int = 0
    canceled: bool = False
    scheduled_time: float | None = None
    end_time: float | None = None
    result_url: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "model": self.model,
            "status": self.status,
            "polls": self.polls,
            "canceled": self.canceled,
            "prompt": self.gen.prompt,
            "negative_prompt": self.gen.negative_prompt,
            "seed": self.gen.seed,
            "size": f"{self.gen.width}*{self.gen.height}",
            "prompt_extend": self.prompt_extend,
            "script": self.script.public(),
            "submit_time": self.submit_time,
            "scheduled_time": self.scheduled_time,
            "end_time": self.end_time,
            "result_url": self.result_url,
        }


@dataclass
class _Reply:
    """One HTTP answer; ``chunks`` streams a body whose Content-Length is already in headers."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: Iterable[bytes] | None = None
    chunk_delay: float = 0.0
    close: bool = False
    endpoint: str = "other"
    task_id: str | None = None
    request_id: str | None = None


def _json_reply(status: int, payload: dict[str, Any], endpoint: str = "other") -> _Reply:
    body = json.dumps(payload, ensure_ascii=False).encode()
    rid = payload.get("request_id")
    return _Reply(
        status,
        [("Content-Type", "application/json"), *([("X-Request-Id", rid)] if rid else [])],
        body,
        endpoint=endpoint,
        request_id=rid if isinstance(rid, str) else None,
    )


def _error_reply(status: int, code: str, message: str, endpoint: str = "other") -> _Reply:
    return _json_reply(status, {"request_id": str(uuid.uuid4()), "code": code, "message": message}, endpoint)


def _oss_error_reply(status: int, code: str, message: str, extra: dict[str, str] | None = None) -> _Reply:
    """OSS answers errors as XML (shape per the OSS docs; UNCONFIRMED for DashScope's bucket)."""
    rid = secrets.token_hex(12).upper()
    fields = {"Code": code, "Message": message, "RequestId": rid, "HostId": OSS_HOST_ID, **(extra or {})}
    inner = "".join(f"  <{k}>{_xml_escape(v)}</{k}>\n" for k, v in fields.items())
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n{inner}</Error>\n'.encode()
    return _Reply(
        status,
        [("Content-Type", "application/xml"), ("x-oss-request-id", rid), ("Server", "AliyunOSS")],
        body,
        endpoint="image",
    )


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ds_time(t: float) -> str:
    """DashScope task timestamp: ``YYYY-MM-DD HH:mm:ss.SSS``."""
    return datetime.fromtimestamp(t, CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _iso_gmt(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# ---------------------------------------------------------------------------------------------
# Request validation (reference section 1 and 4)
# ---------------------------------------------------------------------------------------------


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def _parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _bad("The request body must be a JSON object.")
    return data


def _require_model(data: dict[str, Any]) -> str:
    model = data.get("model")
    if model is None or model == "":
        raise ApiError(400, "BadRequest.EmptyModel", 'Required parameter "model" missing from request.')
    if not isinstance(model, str):
        raise _bad('Parameter "model" must be a string.')
    return model


def _require_input(data: dict[str, Any]) -> dict[str, Any]:
    inp = data.get("input")
    if inp is None:
        raise ApiError(400, "BadRequest.EmptyInput", 'Required parameter "input" missing from request.')
    if not isinstance(inp, dict):
        raise _bad('Parameter "input" must be an object.')
    return inp


def _parameters(data: dict[str, Any]) -> dict[str, Any]:
    params = data.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise _bad('Parameter "parameters" must be an object.')
    return params


def _validate_common(params: dict[str, Any]) -> tuple[int, int, int | None, bool]:
    """Check size, n, seed and flags; return (width, height, seed, prompt_extend)."""
    size = params.get("size", DEFAULT_SIZE)
    if size not in SIZES:
        raise _bad(f"The size does not match the allowed size {','.join(SIZES)}.")
    width, height = (int(v) for v in size.split("*"))
    n = params.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or n != 1:
        raise _bad("The n parameter must be 1 for this model.")
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX):
        raise _bad(f"The seed must be an integer in [0, {SEED_MAX}].")
    for flag in ("prompt_extend", "watermark"):
        if flag in params and not isinstance(params[flag], bool):
            raise _bad(f"The {flag} parameter must be a boolean.")
    neg = params.get("negative_prompt")
    if neg is not None and not isinstance(neg, str):
        raise _bad("The negative_prompt parameter must be a string.")
    return width, height, seed, bool(params.get("prompt_extend", True))


def _sync_prompt(inp: dict[str, Any]) -> str:
    messages = inp.get("messages")
    if not isinstance(messages, list) or len(messages) != 1:
        raise _bad("input.messages must contain exactly one message.")
    msg = messages[0]
    if not isinstance(msg, dict) or msg.get("role") != "user":
        raise _bad("The role of the message must be user.")
    content = msg.get("content")
    if not isinstance(content, list):
        raise _bad("The content of the message must be an array.")
    texts = [c for c in content if isinstance(c, dict) and "text" in c]
    if len(texts) != 1 or len(content) != 1:
        raise _bad("The content of the message must contain exactly one text item.")
    text = texts[0]["text"]
    if not isinstance(text, str) or not text.strip():
        raise _bad("The text of the message must be a non-empty string.")
    return text


def _extend_prompt(prompt: str) -> str:
    """Stand-in for DashScope's LLM prompt rewrite (``actual_prompt``); deterministic."""
    return f"{prompt} Rendered with rich detail, balanced composition and soft natural light."


# ---------------------------------------------------------------------------------------------
# The stand-in
# ---------------------------------------------------------------------------------------------


class StandIn:
    """In-process DashScope stand-in: an HTTP server plus the mutable fault/behaviour state."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "sk-local-standin",
        url_ttl_seconds: float = 86400.0,
        public_host: str | None = None,
        log_stream: TextIO | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.default_url_ttl = float(url_ttl_seconds)
        self.public_host = public_host
        self.log_stream = log_stream
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._secret = secrets.token_bytes(32)
        self.access_key_id = "LTAI5t" + hashlib.sha1(self._secret).hexdigest()[:18]
        self._pngs = _PngCache()
        self._images: dict[str, _ImageRecord] = {}
        self._tasks: dict[str, _Task] = {}
        self._reset_config()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> StandIn:
        """Bind and serve in a daemon thread; returns self so ``StandIn().start()`` chains."""
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.5}, name="dashscope-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections so clients do not hang."""
        server, self._server = self._server, None
        if server is None:
            return
        # shutdown() only returns once serve_forever notices the flag; poke the listening socket so
        # that happens now instead of after a poll interval (matters for per-test instances).
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection((self._hostport(self.host).strip("[]"), self.port), timeout=0.2).close()
            stopper.join(0.02)
        server.close_all_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the bound server, no trailing slash."""
        return f"http://{self._hostport(self.host)}:{self.port}"

    def _hostport(self, host: str) -> str:
        if host in ("", "0.0.0.0"):
            return "127.0.0.1"
        if host == "::":
            return "[::1]"
        return f"[{host}]" if ":" in host else host

    @property
    def _public_base(self) -> str:
        if not self.public_host:
            return self.base_url
        return self.public_host.rstrip("/") if "://" in self.public_host else f"http://{self.public_host}"

    # -- configuration (control API) ----------------------------------------------------------

    def _reset_config(self) -> None:
        with self._lock:
            self._faults: deque[_Fault] = deque()
            self._latency: dict[str, float] = {}
            self._image_behavior = _ImageBehavior()
            self.url_ttl = self.default_url_ttl
            self._task_script = _TaskScript()
            self._result_urls: deque[list[Any]] = deque()  # [url, remaining]
            self._rps = 0.0
            self._rate_window: deque[float] = deque()
            self._calls: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_MAX)

    def reset(self) -> None:
        """Back to defaults; issued URLs and submitted tasks are kept (their ids are unique)."""
        self._reset_config()

    # -- result URLs ------------------------------------------------------------------------

    def _sign(self, expires: int, key: str) -> str:
        to_sign = f"GET\n\n\n{expires}\n/{OSS_BUCKET}/{key}".encode()
        return base64.b64encode(hmac.new(self._secret, to_sign, hashlib.sha1).digest()).decode()

    def _issue_url(self, request_id: str, gen: _Generation) -> str:
        """Mint an OSS-V1-presigned-style URL (or hand out a test override)."""
        with self._lock:
            if self._result_urls:
                entry = self._result_urls[0]
                entry[1] -= 1
                if entry[1] <= 0:
                    self._result_urls.popleft()
                return str(entry[0])
            now = time.time()
            key = (
                f"7d/{secrets.token_hex(1)}/{datetime.fromtimestamp(now, CHINA_TZ):%Y%m%d}/"
                f"{secrets.token_hex(4)}/{request_id}-1.png"
            )
            expires = math.ceil(now + self.url_ttl)
            self._images[key] = _ImageRecord(gen, now, expires)
        query = (
            f"Expires={expires}&OSSAccessKeyId={self.access_key_id}"
            f"&Signature={quote(self._sign(expires, key), safe='')}"
        )
        return f"{self._public_base}/{key}?{query}"

    # -- request plumbing ---------------------------------------------------------------------

    def _latency_for(self, endpoint: str) -> float:
        with self._lock:
            return self._latency.get(endpoint) or self._latency.get("any", 0.0)

    def _take_fault(self, endpoint: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.endpoint in (endpoint, "any"):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _fault_reply(self, fault: _Fault, endpoint: str) -> _Reply:
        if endpoint == "image":
            reply = _oss_error_reply(fault.status, fault.code, fault.message)
        else:
            reply = _error_reply(fault.status, fault.code, fault.message, endpoint)
        if fault.retry_after is not None:
            ra = fault.retry_after
            reply.headers.append(("Retry-After", str(int(ra)) if float(ra).is_integer() else str(ra)))
        return reply

    def _check_auth(self, headers: Any) -> None:
        value = headers.get("Authorization") or ""
        if not value.strip():
            raise ApiError(401, "InvalidApiKey", MSG_NO_KEY)
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.api_key.encode()):
            raise ApiError(401, "InvalidApiKey", MSG_INVALID_KEY)

    def _check_rate(self) -> None:
        with self._lock:
            if self._rps <= 0:
                return
            now = time.monotonic()
            while self._rate_window and now - self._rate_window[0] >= 1.0:
                self._rate_window.popleft()
            if len(self._rate_window) >= self._rps:
                raise ApiError(429, "Throttling.RateQuota", MSG_RATE)
            self._rate_window.append(now)

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Reply:
        """Route one request; everything except writing bytes happens here."""
        parts = urlsplit(raw_path)
        path = parts.path
        if path.startswith("/_standin/") or path == "/_standin":
            return self._control(method, path, body)
        if m := IMAGE_RE.match(path):
            reply = self._serve_image(method, m.group("key"), parts.query)
            reply.request_id = m.group("rid")
            return reply
        api_path = path.rstrip("/") or "/"
        args: dict[str, str] = {}
        fn: Callable[..., _Reply]
        if api_path == SYNC_PATH:
            endpoint, allowed, fn = "sync", "POST", self._api_sync
        elif api_path == ASYNC_PATH:
            endpoint, allowed, fn = "async-submit", "POST", self._api_async_submit
        elif m := CANCEL_RE.match(api_path):
            endpoint, allowed, fn, args = "cancel", "POST", self._api_cancel, m.groupdict()
        elif m := TASK_RE.match(api_path):
            endpoint, allowed, fn, args = "task", "GET", self._api_task, m.groupdict()
        else:
            return _error_reply(404, "NotFound", f"Requested URL {path} is invalid.")
        if method != allowed:
            reply = self._method_not_allowed(method, path, allowed)
            reply.endpoint = endpoint
            return reply
        delay = self._latency_for(endpoint)
        if delay > 0:
            time.sleep(delay)
        try:
            self._check_auth(headers)
            if endpoint in ("sync", "async-submit"):
                self._check_rate()
            fault = self._take_fault(endpoint)
            if fault is not None:
                return self._fault_reply(fault, endpoint)
            reply = fn(headers=headers, body=body, **args)
        except ApiError as err:
            reply = _error_reply(err.status, err.code, err.message, endpoint)
            reply.task_id = args.get("task_id")
        reply.endpoint = endpoint
        return reply

    # -- DashScope endpoints ----------------------------------------------------------------

    def _api_sync(self, headers: Any, body: bytes) -> _Reply:
        data = _parse_json_object(body)
        model = _require_model(data)
        if model not in SYNC_MODELS:
            raise _bad("Model not exist.")
        prompt = _sync_prompt(_require_input(data))
        params = _parameters(data)
        width, height, seed, _ = _validate_common(params)
        gen = _Generation(
            prompt=prompt[:PROMPT_MAX],
            negative_prompt=(params.get("negative_prompt") or "")[:NEGATIVE_PROMPT_MAX],
            seed=seed if seed is not None else random.randint(0, SEED_MAX),
            width=width,
            height=height,
        )
        request_id = str(uuid.uuid4())
        url = self._issue_url(request_id, gen)
        return _json_reply(
            200,
            {
                "output": {
                    "choices": [
                        {"finish_reason": "stop", "message": {"role": "assistant", "content": [{"image": url}]}}
                    ],
                    "task_metric": {"TOTAL": 1, "SUCCEEDED": 1, "FAILED": 0},
                },
                "usage": {"width": width, "height": height, "image_count": 1},
                "request_id": request_id,
            },
        )

    def _api_async_submit(self, headers: Any, body: bytes) -> _Reply:
        if (headers.get("X-DashScope-Async") or "").strip().lower() != "enable":
            raise ApiError(403, "AccessDenied", MSG_SYNC_NOT_SUPPORTED)
        data = _parse_json_object(body)
        model = _require_model(data)
        if model not in SYNC_MODELS:
            raise _bad("Model not exist.")
        if model not in ASYNC_MODELS:
            raise _bad(f"Model {model} does not support asynchronous calls; use the synchronous API.")
        inp = _require_input(data)
        params = _parameters(data)
        prompt = inp.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _bad("input.prompt is required and must be a non-empty string.")
        negative = inp.get("negative_prompt", params.get("negative_prompt"))
        if negative is not None and not isinstance(negative, str):
            raise _bad("The negative_prompt parameter must be a string.")
        width, height, seed, prompt_extend = _validate_common(params)
        gen = _Generation(
            prompt=prompt[:PROMPT_MAX],
            negative_prompt=(negative or "")[:NEGATIVE_PROMPT_MAX],
            seed=seed if seed is not None else random.randint(0, SEED_MAX),
            width=width,
            height=height,
        )
        task_id = str(uuid.uuid4())
        with self._lock:
            script = self._task_script
            if script.remaining is not None:
                script.remaining -= 1
                if script.remaining <= 0:
                    self._task_script = _TaskScript()
            task_script = _TaskScript(**script.public())
            self._tasks[task_id] = _Task(task_id, model, gen, prompt_extend, task_script, time.time())
        reply = _json_reply(
            200, {"output": {"task_status": "PENDING", "task_id": task_id}, "request_id": str(uuid.uuid4())}
        )
        reply.task_id = task_id
        return reply

    def _advance(self, task: _Task) -> None:
        """One poll: PENDING for polls_pending polls, RUNNING for polls_running, then outcome."""
        task.polls += 1
        if task.status in TASK_OUTCOMES:
            return
        s = task.script
        now = time.time()
        if task.polls <= s.polls_pending:
            task.status = "PENDING"
            return
        if task.scheduled_time is None:
            task.scheduled_time = now
        if task.polls <= s.polls_pending + s.polls_running:
            task.status = "RUNNING"
            return
        task.status = s.outcome
        task.end_time = now
        if s.outcome == "SUCCEEDED":
            task.result_url = self._issue_url(task.task_id, task.gen)

    def _api_task(self, headers: Any, body: bytes, task_id: str) -> _Reply:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is not None and time.time() - task.submit_time > TASK_RETENTION_SECONDS:
                task = None
            if task is not None:
                self._advance(task)
                output = self._task_output(task)
            else:
                output = {"task_id": task_id, "task_status": "UNKNOWN"}
        payload: dict[str, Any] = {"request_id": str(uuid.uuid4()), "output": output}
        if output["task_status"] == "SUCCEEDED":
            payload["usage"] = {"image_count": 1}
        reply = _json_reply(200, payload)
        reply.task_id = task_id
        return reply

    def _task_output(self, task: _Task) -> dict[str, Any]:
        if task.status == "UNKNOWN":
            return {"task_id": task.task_id, "task_status": "UNKNOWN"}
        out: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": task.status,
            "submit_time": _ds_time(task.submit_time),
        }
        if task.scheduled_time is not None:
            out["scheduled_time"] = _ds_time(task.scheduled_time)
        if task.end_time is not None:
            out["end_time"] = _ds_time(task.end_time)
        if task.status == "SUCCEEDED":
            result: dict[str, Any] = {"orig_prompt": task.gen.prompt}
            if task.prompt_extend:
                result["actual_prompt"] = _extend_prompt(task.gen.prompt)
            result["url"] = task.result_url
            out["results"] = [result]
        elif task.status == "FAILED":
            out["code"] = task.script.code
            out["message"] = task.script.message
        return out

    def _api_cancel(self, headers: Any, body: bytes, task_id: str) -> _Reply:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.status != "PENDING":
                raise ApiError(
                    400,
                    "UnsupportedOperation",
                    "Failed to cancel the task, please confirm if the task is in PENDING status.",
                )
            task.status = "CANCELED"
            task.canceled = True
            task.end_time = time.time()
        reply = _json_reply(200, {"request_id": str(uuid.uuid4())})
        reply.task_id = task_id
        return reply

    # -- OSS-style image serving ------------------------------------------------------------

    def _serve_image(self, method: str, key: str, query: str) -> _Reply:
        if method not in ("GET", "HEAD"):
            reply = self._method_not_allowed(method, f"/{key}", "GET, HEAD")
            reply.endpoint = "image"
            return reply
        delay = self._latency_for("image")
        if delay > 0:
            time.sleep(delay)
        fault = self._take_fault("image")
        if fault is not None:
            return self._fault_reply(fault, "image")
        q = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if not {"Expires", "OSSAccessKeyId", "Signature"} <= q.keys():
            return _oss_error_reply(
                403, "AccessDenied", "You have no right to access this object because of bucket acl."
            )
        try:
            expires = int(q["Expires"])
        except ValueError:
            return _oss_error_reply(403, "AccessDenied", "Invalid argument: Expires.")
        if q["OSSAccessKeyId"] != self.access_key_id:
            return _oss_error_reply(
                403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."
            )
        if not hmac.compare_digest(q["Signature"].encode(), self._sign(expires, key).encode()):
            return _oss_error_reply(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        now = time.time()
        with self._lock:
            record = self._images.get(key)
        if record is None:
            return _oss_error_reply(404, "NoSuchKey", "The specified key does not exist.")
        if now >= expires or record.revoked:
            return _oss_error_reply(
                403,
                "AccessDenied",
                "Request has expired.",
                {"Expires": _iso_gmt(min(expires, now)), "ServerTime": _iso_gmt(now)},
            )
        g = record.gen
        png = self._pngs.get(g.prompt, g.seed, g.width, g.height)
        return self._image_reply(method, png)

    def _take_image_behavior(self) -> _ImageBehavior:
        with self._lock:
            b = self._image_behavior
            if b.mode == "normal":
                return b
            current = _ImageBehavior(b.mode, None, b.size, b.location, b.seconds)
            if b.remaining is not None:
                b.remaining -= 1
                if b.remaining <= 0:
                    self._image_behavior = _ImageBehavior()
            return current

    def _image_reply(self, method: str, png: bytes) -> _Reply:
        b = self._take_image_behavior()
        common = [("Server", "AliyunOSS"), ("x-oss-request-id", secrets.token_hex(12).upper())]
        body = b"" if method == "HEAD" else png
        if b.mode == "redirect":
            return _Reply(
                302, [("Location", b.location), ("Content-Type", "text/plain"), *common], b"", endpoint="image"
            )
        if b.mode == "oversize":
            size = b.size
            chunks = None if method == "HEAD" else _padded(png, size)
            return _Reply(
                200,
                [("Content-Type", "image/png"), ("Content-Length", str(size)), *common],
                chunks=chunks,
                endpoint="image",
            )
        ctype = "text/html" if b.mode == "wrong-content-type" else "image/png"
        headers = [("Content-Type", ctype), ("Content-Length", str(len(png))), *common]
        if b.mode == "truncate" and method == "GET":
            return _Reply(200, headers, chunks=[png[: len(png) // 2]], close=True, endpoint="image")
        if b.mode == "slow" and method == "GET":
            pieces = 20
            step = max(1, math.ceil(len(png) / pieces))
            chunks = [png[i : i + step] for i in range(0, len(png), step)]
            return _Reply(200, headers, chunks=chunks, chunk_delay=b.seconds / len(chunks), endpoint="image")
        return _Reply(200, headers, chunks=[body], endpoint="image")

    # -- control API --------------------------------------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> _Reply:
        name = path[len("/_standin/") :].rstrip("/")
        posts: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "reset": self._ctl_reset,
            "faults": self._ctl_faults,
            "latency": self._ctl_latency,
            "expire-urls": self._ctl_expire_urls,
            "url-ttl": self._ctl_url_ttl,
            "image-behavior": self._ctl_image_behavior,
            "result-url": self._ctl_result_url,
            "tasks": self._ctl_tasks,
            "rate-limit": self._ctl_rate_limit,
        }
        if name in posts:
            if method != "POST":
                return self._method_not_allowed(method, path, "POST")
            try:
                data = json.loads(body.decode("utf-8") or "{}") if body.strip() else {}
                if not isinstance(data, dict):
                    raise ValueError("body must be a JSON object")
                result = posts[name](data)
            except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
                return _json_reply(400, {"ok": False, "error": str(exc)})
            return _json_reply(200, {"ok": True, **result})
        if name == "health":
            return _json_reply(200, {"ok": True}) if method == "GET" else self._method_not_allowed(method, path, "GET")
        if name == "calls":
            if method != "GET":
                return self._method_not_allowed(method, path, "GET")
            with self._lock:
                return _json_reply(200, {"calls": list(self._calls)})
        if name.startswith("tasks/") and "/" not in name[len("tasks/") :]:
            if method != "GET":
                return self._method_not_allowed(method, path, "GET")
            with self._lock:
                task = self._tasks.get(name[len("tasks/") :])
                record = task.record() if task else None
            if record is None:
                return _error_reply(404, "NotFound", "No such task.")
            return _json_reply(200, record)
        return _error_reply(404, "NotFound", f"Requested URL {path} is invalid.")

    @staticmethod
    def _method_not_allowed(method: str, path: str, allowed: str) -> _Reply:
        reply = _error_reply(405, "MethodNotAllowed", f"Method {method} is not allowed for {path}.")
        reply.headers.append(("Allow", allowed))
        return reply

    def _ctl_reset(self, data: dict[str, Any]) -> dict[str, Any]:
        self.reset()
        return {}

    def _ctl_faults(self, data: dict[str, Any]) -> dict[str, Any]:
        endpoint = _choice(data, "endpoint", ENDPOINTS, "any")
        retry_after = data.get("retry_after")
        fault = _Fault(
            count=_int(data, "count", 1, minimum=1),
            status=_int(data, "status", 500, minimum=100),
            code=str(data.get("code", "InternalError")),
            message=str(data.get("message", MSG_INTERNAL)),
            endpoint=endpoint,
            retry_after=None if retry_after is None else _number(data, "retry_after", 0.0),
        )
        if fault.status > 599:
            raise ValueError("status must be an HTTP status code")
        with self._lock:
            self._faults.append(fault)
            return {"queued": len(self._faults)}

    def _ctl_latency(self, data: dict[str, Any]) -> dict[str, Any]:
        seconds = _number(data, "seconds", 0.0)
        endpoint = _choice(data, "endpoint", ENDPOINTS, "any")
        with self._lock:
            if seconds > 0:
                self._latency[endpoint] = seconds
            else:
                self._latency.pop(endpoint, None)
            return {"latency": dict(self._latency)}

    def _ctl_expire_urls(self, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for record in self._images.values():
                record.revoked = True
            return {"expired": len(self._images)}

    def _ctl_url_ttl(self, data: dict[str, Any]) -> dict[str, Any]:
        if "seconds" not in data:
            raise ValueError("seconds is required")
        with self._lock:
            self.url_ttl = _number(data, "seconds", 0.0)
            return {"seconds": self.url_ttl}

    def _ctl_image_behavior(self, data: dict[str, Any]) -> dict[str, Any]:
        mode = _choice(data, "mode", IMAGE_MODES, "normal")
        count = data.get("count")
        behavior = _ImageBehavior(
            mode=mode,
            remaining=None if count is None else _int(data, "count", 1, minimum=1),
            size=_int(data, "bytes", DEFAULT_OVERSIZE_BYTES, minimum=0),
            location=str(data.get("location", "")),
            seconds=_number(data, "seconds", 2.0),
        )
        if mode == "redirect" and not behavior.location:
            raise ValueError("location is required for mode redirect")
        with self._lock:
            self._image_behavior = behavior
        return {"mode": mode}

    def _ctl_result_url(self, data: dict[str, Any]) -> dict[str, Any]:
        url = data.get("url")
        if not isinstance(url, str) or not url:
            raise ValueError("url is required")
        with self._lock:
            self._result_urls.append([url, _int(data, "count", 1, minimum=1)])
            return {"queued": len(self._result_urls)}

    def _ctl_tasks(self, data: dict[str, Any]) -> dict[str, Any]:
        outcome = _choice(data, "outcome", TASK_OUTCOMES, "SUCCEEDED")
        count = data.get("count")
        script = _TaskScript(
            polls_pending=_int(data, "polls_pending", 1, minimum=0),
            polls_running=_int(data, "polls_running", 1, minimum=0),
            outcome=outcome,
            code=str(data.get("code", "InternalError")),
            message=str(data.get("message", MSG_INTERNAL)),
            remaining=None if count is None else _int(data, "count", 1, minimum=1),
        )
        with self._lock:
            self._task_script = script
        return {"script": script.public()}

    def _ctl_rate_limit(self, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._rps = _number(data, "rps", 0.0)
            self._rate_window.clear()
            return {"rps": self._rps}

    # -- call log -------------------------------------------------------------------------------

    def _record(self, reply: _Reply, method: str, path: str, at: float) -> None:
        if path.startswith("/_standin"):
            return
        entry: dict[str, Any] = {
            "endpoint": reply.endpoint,
            "method": method,
            "path": path,
            "status": reply.status,
            "at": at,
        }
        if reply.task_id:
            entry["task_id"] = reply.task_id
        if reply.request_id:
            entry["request_id"] = reply.request_id
        with self._lock:
            self._calls.append(entry)

    def _log(self, client: str, method: str, path: str, reply: _Reply, started: float) -> None:
        if self.log_stream is None:
            return
        ms = (time.monotonic() - started) * 1000
        line = f"standin {client} {method} {path} -> {reply.status} [{reply.endpoint}] {ms:.0f}ms"
        with contextlib.suppress(OSError, ValueError):
            print(line, file=self.log_stream, flush=True)


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


def _int(data: dict[str, Any], key: str, default: int, minimum: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key} must be an integer >= {minimum}")
    return value


def _number(data: dict[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{key} must be a non-negative number")
    return float(value)


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(allowed)}")
    return str(value)


# ---------------------------------------------------------------------------------------------
# HTTP server glue
# ---------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """Threading server that remembers open connections so ``stop()`` can drop keep-alives."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type[BaseHTTPRequestHandler], standin: StandIn) -> None:
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.standin = standin
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._conns_lock:
            self._conns.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, asks ``StandIn.handle`` for the reply, writes it (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; avoid 40 ms stalls
    server_version = "DashScopeStandIn/1.0"
    sys_version = ""
    server: _Server

    def _dispatch(self) -> None:
        started = time.monotonic()
        at = time.time()
        standin = self.server.standin
        path = urlsplit(self.path).path
        try:
            body = self._read_body()
        except ValueError as exc:
            reply = _error_reply(400, "InvalidParameter", str(exc))
            reply.close = True
        else:
            if body is None:
                reply = _error_reply(413, "RequestEntityTooLarge", "The request body is too large.")
                reply.close = True
            else:
                try:
                    reply = standin.handle(self.command, self.path, self.headers, body)
                except Exception as exc:  # a stand-in must answer, never die
                    reply = _error_reply(500, "InternalError", f"stand-in bug: {type(exc).__name__}: {exc}")
        standin._record(reply, self.command, path, at)
        self._write(reply)
        standin._log(self.client_address[0], self.command, path, reply, started)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size_line = self.rfile.readline(1024).split(b";")[0].strip()
                size = int(size_line or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                if len(out) + size > MAX_BODY:
                    return None
                out += self.rfile.read(size)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def version_string(self) -> str:
        return getattr(self, "_server_header", None) or self.server_version

    def _write(self, reply: _Reply) -> None:
        self._server_header = next((v for k, v in reply.headers if k.lower() == "server"), None)
        try:
            self.send_response(reply.status)
            names = {k.lower() for k, _ in reply.headers}
            for k, v in reply.headers:
                if k.lower() != "server":
                    self.send_header(k, v)
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(reply.body)))
            if reply.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command == "HEAD":
                return
            if reply.chunks is None:
                self.wfile.write(reply.body)
            else:
                for chunk in reply.chunks:
                    if reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                    self.wfile.write(chunk)
            self.wfile.flush()
            if reply.close:
                self.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: ``StandIn._log`` writes one line per request without headers or keys."""


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; print ``READY <base_url>`` once listening."""
    parser = argparse.ArgumentParser(description="Local stand-in for the DashScope Qwen-Image API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--api-key", default=os.environ.get("DASHSCOPE_API_KEY") or "sk-local-standin")
    parser.add_argument("--url-ttl", type=float, default=86400.0, help="result URL lifetime in seconds")
    parser.add_argument("--public-host", default=None, help="host:port written into result URLs")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    standin = StandIn(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        url_ttl_seconds=args.url_ttl,
        public_host=args.public_host,
        log_stream=sys.stderr,
    )
    try:
        standin.start()
    except OSError as exc:
        print(f"standin: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"READY {standin.base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        standin.stop()
    print("standin: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
