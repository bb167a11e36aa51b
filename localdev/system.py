"""The whole system on this machine: DashScope stand-in, both Workers under `wrangler dev`, local R2/D1.

`make dev` and the end-to-end tests start it through the same class, so what the tests prove is what a
developer runs. One `LocalSystem` is one running copy with its own ports and state folder:

1. the stand-in (in-process) unless an upstream is given (`DASHSCOPE_BASE_URL`);
2. the stack settings `local` with the run-time fields overridden (port, upstream, allowed result host);
3. wrangler configs and `.dev.vars` written by `infra.generate.wrangler` (the same declaration Pulumi deploys);
4. the D1 migrations applied by `infra.d1.migrations` (as `pulumi up` does) into the state folder;
5. one `wrangler dev` per Worker, the backend first on a port of its own, then the frontend on `port`; ready
   when `/api/health` answers through the frontend (one multi-config session would not do anyway: wrangler 4
   drops the rate limit bindings of every Worker but its first, and the backend has one). The frontend reaches
   the backend by URL, or through the service binding, which wrangler connects across the two processes with
   its dev registry (under the state folder, so side-by-side systems never meet): its banner then says
   `[connected]` and means it.
   The backend runs with `--test-scheduled`, so `run_cron` fires its cron handler (`/__scheduled`) in every
   topology; in one process wrangler would deliver that request to the first Worker, the frontend.
   Stopped with SIGTERM to wrangler's own PID (it ignores SIGINT as a background job).

`inspector=False` (the benchmarks) starts each Worker with `localdev/start_worker.mjs` instead: wrangler's own
`startWorker`, same config, state and registry, without the DevTools inspector whose network reporting costs
`wrangler dev` many times the transfer time of a large body (see that file).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO
from urllib.parse import quote_plus, urlsplit

import httpx

from infra.d1.executors import DEFAULT_LOCAL_STATE, PERSIST_SUBDIR, D1Error, LocalD1Executor
from infra.d1.migrations import MigrationError, MigrationRunner, discover
from infra.generate.wrangler import write_wrangler_configs
from infra.model.bindings import WorkerSpec
from infra.model.contract import ErrorCode
from infra.model.naming import Role, physical_name
from infra.model.settings import REPO_ROOT, StackSettings, load_settings
from localdev.standin import StandIn

WRANGLER_JS = REPO_ROOT / "node_modules" / "wrangler" / "bin" / "wrangler.js"
START_WORKER_JS = Path(__file__).resolve().parent / "start_worker.mjs"
DEFAULT_PORT = 8787
DEFAULT_STATE_DIR = DEFAULT_LOCAL_STATE
LOOPBACK = "127.0.0.1"
# Keep wrangler from calling home: no telemetry, no cf.json fetch, no banner (platform notes).
OFFLINE_ENV = {
    "WRANGLER_SEND_METRICS": "false",
    "WRANGLER_SEND_ERROR_REPORTS": "false",
    "CLOUDFLARE_CF_FETCH_ENABLED": "false",
    "WRANGLER_HIDE_BANNER": "true",
}
_LOG_TAIL_LINES = 80


class LocalSystemError(RuntimeError):
    """The local system could not start; the message carries the command's or server's last output."""


class PortInUseError(LocalSystemError):
    """The port the frontend is to serve on is taken (checked before anything starts)."""

    def __init__(self, port: int) -> None:
        super().__init__(f"start local system failed: port {port} on {LOOPBACK} is already in use")
        self.port = port


@dataclass(frozen=True)
class Upstream:
    """A DashScope-compatible endpoint used instead of the stand-in."""

    base_url: str
    api_key: str = field(repr=False)

    @property
    def host(self) -> str:
        """`host[:port]` as the allowlist spells it."""
        return urlsplit(self.base_url).netloc.lower()


def _port_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could listen on `port` now (a socket left in TIME_WAIT does not count, as for wrangler)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


# Where Linux takes the local ports of outgoing connections (elsewhere: Linux's default start, 32768).
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10000


def free_port(host: str = LOOPBACK) -> int:
    """A port free right now on `host`, for a server started a moment later (the tests start several systems
    side by side, on two workers). It is taken below the kernel's ephemeral range: a port the kernel hands out
    (bind to 0) can be given to any process's next outgoing connection before the server binds it, which made
    wrangler fail with "Address already in use" under load."""
    first_ephemeral = int(_EPHEMERAL.read_text().split()[0]) if _EPHEMERAL.exists() else 32768
    for port in secrets.SystemRandom().sample(range(_LOWEST_PORT, max(first_ephemeral, _LOWEST_PORT + 1000)), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise LocalSystemError(f"find port on '{host}' failed: 200 random ports from {_LOWEST_PORT} were all in use; "
                           "stop the servers left running")


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: a child started with this gets SIGTERM when the launcher dies without stopping it (a killed
    test run or terminal), so no `wrangler dev` outlives its owner. libc is resolved here, in the parent:
    the child only makes one system call between fork and exec."""
    name = ctypes.util.find_library("c")
    if sys.platform != "linux" or name is None:
        return None
    prctl = ctypes.CDLL(name, use_errno=True).prctl
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)


