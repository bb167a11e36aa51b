"""The failure causes of run error codes (FAILURE_CODES in infra/model/contract.py): every code the backend can
end a run with has one, as the backend reads it (worker_src/backend/failures.js, run by Node; its reading of exact
codes and prefixes is tests/unit/backend/failures.test.js), and the causes split into what async would absorb."""

from __future__ import annotations

import json
import re
import subprocess

from infra.model.contract import FAILURE_CAUSES, FAILURE_CODES, ErrorCode, FailureCause
from infra.model.settings import REPO_ROOT

BACKEND = REPO_ROOT / "worker_src" / "backend"


def causes_of(codes: list[str]) -> dict[str, str]:
    script = ("import('./worker_src/backend/failures.js').then((m) => console.log(JSON.stringify("
              f"Object.fromEntries({json.dumps(codes)}.map((c) => [c, m.causeOf(c)])))))")
    done = subprocess.run(["node", "-e", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_every_code_the_backend_writes_on_a_run_has_a_cause() -> None:
    """The codes written literally (`code: "…"`, `new ResultError("…"`) or as `task_<status>` by the backend."""
    source = "\n".join(p.read_text() for p in BACKEND.glob("*.js") if p.name != "contract.js")
    written = set(re.findall(r'code: "([a-z_]+)"', source)) | set(re.findall(r'new ResultError\(\s*"([a-z_]+)"',
                                                                                  source))
    written |= {f"task_{status}" for status in ("failed", "canceled", "unknown")} | {ErrorCode.QUEUE_UNAVAILABLE}
    assert len(written) >= 20
    unclassified = {code for code, cause in causes_of(sorted(written)).items() if cause == "unclassified"}
    assert unclassified == set()


def test_async_absorbs_throttling_5xx_timeouts_and_abandoned_runs_only() -> None:
    absorbed = {cause for cause, info in FAILURE_CAUSES.items() if info.absorbed}
    assert absorbed == {FailureCause.THROTTLED, FailureCause.UPSTREAM_ERROR, FailureCause.TIMEOUT,
                        FailureCause.ABANDONED}
    assert set(FAILURE_CAUSES) == set(FailureCause) and set(FAILURE_CODES.values()) < set(FailureCause)
