"""HTTP plumbing: a threading server that reads requests and writes ``Reply`` values, nothing more.

Why hand-written on ``http.server``: the stand-in must misbehave on purpose at the byte level (declare
one length and send another, stall between chunks, drop the connection) and stay dependency-free, so
routing lives elsewhere and this module only moves bytes and keeps connections under control.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ._replies import Reply, error_reply

__all__ = ["Answer", "Log", "Record", "Server"]

MAX_BODY = 10 * 1024 * 1024

Answer = Callable[[str, str, Message, bytes], Reply]
"""Answers (method, raw path with query, headers, body)."""
Record = Callable[[Reply, str, str, float], None]
"""Sees (reply, method, path, wall-clock start) before the reply is written."""
Log = Callable[[str, str, str, Reply, float], None]
"""Sees (client address, method, path, reply, monotonic start) after the reply is written."""


class Server(ThreadingHTTPServer):
    """Threading server that remembers open connections so ``stop()`` can drop keep-alives."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], *, answer: Answer, record: Record, log: Log) -> None:
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.answer = answer
        self.record = record
        self.log = log
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

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
    """Reads a request, asks the server's ``answer`` for the reply, writes it (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; avoid 40 ms stalls
    server_version = "DashScopeStandIn/1.0"
    sys_version = ""
    server: Server

    def _dispatch(self) -> None:
        started = time.monotonic()
        at = time.time()
        path = urlsplit(self.path).path
        try:
            body = self._read_body()
        except ValueError as exc:
            reply = error_reply(400, "InvalidParameter", str(exc))
            reply.close = True
        else:
            if body is None:
                reply = error_reply(413, "RequestEntityTooLarge", "The request body is too large.")
                reply.close = True
            else:
                try:
                    reply = self.server.answer(self.command, self.path, self.headers, body)
                except Exception as exc:  # a stand-in must answer, never die
                    reply = error_reply(500, "InternalError", f"stand-in bug: {type(exc).__name__}: {exc}")
        self.server.record(reply, self.command, path, at)
        self._write(reply)
        self.server.log(self.client_address[0], self.command, path, reply, started)

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

    def _write(self, reply: Reply) -> None:
        self._server_header = next((v for k, v in reply.headers if k.lower() == "server"), None)
        if reply.reset:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
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
        """Silenced: the server's ``log`` writes one line per request without headers or keys."""
