"""`make dev` (`python -m localdev`): starts the system, prints the URL and the admin token (and no other
secret), honours PORT, ADMIN_TOKEN and DASHSCOPE_BASE_URL + DASHSCOPE_API_KEY, and stops cleanly on SIGTERM;
its banner tells the truth about the service binding and prints the line that fires the sweeper; a port in
use fails at once with one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from infra.d1.executors import LocalD1Executor
from infra.model.settings import REPO_ROOT
from localdev.standin import StandIn
from localdev.system import free_port
from tests.e2e.support import iso, transitions, wait_for_run

READY = "Local system ready:"


class _Output:
    """Collects a child's output lines on a thread so the test can wait for one with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, proc: subprocess.Popen[str], seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = next((line for line in self.lines if text in line), None)
            if found:
                return found
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {text!r} within {seconds}s; output:\n{self.text}")

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=10)


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _make_dev(env: dict[str, str]) -> tuple[subprocess.Popen[str], _Output]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "localdev"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, _Output(proc)


def test_make_dev_uses_the_given_upstream_prints_the_token_and_stops_on_sigterm(tmp_path: Path) -> None:
    api_key = f"sk-external-{uuid.uuid4().hex}"
    admin_token = f"dev-admin-{uuid.uuid4().hex[:12]}"
    port = free_port()
    with StandIn(port=0, api_key=api_key) as upstream:
        proc, output = _make_dev({
            "PORT": str(port),
            "ADMIN_TOKEN": admin_token,
            "DASHSCOPE_BASE_URL": upstream.base_url,
            "DASHSCOPE_API_KEY": api_key,
            "LOCAL_STATE_DIR": str(tmp_path),
        })
        try:
            ready = output.wait_for(READY, proc, seconds=90)
            assert ready.split(READY)[1].strip() == f"http://127.0.0.1:{port}"
            assert f"Admin token:        {admin_token}\n" in output.text
            assert "(stand-in)" not in output.text, "with DASHSCOPE_BASE_URL the stand-in is not started"

            base = f"http://127.0.0.1:{port}"
            generated = httpx.post(f"{base}/api/generate", json={"prompt": "from make dev"}, timeout=30)
            assert generated.status_code == 201, generated.text
            calls = httpx.get(f"{upstream.base_url}/_standin/calls").json()["calls"]
            assert [c["endpoint"] for c in calls] == ["sync", "image"], "the given upstream served the run"
            runs = httpx.get(f"{base}/api/runs", headers={"Authorization": f"Bearer {admin_token}"})
            assert [r["id"] for r in runs.json()["runs"]] == [generated.json()["run"]["id"]]

            output.wait_for("env.BACKEND (qwen-image-local-backend)", proc, seconds=5)
            statuses = [line.rsplit(None, 2)[-2:] for line in output.lines if "env.BACKEND (" in line]
            assert statuses and all(status == ["local", "[connected]"] for status in statuses), statuses
            # The runbook's recipe: the line make dev prints fires the sweeper, which fails a run a dead request
            # left `running` hours ago.
            stuck = _write_stuck_run(tmp_path / "state")
            sweeper = output.wait_for("Sweeper, once:", proc, seconds=5).split("curl ", 1)[1].strip().strip("'")
            fired = httpx.get(sweeper, timeout=30)
            assert (fired.status_code, fired.text) == (200, "Ran scheduled event")
            swept = httpx.get(f"{base}/api/runs/{stuck}", headers={"Authorization": f"Bearer {admin_token}"}).json()
            assert (swept["run"]["status"], swept["run"]["error"]["code"]) == ("failed", "abandoned")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            output.join()
    assert code == 0, output.text
    assert api_key not in output.text, "the upstream API key must never be printed"
    assert _port_closed(port), "wrangler must be gone after SIGTERM"
    assert (tmp_path / "state" / "v3" / "d1").is_dir(), "state is persisted under LOCAL_STATE_DIR"


def _write_stuck_run(persist_to: Path) -> str:
    """A sync run a backend died with three hours ago, in the local D1 database `make dev` uses (recent enough
    that the same cron tick's retention purge keeps it once the sweeper has failed it)."""
    run_id, at = str(uuid.uuid4()), iso(datetime.now(UTC) - timedelta(hours=3))
    db = LocalD1Executor(persist_to, "qwen-image-local-metadata")
    db.run_batch(
        "INSERT INTO runs (id, request_id, request_hash, provider, model, status, prompt, parameters, attempts, "
        f"created_at, updated_at, job_seq) VALUES ('{run_id}', 'stuck-1', '{'0' * 64}', 'dashscope', "
        f"'qwen-image-plus', 'running', 'left behind', '{{}}', 0, '{at}', '{at}', 0);\n"
        "INSERT INTO run_events (run_id, at, type, from_status, to_status) "
        f"VALUES ('{run_id}', '{at}', 'status', NULL, 'running');\n")
    return run_id


def test_a_port_in_use_fails_at_once_with_one_line_naming_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "localdev"], cwd=REPO_ROOT, capture_output=True, text=True,
                                env={**os.environ, "PORT": str(port), "LOCAL_STATE_DIR": str(tmp_path)}, timeout=60,
                                check=False)
    assert result.returncode == 1
    assert result.stderr == (f"make dev failed: port {port} on 127.0.0.1 is already in use; stop what holds it or "
                             f"choose another with PORT (PORT={port + 1} make dev)\n")
    assert not (tmp_path / "state").exists(), "nothing was started"


def test_make_dev_with_async_on_runs_a_job_through_every_status_and_shows_a_poisoned_one_on_ops(
    tmp_path: Path,
) -> None:
    """The async issue's "done when": a staging-like local run (`ASYNC_ENABLED=true make dev`)."""
    api_key, admin_token, port = f"sk-external-{uuid.uuid4().hex}", "dev-admin-async", free_port()
    with StandIn(port=0, api_key=api_key) as upstream:
        proc, output = _make_dev({
            "PORT": str(port), "ADMIN_TOKEN": admin_token, "ASYNC_ENABLED": "true",
            "DASHSCOPE_BASE_URL": upstream.base_url, "DASHSCOPE_API_KEY": api_key, "LOCAL_STATE_DIR": str(tmp_path),
        })
        try:
            output.wait_for(READY, proc, seconds=90)
            assert "Processing:         async (queues)\n" in output.text
            base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {admin_token}"}
            with httpx.Client(base_url=base, timeout=30) as api, \
                    httpx.Client(base_url=base, timeout=30, headers=auth) as admin:
                accepted = api.post("/api/generate", json={"prompt": "queued in make dev"})
                assert accepted.status_code == 202, accepted.text
                body = wait_for_run(admin, accepted.json()["run"]["id"])
                assert transitions(body) == [(None, "queued"), ("queued", "submitted"), ("submitted", "running"),
                                             ("running", "persisting"), ("persisting", "succeeded")]

                poison = {"endpoint": "async-submit", "status": 500, "code": "InternalError", "count": 3}
                assert httpx.post(f"{upstream.base_url}/_standin/faults", json=poison).status_code == 200
                poisoned = api.post("/api/generate", json={"prompt": "poisoned"}).json()["run"]["id"]
                assert wait_for_run(admin, poisoned)["run"]["status"] == "dead_lettered"
                summary = admin.get("/api/ops/summary").json()
                assert summary["dead_lettered"] == 1
                assert [f["run_id"] for f in summary["latest_failures"]] == [poisoned]
                assert api.get("/ops").status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            output.join()
    assert code == 0, output.text
