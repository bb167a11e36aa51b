"""Every body a Worker reads goes through a byte cap that stops reading at the limit, whatever its framing: a
generate body over 16 KiB is answered 413 `payload_too_large` before the client has finished sending it, and
workerd's memory does not grow with the body; a provider answer over its cap fails the run instead of being
read whole. And `POST /api/generate` takes JSON only (415), so a cross-site form cannot start paid work."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bench.processes import peak_growth, workerd_below
from infra.model.contract import LIMITS
from localdev.system import LOOPBACK, LocalSystem
from tests.e2e.support import LocalState, StandInControl, error_of, log_lines, wait_for_run

MIB = 1024 * 1024
BIG = 200 * MIB
SMALL = 64 * 1024  # over the cap too: the same refusal, as the baseline of workerd's memory in the same test
PIECE = 64 * 1024
# The answer must come while the client is still sending: within the first few MiB (what socket buffers and
# the local proxies hold in flight), far from the 200 MiB.
ANSWERED_WITHIN = 32 * MIB
# workerd's resident memory is noisy (GC, allocator); a body held whole would add hundreds of MiB.
MEMORY_HEADROOM_MIB = 48
# `wrangler dev` serves each Worker behind a local proxy Worker of its own (not deployed anywhere). When a
# Worker answers before the request body is all sent, that proxy sometimes loses the race between the answer
# and the refused upload and answers 503 "Your worker restarted mid-request" instead, and the client's socket
# may drop the end of an answer when the server resets the upload. The backend's log still shows each 413; the
# test tries again until a whole 413 reaches the client.
ATTEMPTS = 20


@dataclass
class Upload:
    """One raw HTTP/1.1 upload: how much body had gone out when the answer's first byte came back."""

    sent_when_answered: int | None
    sent: int
    answer: bytes

    @property
    def status(self) -> int:
        return int(self.answer.split(b" ", 2)[1]) if self.answer.startswith(b"HTTP/1.1 ") else 0

    @property
    def complete(self) -> bool:
        """Headers and the whole body arrived (the server's reset of the upload can cut an answer short)."""
        head, _, body = self.answer.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        return length is not None and len(body) >= length

    def json(self) -> dict[str, Any]:
        return json.loads(self.answer.split(b"\r\n\r\n", 1)[1])


def upload(port: int, total: int, framing: str) -> Upload:
    """POST /api/generate with `total` bytes of JSON-looking body, `chunked` or with a `length` header, sent in
    64 KiB pieces while a second thread reads the answer; the sending stops when the server closes."""
    sock = socket.create_connection((LOOPBACK, port), timeout=60)
    head = f"POST /api/generate HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n" if framing == "chunked" else f"Content-Length: {total}\r\n"
    sock.sendall((head + "\r\n").encode())
    progress = {"sent": 0, "answered": None}
    answer = bytearray()

    def read() -> None:
        try:
            while chunk := sock.recv(65536):
                if not answer:
                    progress["answered"] = progress["sent"]
                answer.extend(chunk)
                if Upload(None, 0, bytes(answer)).complete:
                    return
        except OSError:
            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    body = b'{"prompt": "' + b"x" * (PIECE - 12)
    try:
        while progress["sent"] < total:
            piece = body[: total - progress["sent"]]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if framing == "chunked" else piece)
            progress["sent"] += len(piece)
            body = b"x" * PIECE
        if framing == "chunked":
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server stopped reading and closed: what a capped reader does
    reader.join(30)
    sock.close()
    return Upload(progress["answered"], progress["sent"], bytes(answer))


def _backend_413s(system: LocalSystem) -> int:
    """The backend's log lines of a refused generate body (the frontend's line of it says `proxied`)."""
    return sum(1 for line in log_lines(system)
               if line["route"] == "POST /api/generate" and line["outcome"] == "payload_too_large")


