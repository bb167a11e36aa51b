"""The rule of docs/runbook.md "Deciding on async", applied to a stack's evidence.

A sync stack is told to turn async on when the runs show it is fragile: failures a later retry would have fixed
(upstream 429/5xx, timeouts, runs abandoned by a dying request) reach `on_absorbable_share` of its ended runs, or
provider calls or downloads that came within `near_budget_margin` of their timeout reach `on_near_budget_share`.
An async stack is told it could turn async off only when async rescued almost nothing (retried deliveries below
`off_retried_share` per ended run) and its tasks would fit a sync call with room to spare (below
`off_near_budget_share` within the margin of the upstream timeout). Fewer than `min_ended_runs` ended runs give no
recommendation, only what to watch. The thresholds are `ASYNC_RULE` (infra/model/contract.py), the one place
the runbook, this module and the /ops view read them from.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from infra.model.contract import ASYNC_RULE, AsyncRule
from infra.ops.evidence import Evidence, Share


class Verdict(StrEnum):
    TURN_ASYNC_ON = "turn async on"
    KEEP_SYNC = "keep sync"
    TURN_ASYNC_OFF = "async can be turned off"
    KEEP_ASYNC = "keep async"
    NOT_ENOUGH_DATA = "not enough data yet"


@dataclass(frozen=True)
class Signal:
    """One figure of the rule against its threshold. A sync stack's signals point to async at or above their
    threshold (`upward`), an async stack's point away from it below theirs; `met` says whether this one does."""

    name: str
    share: Share
    threshold: float
    upward: bool

    @property
    def met(self) -> bool:
        value = self.share.value
        if value is None:
            return False
        limit = Fraction(str(self.threshold))
        return value >= limit if self.upward else value < limit

    def __str__(self) -> str:
        value = self.share.value
        side = "?" if value is None else ("≥" if value >= Fraction(str(self.threshold)) else "<")
        return f"{self.name}: {self.share} {side} {self.threshold:.1%}"


@dataclass(frozen=True)
class Recommendation:
    current: str  # "sync" or "async": what the stack runs now
    verdict: Verdict
    signals: tuple[Signal, ...]
    because: str
    watch: tuple[str, ...]


ABSORBABLE = "failures async would absorb, of ended sync runs"
PROVIDER_NEAR = "provider calls within the margin of the upstream timeout"
DOWNLOAD_NEAR = "downloads within the margin of the download timeout"
RETRIED = "retried deliveries per ended async run"
TASK_NEAR = "async tasks within the margin of the upstream timeout (a sync call's budget)"


def recommend(evidence: Evidence, rule: AsyncRule = ASYNC_RULE) -> Recommendation:
    current = evidence.current_mode
    mode = evidence.modes[current]
    margin = f"{rule.near_budget_margin:.0%}"
    if current == "sync":
        signals = (
            Signal(ABSORBABLE, mode.absorbable_share, rule.on_absorbable_share, upward=True),
            Signal(PROVIDER_NEAR, mode.provider_near_share, rule.on_near_budget_share, upward=True),
            Signal(DOWNLOAD_NEAR, mode.download_near_share, rule.on_near_budget_share, upward=True),
        )
        watch = (f"failures by cause: throttling, upstream 5xx, timeouts and abandoned runs are what async absorbs "
                 f"(turn it on at {rule.on_absorbable_share:.1%} of ended runs)",
                 f"provider calls and downloads within {margin} of their timeouts (at "
                 f"{rule.on_near_budget_share:.0%} of them)")
    else:
        signals = (
            Signal(RETRIED, mode.retried_share, rule.off_retried_share, upward=False),
            Signal(TASK_NEAR, mode.provider_near_share, rule.off_near_budget_share, upward=False),
        )
        watch = (f"retried deliveries per run: each is a failure a sync request would have returned (async earns "
                 f"its keep above {rule.off_retried_share:.1%})",
                 f"task times against the upstream timeout: a sync call waits for the whole task (below "
                 f"{rule.off_near_budget_share:.0%} within {margin} of it, it would fit)",
                 "dead letters and queue wait: what async costs when it is on")
    if mode.ended < rule.min_ended_runs:
        return Recommendation(current, Verdict.NOT_ENOUGH_DATA, signals,
                              f"{mode.ended} ended {current} runs in the window; the rule needs "
                              f"{rule.min_ended_runs}", watch)
    met = [s for s in signals if s.met]
    if current == "sync":
        verdict = Verdict.TURN_ASYNC_ON if met else Verdict.KEEP_SYNC
        because = "; ".join(map(str, met)) or "no signal at its threshold: sync is not fragile here"
    else:
        verdict = Verdict.TURN_ASYNC_OFF if len(met) == len(signals) else Verdict.KEEP_ASYNC
        unmet = [s for s in signals if not s.met]
        because = "; ".join(map(str, unmet)) or "async rescued almost nothing and every task would fit a sync call"
    return Recommendation(current, verdict, signals, because, watch)


__all__ = ["Recommendation", "Signal", "Verdict", "recommend"]
