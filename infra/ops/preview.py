"""`pulumi preview --refresh --expect-no-changes` for `infra drift`: what the Pulumi CLI sees, summarised.

The refresh reads every resource back from Cloudflare into the stack's state, then the preview compares the
state with the code: an update, create, replace or delete it proposes is drift (or a change not deployed yet).
Run with `--json`, whose document (`PreviewDigest` of the Pulumi CLI: `steps` with `op`, `urn`, `diffReasons`,
`detailedDiff`; `diagnostics`; `changeSummary`) is read here instead of the text display. A CLI that is not
installed, not logged in, or fails for any other reason is an answer too: the check could not run, and why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.model.settings import REPO_ROOT

PREVIEW = ("preview", "--refresh", "--expect-no-changes", "--json", "--non-interactive", "--stack")
# Step operations that change nothing. `refresh` steps only report what the refresh read, unless they say
# what differed (then they are drift: Cloudflare no longer matches the state).
_UNCHANGED = {"same", "read", "refresh"}
_TAIL_LINES = 6


@dataclass(frozen=True)
class Change:
    """One step the preview proposes: the resource's logical name and type, the operation, the properties."""

    name: str
    type: str
    op: str
    properties: tuple[str, ...]


@dataclass(frozen=True)
class PreviewOutcome:
    """The preview's answer: the changes it proposes and how many resources are unchanged, or why it could
    not answer (`problem`)."""

    changes: tuple[Change, ...] = ()
    unchanged: int = 0
    problem: str | None = None


def refresh_preview(stack: str, environ: Mapping[str, str] = os.environ, cwd: Path = REPO_ROOT,
                    timeout: float = 1200.0) -> PreviewOutcome:
    """Run the CLI found on `environ`'s PATH from the project folder, with `environ` (its token, passphrase)."""
    command = f"pulumi {' '.join(PREVIEW)} {stack}"
    executable = shutil.which("pulumi", path=environ.get("PATH", ""))
    if executable is None:
        return PreviewOutcome(problem="the Pulumi CLI is not on PATH, so Cloudflare was not compared with the stack's "
                                      "state; install it (https://www.pulumi.com/docs/iac/download-install/, the "
                                      "version of pulumi in requirements.txt) and log in, then run again")
    try:
        done = subprocess.run([executable, *PREVIEW, stack], cwd=cwd, env=dict(environ), capture_output=True,
                              text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return PreviewOutcome(problem=f"`{command}` did not finish within {timeout:.0f} s")
    except OSError as exc:
        return PreviewOutcome(problem=f"`{command}` could not start: {exc}")
    return summarise(command, done.returncode, done.stdout, done.stderr)


def summarise(command: str, returncode: int, stdout: str, stderr: str) -> PreviewOutcome:
    """The outcome of one run from its exit code and output (the JSON document on stdout)."""
    try:
        digest = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        digest = None
    if not isinstance(digest, dict):
        return PreviewOutcome(problem=f"`{command}` exited {returncode} without its JSON report: {_tail(stderr)}")
    steps = [step for step in digest.get("steps") or [] if isinstance(step, dict)]
    changes = tuple(_change(step) for step in steps if _changes_something(step))
    summary = digest.get("changeSummary") or {}
    unchanged = int(summary.get("same", 0)) if isinstance(summary, dict) else 0
    if changes:
        return PreviewOutcome(changes, unchanged)
    errors = [str(d.get("message", "")).strip() for d in digest.get("diagnostics") or []
              if isinstance(d, dict) and d.get("severity") == "error"]
    if errors or returncode != 0:
        reason = "; ".join(e for e in errors if e) or _tail(stderr)
        return PreviewOutcome(problem=f"`{command}` exited {returncode}: {reason}")
    return PreviewOutcome((), unchanged)


def _changes_something(step: dict[str, Any]) -> bool:
    if step.get("op") not in _UNCHANGED:
        return True
    return step.get("op") == "refresh" and bool(step.get("diffReasons") or step.get("detailedDiff"))


def _change(step: dict[str, Any]) -> Change:
    urn = str(step.get("urn", ""))
    # urn:pulumi:<stack>::<project>::<parent types $ joined>$<type>::<name>
    head, _, name = urn.rpartition("::")
    kind = head.rsplit("::", 1)[-1].rsplit("$", 1)[-1].rsplit(":", 1)[-1]
    keys = step.get("diffReasons") or step.get("replaceReasons") or list(step.get("detailedDiff") or {})
    return Change(name or urn, kind, str(step.get("op")), tuple(str(key) for key in keys))


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-_TAIL_LINES:]) or "no output"