def wrangler_env(state_dir: Path) -> dict[str, str]:
    """The environment every wrangler command here runs with: offline, config, logs and the dev registry under
    `state_dir` (wrangler would use `~/.wrangler/registry` instead of XDG's when that folder exists)."""
    xdg = state_dir / "xdg"
    return {**os.environ, **OFFLINE_ENV, "XDG_CONFIG_HOME": str(xdg),
            "WRANGLER_REGISTRY_PATH": str(xdg / ".wrangler" / "registry")}


def serve_command(config: Path, port: int, persist: Path, *, inspector: bool = True,
                  test_scheduled: bool = False) -> list[str]:
    """The command that serves one Worker on `LOOPBACK:port` with local state under `persist`: `wrangler dev`, or
    without the DevTools inspector `localdev/start_worker.mjs` (module docstring)."""
    if inspector:
        cmd = ["node", str(WRANGLER_JS), "dev", "-c", str(config), "--ip", LOOPBACK, "--port", str(port),
               "--inspector-port", str(free_port()), "--persist-to", str(persist),
               "--show-interactive-dev-session=false"]
    else:
        cmd = ["node", str(START_WORKER_JS), str(config), LOOPBACK, str(port), str(persist)]
    return [*cmd, "--test-scheduled"] if test_scheduled else cmd


class _Server:
    """One `wrangler dev` process; its output goes to a log file (and the console when echoing)."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path, echo: TextIO | None) -> None:
        self.name = name
        self.log_path = log_path
        self._tail: deque[str] = deque(maxlen=_LOG_TAIL_LINES)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # Ctrl-C in a terminal reaches the launcher only; it stops wrangler itself
            preexec_fn=_parent_death_signal(),
        )
        self._pump = threading.Thread(target=self._copy, args=(self.proc.stdout, echo), daemon=True)
        self._pump.start()

    def _copy(self, stream: IO[str] | None, echo: TextIO | None) -> None:
        if stream is None:
            return
        for line in stream:
            self._tail.append(line)
            self._log.write(line)
            self._log.flush()
            if echo is not None:
                with contextlib.suppress(OSError, ValueError):
                    echo.write(f"[{self.name}] {line}")
                    echo.flush()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        return "".join(self._tail)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to wrangler's own PID, then whatever it left in its process group."""
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # workerd children, if wrangler did not take them along
        self._pump.join(timeout=5)
        self._log.close()


