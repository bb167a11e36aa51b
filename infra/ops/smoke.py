"""Smoke test of a running deployment, from the outside, as a client sees it: one line per check.

Through the stack's public URL (the frontend): `/api/health` answers for the stack's environment and says
(`X-Backend-Via`) that it came the way the stack is configured; a real generation (`--no-generate` skips it,
and everything that needs it) whose run ends `succeeded` (on async stacks within the bound the stack's queue
settings give, `async_bound_seconds`), is readable afterwards with the read token its creation returned, and
whose stored image, fetched from its stable URL, has the recorded sha256; with the service binding, none of
the backend's own public addresses answers `/api/*`. No secret is needed: it is what any client can do.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from infra.model.bindings import script_name
from infra.model.contract import TERMINAL, RunStatus
from infra.model.naming import Role
from infra.model.settings import StackSettings
from infra.ops.checks import Check

SEED = 20260101
# Added to the async bound: the clock of a client far from the Worker, D1's and the queue's own latency.
BOUND_MARGIN_SECONDS = 60
# backoff.js: the first query comes 10 % after the expected task time, which recent runs may put at up to 4x the hint.
FIRST_POLL_MARGIN = 1.1
LEARNT_TASK_FACTOR = 4
_BODY_EXCERPT = 300


def async_bound_seconds(settings: StackSettings) -> int:
    """How long an async run may take before it must have ended, following worker_src/backend/backoff.js: the
    batch wait; every attempt's retry delay (`queues.jobs.max_retries` of them, each at most `max_delay_seconds`);
    the first task query 10 % after the expected task time (up to four times `expected_task_seconds` when it is
    learnt from recent runs); the later `max_polls - 1` queries `initial_delay_seconds * 2^k` apart, capped at
    `max_delay_seconds`; one provider call and one download; plus a margin. A run still going after that is
    stuck (no consumer, a lost message), not slow."""
    queues, upstream = settings.queues, settings.upstream
    polling = queues.polling
    expected = polling.expected_task_seconds * (LEARNT_TASK_FACTOR if polling.learn_from_recent_runs else 1)
    first = round(expected * FIRST_POLL_MARGIN)
    later = sum(min(polling.max_delay_seconds, polling.initial_delay_seconds * 2 ** k)
                for k in range(polling.max_polls - 1))
    return (queues.jobs.max_batch_timeout_seconds + queues.jobs.max_retries * polling.max_delay_seconds + first
            + later + upstream.request_timeout_seconds + upstream.download_timeout_seconds + BOUND_MARGIN_SECONDS)


def workers_dev_url(settings: StackSettings, subdomain: str, role: Role) -> str:
    return f"https://{script_name(settings, role)}.{subdomain}.workers.dev"


@dataclass
class Smoke:
    """The checks of one deployment reached at `base_url`. `backend_urls` are the backend's own public addresses
    to probe (its workers.dev address, a custom domain); `backend_urls_skipped` says why one could not be
    named. `transport`, `sleep` and `clock` are for tests."""

    settings: StackSettings
    base_url: str
    generate: bool = True
    backend_urls: Sequence[str] = ()
    backend_urls_skipped: str | None = None
    poll_seconds: float = 2.0
    timeout_seconds: float = 60.0
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _http: httpx.Client = field(init=False, repr=False)

    def run(self) -> Iterator[Check]:
        self._http = httpx.Client(transport=self.transport, timeout=self.timeout_seconds, follow_redirects=False,
                                  headers={"User-Agent": "infra-smoke"})
        try:
            yield from self._checks()
        finally:
            self._http.close()

    def _checks(self) -> Iterator[Check]:
        health = self._get(f"{self.base_url}/api/health")
        yield self._health(health)
        yield self._via(health)
        if not isinstance(health, httpx.Response) or health.status_code != 200:
            yield Check("the other checks", "skip", "they need a healthy deployment")
            return
        if self.generate:
            yield from self._generation()
        else:
            yield Check("generate", "skip", "--no-generate: no run, image or read-back checked")
        yield from self._backend_private()

    # -- health and the proxy --------------------------------------------------------------------------------

    def _health(self, response: httpx.Response | str) -> Check:
        if not isinstance(response, httpx.Response):
            return Check("health", "fail", f"GET {self.base_url}/api/health: {response}")
        body = _json(response)
        expected = self.settings.environment
        if response.status_code == 200 and body.get("ok") is True and body.get("environment") == expected:
            return Check("health", "ok", f"environment '{expected}'")
        if response.status_code == 200:
            return Check("health", "fail", f"answers for environment {body.get('environment')!r}, not '{expected}': "
                                           "the URL reaches another stack")
        return Check("health", "fail", f"GET /api/health answered {_answer(response)}")

    def _via(self, response: httpx.Response | str) -> Check:
        expected = self.settings.frontend.backend_access
        if not isinstance(response, httpx.Response):
            return Check("backend access", "skip", "no answer to read X-Backend-Via from")
        via = response.headers.get("x-backend-via")
        if via == expected:
            return Check("backend access", "ok", f"X-Backend-Via: {via}")
        if via is None:
            return Check("backend access", "fail", "no X-Backend-Via header: the answer did not come through the "
                                                   "frontend's proxy (is the URL the backend's own?)")
        return Check("backend access", "fail", f"X-Backend-Via is '{via}', but the stack says '{expected}' "
                                               "(frontend.backend_access): the deployed frontend is not the stack's")

    # -- a real generation -----------------------------------------------------------------------------------

    def _generation(self) -> Iterator[Check]:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        body = {"prompt": f"smoke test of stack {self.settings.environment} at {stamp}: a lighthouse at dawn",
                "seed": SEED}
        created = self._request("POST", f"{self.base_url}/api/generate", json=body,
                                headers={"Idempotency-Key": str(uuid.uuid4())})
        expected = 202 if self.settings.async_enabled else 201
        if not isinstance(created, httpx.Response) or created.status_code != expected:
            shown = created if isinstance(created, str) else _answer(created)
            yield Check("generate", "fail", f"POST /api/generate answered {shown}; expected {expected}")
            return
        answer = _json(created)
        run, token = answer.get("run") or {}, answer.get("read_token")
        run_id = str(run.get("id", ""))
        yield Check("generate", "ok", f"{created.status_code}, run {run_id} {run.get('status')}")
        if self.settings.async_enabled:
            finished = yield from self._await(run_id, token)
            if not finished:
                return
        read = self._read(run_id, token)
        if isinstance(read, Check):
            yield read
            return
        run = read
        yield Check("run readable", "ok", f"{run_id} {run['status']} with {len(run['images'])} image(s)")
        if token:
            yield self._anonymous(run_id)
        yield self._image(run["images"][0])

    def _await(self, run_id: str, token: str | None) -> Iterator[Check]:
        """Follow an async run until it ends, within `async_bound_seconds`; True when it succeeded."""
        bound = async_bound_seconds(self.settings)
        started = self.clock()
        status = None
        while self.clock() - started <= bound:
            response = self._get(f"{self.base_url}/api/runs/{run_id}", token)
            if isinstance(response, httpx.Response) and response.status_code == 200:
                run = _json(response).get("run") or {}
                status = run.get("status")
                if status in TERMINAL:
                    waited = self.clock() - started
                    if status == RunStatus.SUCCEEDED:
                        yield Check("run finished", "ok", f"succeeded after {waited:.0f} s (bound {bound} s)")
                        return True
                    error = run.get("error") or {}
                    yield Check("run finished", "fail", f"{status} after {waited:.0f} s: {error.get('code')}: "
                                                        f"{error.get('message')}")
                    return False
            self.sleep(self.poll_seconds)
        yield Check("run finished", "fail", f"still {status or 'unreadable'} after {bound} s, the longest the stack's "
                                            "queue settings allow: is the queue consumer running?")
        return False

    def _read(self, run_id: str, token: str | None) -> dict[str, Any] | Check:
        response = self._get(f"{self.base_url}/api/runs/{run_id}", token)
        if not isinstance(response, httpx.Response) or response.status_code != 200:
            shown = response if isinstance(response, str) else _answer(response)
            return Check("run readable", "fail", f"GET /api/runs/{run_id} answered {shown}")
        run = _json(response).get("run") or {}
        if run.get("id") != run_id or run.get("status") != RunStatus.SUCCEEDED or not run.get("images"):
            return Check("run readable", "fail", f"GET /api/runs/{run_id} shows {_excerpt(response.text)}; expected "
                                                 "the run succeeded with its image")
        return run

    def _anonymous(self, run_id: str) -> Check:
        """Without the run's read token a run shows its status, never its prompt."""
        response = self._get(f"{self.base_url}/api/runs/{run_id}")
        if not isinstance(response, httpx.Response):
            return Check("run private", "fail", f"GET /api/runs/{run_id} without the read token: {response}")
        run = _json(response).get("run") or {}
        leaked = [key for key in ("prompt", "parameters", "images") if run.get(key)]
        if leaked:
            return Check("run private", "fail", f"without the read token the run shows its {', '.join(leaked)}")
        return Check("run private", "ok", f"without the read token: {response.status_code}, status only")

    def _image(self, image: dict[str, Any]) -> Check:
        url = str(image.get("url"))
        response = self._get(url)
        if not isinstance(response, httpx.Response) or response.status_code != 200:
            shown = response if isinstance(response, str) else _answer(response)
            return Check("image", "fail", f"GET {_unsigned(url)} answered {shown}")
        digest = hashlib.sha256(response.content).hexdigest()
        if digest != image.get("sha256") or len(response.content) != image.get("bytes"):
            return Check("image", "fail", f"{_unsigned(url)} serves {len(response.content)} bytes with sha256 "
                                          f"{digest[:12]}, but the run recorded {image.get('bytes')} bytes with "
                                          f"sha256 {str(image.get('sha256'))[:12]}")
        if response.headers.get("content-type") != image.get("content_type"):
            return Check("image", "fail", f"{_unsigned(url)} is served as {response.headers.get('content-type')}, "
                                          f"recorded as {image.get('content_type')}")
        return Check("image", "ok", f"{len(response.content)} bytes from its stable URL, sha256 as recorded")

    # -- the backend stays private ----------------------------------------------------------------------------

    def _backend_private(self) -> Iterator[Check]:
        if self.settings.frontend.backend_access != "service-binding":
            yield Check("backend private", "skip", "the stack reaches the backend by URL: it is public by design")
            return
        if self.backend_urls_skipped or not self.backend_urls:
            yield Check("backend private", "skip", self.backend_urls_skipped or "no public address of the backend "
                                                                                "to probe was given")
        for url in self.backend_urls:
            response = self._get(f"{url.rstrip('/')}/api/health")
            if isinstance(response, httpx.Response) and response.status_code < 400 and _json(response).get("ok"):
                yield Check("backend private", "fail", f"{url} serves /api/*: the backend is public, bypassing the "
                                                       "frontend (backend.workers_dev, a custom domain or route)")
            else:
                shown = response if isinstance(response, str) else f"HTTP {response.status_code}"
                yield Check("backend private", "ok", f"{url} does not serve /api/* ({shown})")

    # -- HTTP ---------------------------------------------------------------------------------------------------

    def _get(self, url: str, token: str | None = None) -> httpx.Response | str:
        return self._request("GET", url, headers={"X-Run-Token": token} if token else {})

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response | str:
        """The response, or what went wrong on the way as text (a refused connection is an answer too)."""
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc or 'no answer'}"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _answer(response: httpx.Response) -> str:
    error = _json(response).get("error")
    if isinstance(error, dict):
        return f"{response.status_code} {error.get('code')}: {error.get('message')}"
    return f"{response.status_code}: {_excerpt(response.text)}"


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _BODY_EXCERPT else text[:_BODY_EXCERPT] + "…"


def _unsigned(url: str) -> str:
    """A media URL without its query: a signed URL's signature is a credential until it expires."""
    return url.split("?", 1)[0]
