"""What a stack's runs show about sync and async, read from its ops summary (`GET /api/ops/summary`, its
`health` block and per-day `series`): the volume per day, the outcomes, the failures by cause, the provider time
and downloads against the stack's budgets, and the async path's queue wait, polls, retries and dead letters.

Nothing is recounted here: the backend classifies the failures (FAILURE_CODES in infra/model/contract.py) and
reads the percentiles off the rollup histograms; this module only gives the numbers names and the shares that the
decision rule (`infra.ops.decision`) and the cost estimate (`infra.ops.cost`) take.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from infra.errors import InfraError
from infra.model.contract import FAILURE_CAUSES, FailureCause

DAY_SECONDS = 86400


class EvidenceError(InfraError):
    """The summary lacks what the report needs: the backend is older than this command."""


@dataclass(frozen=True)
class Share:
    """`part` of `whole`, exact (rule thresholds are compared without rounding)."""

    part: int
    whole: int

    @property
    def value(self) -> Fraction | None:
        return Fraction(self.part, self.whole) if self.whole else None

    def __str__(self) -> str:
        value = self.value
        return "n/a (none)" if value is None else f"{float(value) * 100:.1f} % ({self.part} of {self.whole})"


@dataclass(frozen=True)
class Percentiles:
    runs: int
    p50: int | None
    p95: int | None
    p99: int | None


@dataclass(frozen=True)
class Failure:
    mode: str
    cause: FailureCause
    absorbed: bool
    runs: int
    codes: tuple[tuple[str, str, int], ...]  # (status, code, runs)

    @property
    def label(self) -> str:
        return FAILURE_CAUSES[self.cause].label


@dataclass(frozen=True)
class ModeEvidence:
    """One mode's ended runs in the window."""

    ended: int
    succeeded: int
    dead_lettered: int
    absorbed: int
    not_absorbed: int
    polls: int
    retries: int
    queue_wait_mean_ms: int | None
    provider: Percentiles
    provider_near_budget: int
    downloads: int
    download_near_budget: int
    download_mean_ms: int | None
    request: Percentiles
    request_mean_ms: int | None
    image_bytes: int

    @property
    def absorbable_share(self) -> Share:
        """Failures a later retry would have fixed, of the ended runs."""
        return Share(self.absorbed, self.ended)

    @property
    def provider_near_share(self) -> Share:
        """Provider times within the margin of the upstream request timeout, of the timed runs."""
        return Share(self.provider_near_budget, self.provider.runs)

    @property
    def download_near_share(self) -> Share:
        return Share(self.download_near_budget, self.downloads)

    @property
    def retried_share(self) -> Share:
        """Retried deliveries per ended run (each one a failure the sync path would have answered)."""
        return Share(self.retries, self.ended)

    @property
    def dead_letter_share(self) -> Share:
        return Share(self.dead_lettered, self.ended)


@dataclass(frozen=True)
class Evidence:
    window: str
    since: str
    until: str
    seconds: int
    async_enabled: bool
    upstream_request_ms: int
    download_ms: int
    near_budget_margin: float
    counts: dict[str, int]
    per_day: tuple[tuple[str, int], ...]  # (UTC day, runs created)
    modes: dict[str, ModeEvidence]
    failures: tuple[Failure, ...]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def days(self) -> float:
        return self.seconds / DAY_SECONDS

    @property
    def current_mode(self) -> str:
        return "async" if self.async_enabled else "sync"

    @property
    def unclassified(self) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if f.cause is FailureCause.UNCLASSIFIED)


def _percentiles(data: dict[str, Any]) -> Percentiles:
    return Percentiles(int(data["runs"]), data["p50"], data["p95"], data["p99"])


def _mode(data: dict[str, Any]) -> ModeEvidence:
    return ModeEvidence(
        ended=data["ended"], succeeded=data["succeeded"], dead_lettered=data["dead_lettered"],
        absorbed=data["absorbed"], not_absorbed=data["not_absorbed"], polls=data["polls"], retries=data["retries"],
        queue_wait_mean_ms=data["queue_wait_mean_ms"], provider=_percentiles(data["provider"]),
        provider_near_budget=data["provider"]["near_budget"], downloads=data["download"]["runs"],
        download_near_budget=data["download"]["near_budget"], download_mean_ms=data["download"]["mean_ms"],
        request=_percentiles(data["request"]), request_mean_ms=data["request"]["mean_ms"],
        image_bytes=data["image_bytes"],
    )


def from_summary(summary: dict[str, Any]) -> Evidence:
    """The evidence in an ops summary fetched with `step=1d`."""
    health = summary.get("health")
    if not isinstance(health, dict) or summary["series"]["step_seconds"] != DAY_SECONDS:
        raise EvidenceError("read evidence failed: the ops summary has no `health` block (or not per day): deploy "
                            "the backend of this version (`pulumi up`) and run the report again")
    window = summary["window"]
    budgets = health["budgets"]
    return Evidence(
        window=window["text"], since=window["since"], until=window["until"], seconds=window["seconds"],
        async_enabled=health["async_enabled"], upstream_request_ms=budgets["upstream_request_ms"],
        download_ms=budgets["download_ms"], near_budget_margin=budgets["near_budget_margin"],
        counts=dict(summary["counts"]),
        per_day=tuple((p["at"][:10], sum(p["counts"].values())) for p in summary["series"]["points"]),
        modes={mode: _mode(data) for mode, data in health["by_mode"].items()},
        failures=tuple(
            Failure(f["mode"], FailureCause(f["cause"]), f["absorbed"], f["runs"],
                    tuple((c["status"], c["code"], c["runs"]) for c in f["codes"]))
            for f in health["failures"]
        ),
    )


__all__ = ["Evidence", "EvidenceError", "Failure", "ModeEvidence", "Percentiles", "Share", "from_summary"]