class LocalSystem:
    """Start, use and stop one local copy of the system (`with LocalSystem(...) as system: ...`).

    `overrides` are dotted stack fields applied after the launcher's own (tests set timeouts, limits, the
    delivery mode or `frontend.backend_access: url`); `extra_result_hosts` widen the download allowlist.
    `edit_workers` changes a Worker's declaration before its config is written, and `ready_status` is what
    `/api/health` must answer for the system to count as started: a test of a misconfigured Worker removes a
    binding and waits for 503. Otherwise a Worker that answers 503 `misconfigured` fails the start at once.
    `inspector=False` starts the Workers without wrangler's DevTools inspector (module docstring).
    """

    def __init__(
        self,
        *,
        port: int = DEFAULT_PORT,
        state_dir: Path = DEFAULT_STATE_DIR,
        config_dir: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        admin_token: str | None = None,
        upstream: Upstream | None = None,
        extra_result_hosts: Sequence[str] = (),
        startup_timeout: float = 90.0,
        echo: TextIO | None = None,
        edit_workers: Callable[[WorkerSpec], WorkerSpec] | None = None,
        ready_status: int = 200,
        inspector: bool = True,
    ) -> None:
        self.port = port or free_port()
        self.state_dir = state_dir
        self.persist_dir = state_dir / PERSIST_SUBDIR
        self.config_dir = config_dir or state_dir / "wrangler"
        self.log_dir = state_dir / "logs"
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self._upstream = upstream
        self._overrides = dict(overrides or {})
        self._extra_hosts = list(extra_result_hosts)
        self._startup_timeout = startup_timeout
        self._echo = echo
        self._edit_workers = edit_workers
        self._ready_status = ready_status
        self._inspector = inspector
        self._secrets: dict[str, str] = {}
        self.standin: StandIn | None = None
        self.settings: StackSettings | None = None
        self.backend_port = 0  # chosen at start
        self._servers: list[_Server] = []

    # -- public surface ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where the page and the API (`/api/...`) are served: the frontend."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def backend_url(self) -> str:
        """The backend's own URL (its `wrangler dev`), where `run_cron` fires the sweeper."""
        return f"http://{LOOPBACK}:{self.backend_port}"

    @property
    def signing_key(self) -> str:
        """The media signing secret of this run (tests forge and check signatures with it)."""
        return self._secrets["MEDIA_SIGNING_KEY"]

    @property
    def run_token_key(self) -> str:
        """The key run read tokens are derived with in this run (tests check the documented derivation)."""
        return self._secrets["RUN_TOKEN_KEY"]

    @property
    def database_name(self) -> str:
        return physical_name(self._require_settings(), Role.METADATA)

    @property
    def bucket_name(self) -> str:
        return physical_name(self._require_settings(), Role.MEDIA)

    @property
    def config_paths(self) -> dict[Role, Path]:
        return {role: self.config_dir / str(role) / "wrangler.jsonc" for role in (Role.BACKEND, Role.FRONTEND)}

    @property
    def log_paths(self) -> list[Path]:
        return [server.log_path for server in self._servers]

    def alive(self) -> bool:
        return bool(self._servers) and all(server.alive for server in self._servers)

    def server_pids(self) -> dict[str, int]:
        """PID of each Worker's wrangler process by name (`backend`, `frontend`); benchmarks measure the workerd
        processes below them."""
        return {server.name: server.proc.pid for server in self._servers}

    def stop_worker(self, role: Role) -> None:
        """Stop one Worker's `wrangler dev` and leave the other serving: an outage of that Worker (tests of what
        a client then sees)."""
        for server in self._servers:
            if server.name == str(role):
                server.stop()

    def cron_url(self, cron: str) -> str:
        """The URL that fires the backend's `scheduled()` handler once, as the cron trigger `cron` would
        (readable: `*` and `/` are fine in a query, spaces become `+`)."""
        return f"{self.backend_url}/__scheduled?cron={quote_plus(cron, safe='*/')}"

    def run_cron(self, cron: str) -> httpx.Response:
        return httpx.get(self.cron_url(cron), timeout=30)

    def start(self) -> LocalSystem:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop wrangler (frontend first) and the stand-in; safe to call twice."""
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()
        if self.standin is not None:
            self.standin.stop()
            self.standin = None

    def __enter__(self) -> LocalSystem:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wrangler(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run a wrangler command against this system's backend config and local state (`d1 execute`, ...)."""
        cmd = ["node", str(WRANGLER_JS), *args, "-c", str(self.config_paths[Role.BACKEND])]
        if "--local" in args:
            cmd += ["--persist-to", str(self.persist_dir)]
        return subprocess.run(
            cmd, cwd=REPO_ROOT, env=wrangler_env(self.state_dir), stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, check=False,
        )

    # -- start-up steps ---------------------------------------------------------------------------

    def _start(self) -> None:
        if not WRANGLER_JS.exists():
            raise LocalSystemError(f"start local system failed: {WRANGLER_JS} is missing; run `make setup`")
        if shutil.which("node") is None:
            raise LocalSystemError("start local system failed: `node` is not on PATH; install Node 20")
        if not _port_free(self.port):
            raise PortInUseError(self.port)
        upstream = self._upstream or self._start_standin()
        settings = self._settings(upstream)
        self.settings = settings
        self._secrets = {
            "DASHSCOPE_API_KEY": upstream.api_key,
            "MEDIA_SIGNING_KEY": secrets.token_urlsafe(32),
            "ADMIN_TOKEN": self.admin_token,
            "RUN_TOKEN_KEY": secrets.token_urlsafe(32),
        }
        paths = write_wrangler_configs(settings, self._secrets, self.config_dir, edit=self._edit_workers)
        self._apply_migrations()
        # The backend first: the frontend's service binding connects to it when the frontend starts.
        self._serve("backend", str(paths[Role.BACKEND]), self.backend_port)
        self._wait_healthy(self.backend_url)
        self._serve("frontend", str(paths[Role.FRONTEND]), self.port)
        self._wait_healthy(self.url)

    def _start_standin(self) -> Upstream:
        api_key = "sk-local-" + secrets.token_hex(16)
        self.standin = StandIn(host=LOOPBACK, port=0, api_key=api_key, log_stream=self._echo).start()
        return Upstream(self.standin.base_url, api_key)

    def _settings(self, upstream: Upstream) -> StackSettings:
        base = load_settings("local")
        fields: dict[str, Any] = {
            "public_base_url": self.url,
            "upstream.base_url": upstream.base_url.rstrip("/"),
            "upstream.allowed_result_hosts": [upstream.host, *self._extra_hosts],
            "upstream.allow_http_results": upstream.base_url.startswith("http://"),
        }
        self.backend_port = free_port()
        if self._overrides.get("frontend.backend_access", base.frontend.backend_access) == "url":
            fields["frontend.backend_url"] = self.backend_url
        return base.with_overrides({**fields, **self._overrides})

    def _apply_migrations(self) -> None:
        """The runner `pulumi up` and `infra migrate` use (checksums, refusal of edited files),
        on the file `wrangler dev` opens; wrangler's own `d1 migrations list` agrees with what it records."""
        executor = LocalD1Executor(self.persist_dir, self.database_name)
        try:
            MigrationRunner(executor, discover()).apply()
        except (MigrationError, D1Error) as exc:
            raise LocalSystemError(str(exc)) from None

    def _serve(self, name: str, config: str, port: int) -> None:
        # The backend: GET /__scheduled?cron=... runs scheduled() (see run_cron).
        cmd = serve_command(Path(config), port, self.persist_dir, inspector=self._inspector,
                            test_scheduled=name == "backend")
        log_path = self.log_dir / f"wrangler-{name}-{port}.log"
        self._servers.append(_Server(name, cmd, wrangler_env(self.state_dir), log_path, self._echo))

    def _wait_healthy(self, base_url: str) -> None:
        """Poll `/api/health` until it answers `ready_status`, a server exits, or the deadline passes; a Worker
        that says it is misconfigured will not get better, so that fails at once with its answer."""
        deadline = time.monotonic() + self._startup_timeout
        last = "no answer yet"
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                dead = [server for server in self._servers if not server.alive]
                if dead:
                    raise self._failure(f"{dead[0].name} exited with {dead[0].proc.returncode}")
                try:
                    response = client.get(f"{base_url}/api/health")
                    if response.status_code == self._ready_status:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:1000]}"
                    if _error_code(response) == ErrorCode.MISCONFIGURED:
                        raise self._failure(f"{base_url}/api/health answered {last}")
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                time.sleep(0.2)
        raise self._failure(f"{base_url}/api/health not healthy after {self._startup_timeout:.0f}s ({last})")

    def _failure(self, reason: str) -> LocalSystemError:
        output = "\n".join(f"--- {s.name} ({s.log_path}) ---\n{s.tail()}" for s in self._servers)
        return LocalSystemError(f"start local system on port {self.port} failed: {reason}\n{output}")

    def _require_settings(self) -> StackSettings:
        if self.settings is None:
            raise LocalSystemError("local system not started: settings are known only after start()")
        return self.settings


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def main_env_upstream(environ: Mapping[str, str]) -> Upstream | None:
    """`DASHSCOPE_BASE_URL` (+ `DASHSCOPE_API_KEY`) select another upstream instead of the stand-in."""
    base_url = environ.get("DASHSCOPE_BASE_URL", "").strip()
    if not base_url:
        return None
    api_key = environ.get("DASHSCOPE_API_KEY", "").strip()
    if not api_key:
        raise LocalSystemError("start local system failed: DASHSCOPE_BASE_URL is set but DASHSCOPE_API_KEY is not")
    return Upstream(base_url.rstrip("/"), api_key)


__all__ = [
    "DEFAULT_PORT",
    "LocalSystem",
    "LocalSystemError",
    "PortInUseError",
    "Upstream",
    "free_port",
    "main_env_upstream",
    "serve_command",
    "wrangler_env",
]
