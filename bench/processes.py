"""The processes the benchmarks start and watch, each outside the bench's own Python process.

- `standin_process`: the DashScope stand-in as its own process (`python -m localdev.standin`), so that serving
  the bytes never competes with the client or the memory sampler for this interpreter's lock;
- `started_probe`: the bench's own Worker (`bench/baseline_worker`, routes `/drain`, `/put`, `/buffered`) in the
  same runtime as the backend (`localdev/start_worker.mjs`: wrangler's `startWorker` without the inspector);
- `instrumented_backend`: the backend with its D1 binding metered (`bench/instrumented_backend`);
- `runtime_pids` / `peak_growth`: the workerd process that runs a Worker's code, and how far its resident set
  rises during one request. wrangler runs two workerd per Worker: its proxy (which serves the port and only
  forwards requests) and the runtime of the Worker itself; only the latter is measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from infra.model.contract import COMPATIBILITY_DATE
from infra.model.settings import REPO_ROOT
from localdev.system import LOOPBACK, Upstream, free_port, serve_command, wrangler_env

PROBE_MAIN = Path(__file__).resolve().parent / "baseline_worker" / "index.js"
INSTRUMENTED_MAIN = Path(__file__).resolve().parent / "instrumented_backend" / "index.js"
INSTRUMENTED_NAME = "bench-instrumented-backend"
STARTUP_SECONDS = 90
SAMPLE_SECONDS = 0.005
_LOG_TAIL_CHARS = 4000


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def workerd_below(root: int) -> list[int]:
    """Every workerd process whose ancestry leads to `root`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = ancestor = int(entry.name)
        while ancestor not in (None, 0, 1, root):
            ancestor = _parent(ancestor)
        if ancestor == root and any(part.endswith("/workerd") for part in _cmdline(pid)[:1]):
            found.append(pid)
    return found


def workerd_roles(root: int, port: int) -> tuple[int, list[int]]:
    """(wrangler's proxy, the runtimes) among the workerd processes below wrangler process `root`: the proxy is
    the one serving `port` (`--socket-addr=entry=<host>:<port>`), the others run Worker code."""
    below = workerd_below(root)
    proxy = [pid for pid in below if f"--socket-addr=entry={LOOPBACK}:{port}" in _cmdline(pid)]
    runtimes = [pid for pid in below if pid not in proxy]
    if len(proxy) != 1 or not runtimes:
        raise RuntimeError(f"find the runtime of wrangler process '{root}' failed: expected one proxy serving port "
                           f"{port} and at least one runtime among workerd processes {below}")
    return proxy[0], runtimes


def runtime_pids(root: int, port: int) -> list[int]:
    """The workerd processes below wrangler process `root` that run Worker code."""
    return workerd_roles(root, port)[1]


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # a helper process of workerd may end while we sample
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def peak_growth(pids: list[int], request: Callable[[], object]) -> tuple[float, float]:
    """(seconds, peak resident growth in MiB over the value just before) of one request."""
    idle, peak, done = rss_mib(pids), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(pids))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        request()
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
    return elapsed, max(0.0, max(peak[0], rss_mib(pids)) - idle)


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-_LOG_TAIL_CHARS:] if path.exists() else ""


@contextmanager
def standin_process(log_path: Path) -> Iterator[Upstream]:
    """`python -m localdev.standin` on a free port; yields its address and key. Its request log goes to `log_path`."""
    api_key = "sk-bench-" + secrets.token_hex(8)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localdev.standin", "--host", LOOPBACK, "--port", "0", "--api-key", api_key],
            cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True,
        )
    try:
        line = _ready_line(process.stdout, STARTUP_SECONDS)
        if not line.startswith("READY "):
            raise RuntimeError(f"start stand-in 'python -m localdev.standin' failed: it printed {line!r}; its log "
                               f"({log_path}):\n{_tail(log_path)}")
        yield Upstream(line.split(" ", 1)[1].strip(), api_key)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready_line(stream: IO[str] | None, timeout: float) -> str:
    """The first line of `stream`, or '' if none came within `timeout` seconds."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline() if stream else ""), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0].strip() if lines else ""


@dataclass(frozen=True)
class Probe:
    """A running bench Worker: where it answers, the workerd processes that run it, and wrangler's proxy."""

    url: str
    pids: list[int]
    proxy: int


@contextmanager
def _worker(config: Path, persist: Path, state_dir: Path, name: str, ready: Callable[[httpx.Response], bool],
            ready_path: str, inspector: bool = False) -> Iterator[Callable[[], Probe]]:
    """`config` served as `LocalSystem(inspector=...)` serves a Worker, until the block ends; yields a function
    that waits until `ready_path` answers as `ready` says, so several Workers can start side by side. If one does
    not start, the error carries the end of its output (kept in `<state_dir>/<name>.log`)."""
    port = free_port()
    log_path = state_dir / f"{name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            serve_command(config, port, persist, inspector=inspector),
            cwd=REPO_ROOT, env=wrangler_env(state_dir), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://{LOOPBACK}:{port}"

    def wait() -> Probe:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if ready(httpx.get(f"{url}{ready_path}", timeout=2)):
                    proxy, runtimes = workerd_roles(process.pid, port)
                    return Probe(url, runtimes, proxy)
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                why = f"exited with {process.returncode}" if process.poll() is not None else \
                    f"did not answer within {STARTUP_SECONDS} s"
                raise RuntimeError(f"start bench worker '{name}' failed: {why}; its output ({log_path}):\n"
                                   f"{_tail(log_path)}")
            time.sleep(0.2)

    try:
        yield wait
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # workerd, if the node process did not take it along


@contextmanager
def started_probe(state_dir: Path, name: str, main: Path = PROBE_MAIN,
                  inspector: bool = False) -> Iterator[Callable[[], Probe]]:
    """The probe Worker (`main`) with its own local R2 under `state_dir`; yields the function that waits for it.
    `inspector=True` serves it with `wrangler dev` (the bench shows what that costs)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    config = state_dir / f"{name}.jsonc"
    config.write_text(json.dumps({
        "name": name, "main": str(main), "compatibility_date": COMPATIBILITY_DATE,
        "r2_buckets": [{"binding": "MEDIA", "bucket_name": name}],
    }))
    # Up when it refuses a put without src.
    with _worker(config, state_dir / f"{name}-state", state_dir, name, lambda r: r.status_code == 400,
                 "/put", inspector) as wait:
        yield wait


@contextmanager
def instrumented_backend(backend_config: Path, persist: Path, state_dir: Path) -> Iterator[Probe]:
    """The backend with its D1 binding metered (`bench/instrumented_backend`), from a copy of the backend's
    generated wrangler config (same bindings, variables and `.dev.vars`; no cron, no queue consumer, so it never
    takes another Worker's work) on the local state `persist`, until the block ends."""
    text = backend_config.read_text()
    config = json.loads("\n".join(line for line in text.splitlines() if not line.startswith("//")))
    config["name"] = INSTRUMENTED_NAME
    config["main"] = os.path.relpath(INSTRUMENTED_MAIN, backend_config.parent)
    config.pop("triggers", None)
    if "queues" in config:
        config["queues"].pop("consumers", None)
    copy = backend_config.parent / f"{INSTRUMENTED_NAME}.jsonc"  # beside the original: the same .dev.vars
    copy.write_text(json.dumps(config, indent=2))
    state_dir.mkdir(parents=True, exist_ok=True)
    with _worker(copy, persist, state_dir, INSTRUMENTED_NAME, lambda r: r.status_code == 200,
                 "/api/health") as wait:
        yield wait()
