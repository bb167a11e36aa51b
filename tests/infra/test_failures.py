"""The failure causes of run error codes (FAILURE_CODES in infra/model/contract.py) as the backend reads them
(worker_src/backend/failures.js, run by Node itself): an exact code, else its longest prefix, else unclassified;
every code the backend can end a run with has a cause, and the causes split into what async would absorb."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from infra.model.contract import FAILURE_CAUSES, FAILURE_CODES, ErrorCode, FailureCause
from infra.model.settings import REPO_ROOT

BACKEND = REPO_ROOT / "worker_src" / "backend"


def causes_of(codes: list[str]) -> dict[str, str]:
    script = ("import('./worker_src/backend/failures.js').then((m) => console.log(JSON.stringify("
              f"Object.fromEntries({json.dumps(codes)}.map((c) => [c, m.causeOf(c)])))))")
    done = subprocess.run(["node", "-e", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


EXPECTED = [
    ("Throttling", FailureCause.THROTTLED), ("Throttling.RateQuota", FailureCause.THROTTLED),
    ("Throttling.AllocationQuota", FailureCause.THROTTLED), ("HTTP429", FailureCause.THROTTLED),
    ("InternalError", FailureCause.UPSTREAM_ERROR), ("InternalError.Algo", FailureCause.UPSTREAM_ERROR),
    ("HTTP503", FailureCause.UPSTREAM_ERROR), ("upstream_unreachable", FailureCause.UPSTREAM_ERROR),
    ("upstream_timeout", FailureCause.TIMEOUT), ("download_timeout", FailureCause.TIMEOUT),
    ("task_timeout", FailureCause.TIMEOUT), ("RequestTimeOut", FailureCause.TIMEOUT),
    ("abandoned", FailureCause.ABANDONED),
    ("InvalidParameter", FailureCause.INVALID_INPUT), ("BadRequest.EmptyInput", FailureCause.INVALID_INPUT),
    ("DataInspectionFailed", FailureCause.CONTENT_INSPECTION),
    ("InvalidParameter.DataInspection", FailureCause.CONTENT_INSPECTION),  # the longer prefix wins
    ("InvalidApiKey", FailureCause.KEY_OR_QUOTA), ("AccessDenied.Unpurchased", FailureCause.KEY_OR_QUOTA),
    ("Arrearage", FailureCause.KEY_OR_QUOTA),
    ("result_host_not_allowed", FailureCause.RESULT_REJECTED), ("result_too_large", FailureCause.RESULT_REJECTED),
    ("internal_error", FailureCause.INTERNAL), ("queue_unavailable", FailureCause.INTERNAL),
    ("Teapot", FailureCause.UNCLASSIFIED), ("HTTP404", FailureCause.UNCLASSIFIED), ("", FailureCause.UNCLASSIFIED),
    ("constructor", FailureCause.UNCLASSIFIED),  # a name every JavaScript object has is not a code
    ("HTTP5*", FailureCause.UPSTREAM_ERROR),
]


@pytest.fixture(scope="module")
def read() -> dict[str, str]:
    """The backend's cause of every code above, read in one Node run."""
    return causes_of([code for code, _ in EXPECTED])


@pytest.mark.parametrize(("code", "cause"), EXPECTED)
def test_the_backend_reads_each_code_as_the_contract_declares(read: dict[str, str], code: str,
                                                              cause: FailureCause) -> None:
    assert read[code] == str(cause)


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
