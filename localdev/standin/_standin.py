"""The stand-in's HTTP application: routes DashScope's endpoints, OSS result downloads and the control API
to the modules beside it, and runs them on one threaded server (`StandIn`, `main`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import urlsplit

from localdev.standin._control import Controls
from localdev.standin._control_api import ControlApi
from localdev.standin._downloads import image_reply
from localdev.standin._oss import IMAGE_RE, Bucket, OssError
from localdev.standin._png import PngCache
from localdev.standin._replies import Reply, error_reply, json_reply, method_not_allowed, padded
from localdev.standin._server import Server
from localdev.standin._tasks import TaskBook
from localdev.standin._wire import (
    ASYNC_PATH,
    CANCEL_RE,
    MSG_RATE,
    SYNC_PATH,
    TASK_RE,
    ApiError,
    Generation,
    cancel_body,
    check_auth,
    parse_async_request,
    parse_sync_request,
    submit_body,
    sync_body,
    task_body,
)


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
        self.url_ttl = self.default_url_ttl
        self.public_host = public_host
        self.log_stream = log_stream
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._controls = Controls()
        self._bucket = Bucket()
        self._tasks = TaskBook()
        self._pngs = PngCache()
        self._control_api = ControlApi(self, self._controls, self._bucket, self._tasks)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> StandIn:
        """Bind and serve in a daemon thread; returns self so ``StandIn().start()`` chains."""
        if self._server is not None:
            return self
        self._server = Server(
            (self.host, self.port), answer=self.handle, record=self._controls.record_call, log=self._log
        )
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

    @property
    def access_key_id(self) -> str:
        """The ``OSSAccessKeyId`` in every result URL this instance signs."""
        return self._bucket.access_key_id

    @access_key_id.setter
    def access_key_id(self, key_id: str) -> None:
        self._bucket.access_key_id = key_id

    def reset(self) -> None:
        """Back to defaults; issued URLs and submitted tasks are kept (their ids are unique)."""
        self._controls.reset()
        self.url_ttl = self.default_url_ttl

    # -- routing ------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> Reply:
        """Route one request; everything except writing bytes happens here."""
        parts = urlsplit(raw_path)
        path = parts.path
        if path.startswith("/_standin/") or path == "/_standin":
            return self._control_api.handle(method, path, body)
        if m := IMAGE_RE.match(path):
            reply = self._serve_image(method, m.group("key"), parts.query)
            reply.request_id = m.group("rid")
            return reply
        api_path = path.rstrip("/") or "/"
        args: dict[str, str] = {}
        fn: Callable[..., Reply]
        if api_path == SYNC_PATH:
            endpoint, allowed, fn = "sync", "POST", self._api_sync
        elif api_path == ASYNC_PATH:
            endpoint, allowed, fn = "async-submit", "POST", self._api_async_submit
        elif m := CANCEL_RE.match(api_path):
            endpoint, allowed, fn, args = "cancel", "POST", self._api_cancel, m.groupdict()
        elif m := TASK_RE.match(api_path):
            endpoint, allowed, fn, args = "task", "GET", self._api_task, m.groupdict()
        else:
            return error_reply(404, "NotFound", f"Requested URL {path} is invalid.")
        if method != allowed:
            return method_not_allowed(method, path, allowed, endpoint)
        self._delay(endpoint)
        try:
            check_auth(headers, self.api_key)
            if endpoint in ("sync", "async-submit") and not self._controls.admit():
                raise ApiError(429, "Throttling.RateQuota", MSG_RATE)
            fault = self._controls.take_fault(endpoint)
            if fault is not None:
                return fault.reply(endpoint)
            reply = fn(headers=headers, body=body, **args)
        except ApiError as err:
            reply = error_reply(err.status, err.code, err.message, endpoint)
            reply.task_id = args.get("task_id")
        reply.endpoint = endpoint
        return padded(reply, self._controls.take_padding(endpoint))

    def _delay(self, endpoint: str) -> None:
        delay = self._controls.latency_for(endpoint)
        if delay > 0:
            time.sleep(delay)

    # -- DashScope endpoints ----------------------------------------------------------------

    def _api_sync(self, headers: Any, body: bytes) -> Reply:
        gen = parse_sync_request(body)
        request_id = str(uuid.uuid4())
        return json_reply(200, sync_body(request_id, self._issue_url(request_id, gen), gen))

    def _api_async_submit(self, headers: Any, body: bytes) -> Reply:
        model, gen, prompt_extend = parse_async_request(headers, body)
        task_id = self._tasks.submit(model, gen, prompt_extend, self._controls.take_task_script())
        return _task_reply(submit_body(task_id), task_id)

    def _api_task(self, headers: Any, body: bytes, task_id: str) -> Reply:
        return _task_reply(task_body(self._tasks.poll(task_id, self._issue_url)), task_id)

    def _api_cancel(self, headers: Any, body: bytes, task_id: str) -> Reply:
        self._tasks.cancel(task_id)
        return _task_reply(cancel_body(), task_id)

    def _issue_url(self, request_id: str, gen: Generation) -> str:
        """Mint an OSS-V1-presigned-style URL (or hand out a test override)."""
        override = self._controls.take_result_url()
        if override is not None:
            return override
        return self._bucket.issue(request_id, gen, self.url_ttl, self._public_base)

    # -- OSS-style image serving ------------------------------------------------------------

    def _serve_image(self, method: str, key: str, query: str) -> Reply:
        if method not in ("GET", "HEAD"):
            return method_not_allowed(method, f"/{key}", "GET, HEAD", "image")
        self._delay("image")
        fault = self._controls.take_fault("image")
        if fault is not None:
            return fault.reply("image")
        try:
            g = self._bucket.open(key, query)
        except OssError as err:
            return err.reply()
        png = self._pngs.get(g.prompt, g.seed, g.width, g.height)
        return image_reply(method, png, self._controls.take_image_behavior())

    # -- request log ----------------------------------------------------------------------------

    def _log(self, client: str, method: str, path: str, reply: Reply, started: float) -> None:
        if self.log_stream is None:
            return
        ms = (time.monotonic() - started) * 1000
        line = f"standin {client} {method} {path} -> {reply.status} [{reply.endpoint}] {ms:.0f}ms"
        with contextlib.suppress(OSError, ValueError):
            print(line, file=self.log_stream, flush=True)


def _task_reply(payload: dict[str, Any], task_id: str) -> Reply:
    """A 200 JSON answer that the call log attributes to ``task_id``."""
    reply = json_reply(200, payload)
    reply.task_id = task_id
    return reply


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


