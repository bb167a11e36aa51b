"""What the figures were measured on: the machine, its load, the code (commit) and the runtimes' versions."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.model.settings import REPO_ROOT


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    memory_gib: float
    system: str
    python: str
    node: str
    wrangler: str
    workerd: str
    commit: str
    date: str


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _package_version(name: str) -> str:
    try:
        return str(json.loads((REPO_ROOT / "node_modules" / name / "package.json").read_text())["version"])
    except (OSError, KeyError, ValueError):
        return "unknown"


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
                              check=False).stdout.strip()
    except OSError:
        return ""


def commit() -> str:
    """The checkout's commit, `+ uncommitted changes` when the work tree differs from it."""
    head = _run(["git", "rev-parse", "--short=12", "HEAD"]) or "unknown"
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"])
    return f"{head} + uncommitted changes" if dirty else head


def describe() -> Machine:
    kib = _first("/proc/meminfo", "MemTotal").split()[0]
    return Machine(
        cpu=_first("/proc/cpuinfo", "model name"),
        cores=os.cpu_count() or 0,
        memory_gib=int(kib) / 1024 / 1024 if kib.isdigit() else 0.0,
        system=f"{platform.system()} {platform.release()}",
        python=sys.version.split()[0],
        node=_run(["node", "--version"]) or "unknown",
        wrangler=_package_version("wrangler"),
        workerd=_package_version("workerd"),
        commit=commit(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def load() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def wait_for_quiet(max_load: float, max_wait_seconds: float, step_seconds: float = 30.0,
                   log: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep,
                   current: Callable[[], float] = lambda: os.getloadavg()[0]) -> float:
    """Sleep in steps until the 1-minute load is below `max_load`, for at most `max_wait_seconds`; returns the
    seconds waited (the caller runs anyway after that and records the load)."""
    waited = 0.0
    while (now := current()) >= max_load and waited < max_wait_seconds:
        log(f"bench: 1-minute load {now:.2f} ≥ {max_load}; waiting ({waited / 60:.0f} of "
            f"{max_wait_seconds / 60:.0f} min)")
        step = min(step_seconds, max_wait_seconds - waited)
        sleep(step)
        waited += step
    return waited
