"""Async tasks: what each submitted task is, how polling moves it along, and its ``output`` on the wire.

Why poll-driven by default: tests need PENDING, RUNNING and the final state to appear on known polls
regardless of machine speed, so a task advances by one step per query, as its script says. A script with
``seconds`` is timed instead, like DashScope's own tasks: RUNNING until that long after the submit, then its
outcome, with ``end_time`` when it ended whoever polled when (what the poll schedule is measured against).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ._wire import CHINA_TZ, MSG_INTERNAL, ApiError, Generation

__all__ = ["TASK_OUTCOMES", "TaskBook", "TaskScript"]

TASK_OUTCOMES = ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")
TASK_RETENTION_SECONDS = 86400.0

IssueUrl = Callable[[str, Generation], str]
"""Mints the result URL of a succeeded task from (task id, generation)."""


@dataclass
class TaskScript:
    """How a task progresses: polls spent PENDING, then RUNNING, then ``outcome`` (code/message if FAILED); or,
    with ``seconds``, RUNNING for that long after the submit whatever the polls, then ``outcome``."""

    polls_pending: int = 1
    polls_running: int = 1
    seconds: float | None = None
    outcome: str = "SUCCEEDED"
    code: str = "InternalError"
    message: str = MSG_INTERNAL
    remaining: int | None = None  # None: until reset

    def public(self) -> dict[str, Any]:
        """The script as the control API shows it: every field but the internal ``remaining`` count."""
        return {k: v for k, v in asdict(self).items() if k != "remaining"}


@dataclass
class _Task:
    task_id: str
    model: str
    gen: Generation
    prompt_extend: bool
    script: TaskScript
    submit_time: float
    status: str = "PENDING"
    polls: int = 0
    canceled: bool = False
    scheduled_time: float | None = None
    end_time: float | None = None
    result_url: str | None = None

    def record(self) -> dict[str, Any]:
        """The control API's view (``/_standin/tasks/<id>``): everything, including the script."""
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

    def advance(self, issue_url: IssueUrl) -> None:
        """One poll: PENDING for polls_pending polls, RUNNING for polls_running, then outcome; a timed script
        goes by the clock instead."""
        self.polls += 1
        if self.status in TASK_OUTCOMES:
            return
        s = self.script
        now = time.time()
        if s.seconds is not None:
            self.scheduled_time = self.submit_time
            if now - self.submit_time < s.seconds:
                self.status = "RUNNING"
                return
            self._end(self.submit_time + s.seconds, issue_url)
            return
        if self.polls <= s.polls_pending:
            self.status = "PENDING"
            return
        if self.scheduled_time is None:
            self.scheduled_time = now
        if self.polls <= s.polls_pending + s.polls_running:
            self.status = "RUNNING"
            return
        self._end(now, issue_url)

    def _end(self, at: float, issue_url: IssueUrl) -> None:
        self.status = self.script.outcome
        self.end_time = at
        if self.script.outcome == "SUCCEEDED":
            self.result_url = issue_url(self.task_id, self.gen)

    def output(self) -> dict[str, Any]:
        """The ``output`` object of a task query (reference section 3)."""
        if self.status == "UNKNOWN":
            return _unknown(self.task_id)
        out: dict[str, Any] = {
            "task_id": self.task_id,
            "task_status": self.status,
            "submit_time": _ds_time(self.submit_time),
        }
        if self.scheduled_time is not None:
            out["scheduled_time"] = _ds_time(self.scheduled_time)
        if self.end_time is not None:
            out["end_time"] = _ds_time(self.end_time)
        if self.status == "SUCCEEDED":
            result: dict[str, Any] = {"orig_prompt": self.gen.prompt}
            if self.prompt_extend:
                result["actual_prompt"] = _extend_prompt(self.gen.prompt)
            result["url"] = self.result_url
            out["results"] = [result]
        elif self.status == "FAILED":
            out["code"] = self.script.code
            out["message"] = self.script.message
        return out


class TaskBook:
    """Every submitted task, by id; ids are unique, so tasks survive ``reset`` on purpose."""

    def __init__(self) -> None:
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()

    def submit(self, model: str, gen: Generation, prompt_extend: bool, script: TaskScript) -> str:
        """File a new PENDING task that will follow ``script``; returns its id."""
        task_id = str(uuid.uuid4())
        with self._lock:
            self._tasks[task_id] = _Task(task_id, model, gen, prompt_extend, script, time.time())
        return task_id

    def poll(self, task_id: str, issue_url: IssueUrl) -> dict[str, Any]:
        """Advance the task by one poll and return its ``output``; unknown or expired ids are UNKNOWN."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or time.time() - task.submit_time > TASK_RETENTION_SECONDS:
                return _unknown(task_id)
            task.advance(issue_url)
            return task.output()

    def cancel(self, task_id: str) -> None:
        """Cancel a task that is still PENDING; anything else is DashScope's UnsupportedOperation."""
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

    def record(self, task_id: str) -> dict[str, Any] | None:
        """The control view of one task, or None if there is no such task."""
        with self._lock:
            task = self._tasks.get(task_id)
            return task.record() if task else None


def _unknown(task_id: str) -> dict[str, Any]:
    return {"task_id": task_id, "task_status": "UNKNOWN"}


def _ds_time(t: float) -> str:
    """DashScope task timestamp: ``YYYY-MM-DD HH:mm:ss.SSS``."""
    return datetime.fromtimestamp(t, CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _extend_prompt(prompt: str) -> str:
    """Stand-in for DashScope's LLM prompt rewrite (``actual_prompt``); deterministic."""
    return f"{prompt} Rendered with rich detail, balanced composition and soft natural light."
