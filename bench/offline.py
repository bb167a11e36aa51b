"""Offline tooling: the plan of each stack under Pulumi's mocks, and the whole test suite, by wall time.

Each plan is `python -m infra plan --stack <env>` as a person runs it (a fresh interpreter: imports, settings,
the program under mocks, the table), repeated; the suite is `pytest` once, as `make test` runs it after lint and
type checks. Neither has a target in issue 12: they are reported, not guarded, as a baseline for later changes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.stats import Summary
from infra.model.settings import REPO_ROOT, STACKS_DIR

SECTION = "offline"
REPEATS = 5
PYTEST = REPO_ROOT / ".venv" / "bin" / "pytest"


def stacks() -> list[str]:
    return sorted(path.stem for path in STACKS_DIR.glob("*.yaml"))


@dataclass
class OfflineResult:
    plans: dict[str, list[float]] = field(default_factory=dict)
    suite_seconds: float | None = None
    suite_summary: str = ""

    def plan(self, stack: str) -> Summary:
        return Summary.of(self.plans[stack])


def _timed(cmd: list[str], timeout: float) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    return time.perf_counter() - started, done


def run(*, repeats: int = REPEATS, suite: bool = True, log: Callable[[str], None] = print) -> OfflineResult:
    result = OfflineResult()
    for _ in range(repeats):
        for stack in stacks():
            seconds, done = _timed([sys.executable, "-m", "infra", "plan", "--stack", stack], timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"plan stack '{stack}' failed: exit {done.returncode}\n{done.stderr[-2000:]}")
            result.plans.setdefault(stack, []).append(seconds)
    log("offline: plans done")
    if suite:
        seconds, done = _timed([str(PYTEST), "-q", "-p", "no:cacheprovider"], timeout=3600)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0:
            raise RuntimeError(f"run test suite 'pytest' failed: exit {done.returncode}\n" + "\n".join(lines[-30:]))
        result.suite_seconds, result.suite_summary = seconds, lines[-1] if lines else ""
        log(f"offline: test suite {seconds:.0f} s ({result.suite_summary})")
    return result
