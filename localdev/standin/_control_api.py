"""The ``/_standin/`` HTTP routes: read a setting, check it, apply it to ``Controls``, say what is set.

Why strict checks: a mistyped setting in a test should fail that test loudly (400 with the reason),
not silently leave the stand-in behaving normally.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from ._control import ENDPOINTS, Controls, Fault
from ._downloads import DEFAULT_OVERSIZE_BYTES, IMAGE_MODES, ImageBehavior
from ._oss import Bucket
from ._replies import Reply, error_reply, json_reply, method_not_allowed
from ._tasks import TASK_OUTCOMES, TaskBook, TaskScript
from ._wire import MSG_INTERNAL

__all__ = ["ControlApi", "Settings"]

PREFIX = "/_standin/"


class Settings(Protocol):
    """What the control API changes on the stand-in itself: the result URL lifetime, and ``reset``."""

    url_ttl: float

    def reset(self) -> None: ...


class ControlApi:
    """Answers every path under ``/_standin``: POST routes change settings, GET routes read state."""

    def __init__(self, settings: Settings, controls: Controls, bucket: Bucket, tasks: TaskBook) -> None:
        self._settings = settings
        self._controls = controls
        self._bucket = bucket
        self._tasks = tasks
        self._posts: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "reset": self._reset,
            "faults": self._faults,
            "latency": self._latency,
            "expire-urls": self._expire_urls,
            "url-ttl": self._url_ttl,
            "image-behavior": self._image_behavior,
            "result-url": self._result_url,
            "tasks": self._task_script,
            "rate-limit": self._rate_limit,
            "padding": self._padding,
        }

    def handle(self, method: str, path: str, body: bytes) -> Reply:
        name = path[len(PREFIX) :].rstrip("/")
        if name in self._posts:
            if method != "POST":
                return method_not_allowed(method, path, "POST")
            try:
                data = json.loads(body.decode("utf-8") or "{}") if body.strip() else {}
                if not isinstance(data, dict):
                    raise ValueError("body must be a JSON object")
                result = self._posts[name](data)
            except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
                return json_reply(400, {"ok": False, "error": str(exc)})
            return json_reply(200, {"ok": True, **result})
        if name == "health":
            return json_reply(200, {"ok": True}) if method == "GET" else method_not_allowed(method, path, "GET")
        if name == "calls":
            if method != "GET":
                return method_not_allowed(method, path, "GET")
            return json_reply(200, {"calls": self._controls.calls()})
        if name.startswith("tasks/") and "/" not in name[len("tasks/") :]:
            if method != "GET":
                return method_not_allowed(method, path, "GET")
            record = self._tasks.record(name[len("tasks/") :])
            if record is None:
                return error_reply(404, "NotFound", "No such task.")
            return json_reply(200, record)
        return error_reply(404, "NotFound", f"Requested URL {path} is invalid.")

    # -- POST routes: each returns what it set ---------------------------------------------------

    def _reset(self, data: dict[str, Any]) -> dict[str, Any]:
        self._settings.reset()
        return {}

    def _faults(self, data: dict[str, Any]) -> dict[str, Any]:
        endpoint = _choice(data, "endpoint", ENDPOINTS, "any")
        retry_after = data.get("retry_after")
        fault = Fault(
            count=_int(data, "count", 1, minimum=1),
            status=_int(data, "status", 500, minimum=100),
            code=_code(data),
            message=_message(data),
            endpoint=endpoint,
            retry_after=None if retry_after is None else _number(data, "retry_after", 0.0),
        )
        if fault.status > 599:
            raise ValueError("status must be an HTTP status code")
        return {"queued": self._controls.add_fault(fault)}

    def _latency(self, data: dict[str, Any]) -> dict[str, Any]:
        seconds = _number(data, "seconds", 0.0)
        endpoint = _choice(data, "endpoint", ENDPOINTS, "any")
        return {"latency": self._controls.set_latency(endpoint, seconds)}

    def _expire_urls(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"expired": self._bucket.expire_all()}

    def _url_ttl(self, data: dict[str, Any]) -> dict[str, Any]:
        if "seconds" not in data:
            raise ValueError("seconds is required")
        self._settings.url_ttl = _number(data, "seconds", 0.0)
        return {"seconds": self._settings.url_ttl}

    def _image_behavior(self, data: dict[str, Any]) -> dict[str, Any]:
        mode = _choice(data, "mode", IMAGE_MODES, "normal")
        behavior = ImageBehavior(
            mode=mode,
            remaining=_remaining(data),
            size=_int(data, "bytes", DEFAULT_OVERSIZE_BYTES, minimum=0),
            location=str(data.get("location", "")),
            seconds=_number(data, "seconds", 2.0),
        )
        if mode == "redirect" and not behavior.location:
            raise ValueError("location is required for mode redirect")
        self._controls.set_image_behavior(behavior)
        return {"mode": mode}

    def _result_url(self, data: dict[str, Any]) -> dict[str, Any]:
        url = data.get("url")
        if not isinstance(url, str) or not url:
            raise ValueError("url is required")
        return {"queued": self._controls.add_result_url(url, _int(data, "count", 1, minimum=1))}

    def _task_script(self, data: dict[str, Any]) -> dict[str, Any]:
        outcome = _choice(data, "outcome", TASK_OUTCOMES, "SUCCEEDED")
        seconds = data.get("seconds")
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 3600:
                raise ValueError("seconds must be a number of seconds from 0 (exclusive) to 3600")
            if "polls_pending" in data or "polls_running" in data:
                raise ValueError("seconds times the task instead of polls_pending/polls_running: give one or the other")
        script = TaskScript(
            seconds=None if seconds is None else float(seconds),
            polls_pending=_int(data, "polls_pending", 1, minimum=0),
            polls_running=_int(data, "polls_running", 1, minimum=0),
            outcome=outcome,
            code=_code(data),
            message=_message(data),
            remaining=_remaining(data),
        )
        self._controls.set_task_script(script)
        return {"script": script.public()}

    def _padding(self, data: dict[str, Any]) -> dict[str, Any]:
        endpoint = _choice(data, "endpoint", ENDPOINTS, "any")
        size = _int(data, "bytes", 0, minimum=1)
        return {"queued": self._controls.add_padding(endpoint, size, _int(data, "count", 1, minimum=1))}

    def _rate_limit(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"rps": self._controls.set_rate_limit(_number(data, "rps", 0.0))}


def _remaining(data: dict[str, Any]) -> int | None:
    """``count`` for settings that otherwise last until reset (None)."""
    return None if data.get("count") is None else _int(data, "count", 1, minimum=1)


def _code(data: dict[str, Any]) -> str:
    return str(data.get("code", "InternalError"))


def _message(data: dict[str, Any]) -> str:
    return str(data.get("message", MSG_INTERNAL))


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
