"""The stand-in's test controls: what ``/_standin/`` has set, how requests use it up, and the call log.

Why one object: faults, latency, image behaviour, task scripts, result-URL overrides, padded answers and the
rate limit are all "until reset" state that ``reset`` must put back in one step, and that requests consume
atomically (a fault with ``count=2`` answers exactly two requests, even concurrent ones).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from ._downloads import ImageBehavior
from ._oss import oss_error_reply
from ._replies import Reply, error_reply
from ._tasks import TaskScript

__all__ = ["ENDPOINTS", "Controls", "Fault"]

ENDPOINTS = ("sync", "async-submit", "task", "image", "any")
CALL_LOG_MAX = 10000


@dataclass
class Fault:
    """The next ``count`` requests to ``endpoint`` (or any, for "any") get this error instead."""

    count: int
    status: int
    code: str
    message: str
    endpoint: str
    retry_after: float | None

    def reply(self, endpoint: str) -> Reply:
        """The error as ``endpoint`` would give it: OSS XML for images, DashScope JSON otherwise."""
        if endpoint == "image":
            reply = oss_error_reply(self.status, self.code, self.message)
        else:
            reply = error_reply(self.status, self.code, self.message, endpoint)
        if self.retry_after is not None:
            ra = self.retry_after
            reply.headers.append(("Retry-After", str(int(ra)) if float(ra).is_integer() else str(ra)))
        return reply


class Controls:
    """Control state with its defaults; ``take_*`` methods consume counted settings one request at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to defaults, including an empty call log."""
        with self._lock:
            self._faults: deque[Fault] = deque()
            self._latency: dict[str, float] = {}
            self._image_behavior = ImageBehavior()
            self._task_script = TaskScript()
            self._result_urls: deque[list[Any]] = deque()  # [url, remaining]
            self._paddings: deque[list[Any]] = deque()  # [endpoint, bytes, remaining]
            self._rps = 0.0
            self._rate_window: deque[float] = deque()
            self._calls: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_MAX)

    # -- used by requests -------------------------------------------------------------------------

    def latency_for(self, endpoint: str) -> float:
        """Seconds to wait before answering ``endpoint``; a per-endpoint setting beats "any"."""
        with self._lock:
            return self._latency.get(endpoint) or self._latency.get("any", 0.0)

    def take_fault(self, endpoint: str) -> Fault | None:
        """The first queued fault that matches ``endpoint``, counted down (and dropped at zero)."""
        with self._lock:
            for fault in self._faults:
                if fault.endpoint in (endpoint, "any"):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def admit(self) -> bool:
        """False when this request would exceed the requests-per-second limit (a sliding 1 s window)."""
        with self._lock:
            if self._rps <= 0:
                return True
            now = time.monotonic()
            while self._rate_window and now - self._rate_window[0] >= 1.0:
                self._rate_window.popleft()
            if len(self._rate_window) >= self._rps:
                return False
            self._rate_window.append(now)
            return True

    def take_padding(self, endpoint: str) -> int:
        """Bytes of padding for this JSON answer of ``endpoint`` (0: none), counted down like a fault."""
        with self._lock:
            for entry in self._paddings:
                if entry[0] in (endpoint, "any"):
                    entry[2] -= 1
                    if entry[2] <= 0:
                        self._paddings.remove(entry)
                    return int(entry[1])
        return 0

    def take_image_behavior(self) -> ImageBehavior:
        """How to answer this download; a counted behaviour reverts to normal once used up."""
        with self._lock:
            b = self._image_behavior
            if b.mode == "normal":
                return b
            current = ImageBehavior(b.mode, None, b.size, b.location, b.seconds)
            if b.remaining is not None:
                b.remaining -= 1
                if b.remaining <= 0:
                    self._image_behavior = ImageBehavior()
            return current

    def take_result_url(self) -> str | None:
        """A test's result-URL override to hand out instead of minting one, if any is queued."""
        with self._lock:
            if not self._result_urls:
                return None
            entry = self._result_urls[0]
            entry[1] -= 1
            if entry[1] <= 0:
                self._result_urls.popleft()
            return str(entry[0])

    def take_task_script(self) -> TaskScript:
        """A copy of the current task script for a new task; a counted script reverts once used up."""
        with self._lock:
            script = self._task_script
            if script.remaining is not None:
                script.remaining -= 1
                if script.remaining <= 0:
                    self._task_script = TaskScript()
            return TaskScript(**script.public())

    # -- set by the control API -------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> int:
        """Queue ``fault`` behind the others; returns the queue length."""
        with self._lock:
            self._faults.append(fault)
            return len(self._faults)

    def set_latency(self, endpoint: str, seconds: float) -> dict[str, float]:
        """Delay ``endpoint`` by ``seconds`` (0 clears it); returns every latency now set."""
        with self._lock:
            if seconds > 0:
                self._latency[endpoint] = seconds
            else:
                self._latency.pop(endpoint, None)
            return dict(self._latency)

    def set_image_behavior(self, behavior: ImageBehavior) -> None:
        with self._lock:
            self._image_behavior = behavior

    def add_result_url(self, url: str, count: int) -> int:
        """Hand out ``url`` as the next ``count`` result URLs; returns the queue length."""
        with self._lock:
            self._result_urls.append([url, count])
            return len(self._result_urls)

    def add_padding(self, endpoint: str, size: int, count: int) -> int:
        """Pad the next ``count`` JSON answers of ``endpoint`` with ``size`` bytes; returns the queue length."""
        with self._lock:
            self._paddings.append([endpoint, size, count])
            return len(self._paddings)

    def set_task_script(self, script: TaskScript) -> None:
        with self._lock:
            self._task_script = script

    def set_rate_limit(self, rps: float) -> float:
        """Allow ``rps`` generation requests per second (0: unlimited), starting a fresh window."""
        with self._lock:
            self._rps = rps
            self._rate_window.clear()
            return self._rps

    # -- call log -------------------------------------------------------------------------------

    def record_call(self, reply: Reply, method: str, path: str, at: float) -> None:
        """Log one answered API or image request; control routes are not logged."""
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

    def calls(self) -> list[dict[str, Any]]:
        """The call log, oldest first (the newest ``CALL_LOG_MAX`` entries)."""
        with self._lock:
            return list(self._calls)