def _refused_uploads(system: LocalSystem, framing: str) -> tuple[float, float, list[Upload]]:
    """(memory growth of a small refused body, the largest growth of a 200 MiB one, the 200 MiB uploads); the
    200 MiB upload is repeated only while the local proxy lost the backend's answer (see above)."""
    pids = [pid for root in system.server_pids().values() for pid in workerd_below(root)]
    assert pids, "no workerd process found below the Workers' wrangler processes: nothing would be measured"
    small: list[Upload] = []
    _, small_growth = peak_growth(pids, lambda: small.append(upload(system.port, SMALL, framing)))
    assert small[0].status in (413, 503), small[0].answer[:300]
    uploads: list[Upload] = []
    big_growth = 0.0
    for _ in range(ATTEMPTS):
        refused_before = _backend_413s(system)
        _, growth = peak_growth(pids, lambda: uploads.append(upload(system.port, BIG, framing)))
        big_growth = max(big_growth, growth)
        last = uploads[-1]
        assert last.status in (413, 503), last.answer[:300]
        _wait_for(lambda before=refused_before: _backend_413s(system) > before, "the backend's log to show its 413")
        if last.status == 413 and last.complete:
            break
    return small_growth, big_growth, uploads


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f}s for {what}")
        time.sleep(0.1)


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_a_200_mib_body_is_refused_before_it_is_sent_and_memory_does_not_grow_with_it(
    system: LocalSystem, standin: StandInControl, state: LocalState, framing: str
) -> None:
    runs_before = state.query("SELECT COUNT(*) AS n FROM runs")[0]["n"]
    small_growth, big_growth, uploads = _refused_uploads(system, framing)
    print(f"workerd growth ({framing}): {SMALL // 1024} KiB body {small_growth:.1f} MiB, "
          f"200 MiB body {big_growth:.1f} MiB over {len(uploads)} attempt(s)")
    refused = uploads[-1]
    assert refused.status == 413 and refused.complete, f"no whole 413 reached the client in {ATTEMPTS} attempts"
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("payload_too_large", "body")
    assert error["message"] == f"body: must be at most {LIMITS.body_bytes} bytes"
    for attempt in uploads:
        assert attempt.sent_when_answered is not None and attempt.sent_when_answered <= ANSWERED_WITHIN, \
            f"answered after {attempt.sent_when_answered} of {BIG} bytes"
        assert attempt.sent < BIG, "the server kept reading the whole body"
    assert big_growth <= small_growth + MEMORY_HEADROOM_MIB, (big_growth, small_growth)
    assert state.query("SELECT COUNT(*) AS n FROM runs")[0]["n"] == runs_before
    assert standin.calls() == []


def test_a_body_just_over_the_cap_is_413_and_one_at_the_cap_is_read(
    api: httpx.Client, standin: StandInControl
) -> None:
    def body_of(size: int) -> bytes:
        skeleton = b'{"prompt": "a cap", "negative_prompt": ""}'
        return skeleton.replace(b'""', b'"' + b" " * (size - len(skeleton)) + b'"')

    over = api.post("/api/generate", content=body_of(LIMITS.body_bytes + 1),
                    headers={"Content-Type": "application/json"})
    assert over.status_code == 413
    assert error_of(over)["code"] == "payload_too_large"
    at_cap = api.post("/api/generate", content=body_of(LIMITS.body_bytes),
                      headers={"Content-Type": "application/json"})
    assert at_cap.status_code == 400, "read whole, then refused on its fields: not a size problem"
    assert error_of(at_cap)["field"] == "negative_prompt"
    assert standin.calls() == []


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonp"])
def test_generate_takes_only_json_so_no_form_can_start_paid_work(
    api: httpx.Client, standin: StandInControl, state: LocalState, content_type: str | None
) -> None:
    runs_before = state.query("SELECT COUNT(*) AS n FROM runs")[0]["n"]
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.post("/api/generate", content=b'{"prompt": "from a form"}', headers=headers)
    assert response.status_code == 415
    error = error_of(response)
    assert (error["code"], error["field"]) == ("unsupported_media_type", "Content-Type")
    assert error["message"] == "Content-Type: must be application/json"
    assert state.query("SELECT COUNT(*) AS n FROM runs")[0]["n"] == runs_before
    assert standin.calls() == []


def test_json_with_a_charset_is_json(api: httpx.Client, standin: StandInControl) -> None:
    response = api.post("/api/generate", content=b'{"prompt": "charset"}',
                        headers={"Content-Type": "Application/JSON; charset=utf-8"})
    assert response.status_code == 201, response.text


def test_no_route_grants_cross_origin_access(api: httpx.Client, standin: StandInControl) -> None:
    preflight = api.options("/api/generate", headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    answered = api.post("/api/generate", json={"prompt": "cors"}, headers={"Origin": "https://elsewhere.example"})
    assert preflight.status_code == 405 and answered.status_code == 201
    for response in (preflight, answered):
        assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_a_provider_answer_over_its_cap_fails_the_run_unread(
    api: httpx.Client, admin: httpx.Client, standin: StandInControl
) -> None:
    standin.padding(4 * LIMITS.upstream_body_bytes, endpoint="sync")
    response = api.post("/api/generate", json={"prompt": "an answer too long"})
    assert response.status_code == 502, response.text
    error = error_of(response)
    assert error["provider_code"] == "upstream_response_too_large"
    run = admin.get(f"/api/runs/{error['run_id']}").json()["run"]
    assert run["error"] == {"code": "upstream_response_too_large", "message": (
        f"the provider answered HTTP 200 with more than {LIMITS.upstream_body_bytes} bytes")}
    assert standin.calls("image") == [], "nothing from the over-long answer was used"


@pytest.mark.parametrize("endpoint", ["async-submit", "task"])
def test_an_async_provider_answer_over_its_cap_fails_the_run(
    async_api: httpx.Client, async_admin: httpx.Client, async_standin: StandInControl, endpoint: str
) -> None:
    async_standin.padding(2 * LIMITS.upstream_body_bytes, endpoint=endpoint)
    response = async_api.post("/api/generate", json={"prompt": f"a long {endpoint} answer"})
    assert response.status_code == 202, response.text
    run = wait_for_run(async_admin, response.json()["run"]["id"])["run"]
    assert (run["status"], run["error"]["code"]) == ("failed", "upstream_response_too_large")
    assert async_standin.calls("image") == []
