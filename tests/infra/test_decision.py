"""The rule of docs/runbook.md "Deciding on async" (infra/ops/decision.py) at each threshold: just below, at and
just above it, exactly (shares are compared as fractions, not rounded floats)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.model.contract import ASYNC_RULE
from infra.ops.decision import Verdict, recommend
from infra.ops.evidence import Evidence, EvidenceError, ModeEvidence, Percentiles, from_summary

QUIET = ModeEvidence(
    ended=1000, succeeded=1000, dead_lettered=0, absorbed=0, not_absorbed=0, polls=0, retries=0,
    queue_wait_mean_ms=None, provider=Percentiles(1000, 20000, 25000, 30000), provider_near_budget=0,
    downloads=1000, download_near_budget=0, download_mean_ms=400, request=Percentiles(1000, 21000, 26000, 31000),
    request_mean_ms=21000, image_bytes=2_000_000_000,
)
NONE = replace(QUIET, ended=0, succeeded=0, provider=Percentiles(0, None, None, None), downloads=0,
               request=Percentiles(0, None, None, None), request_mean_ms=None, download_mean_ms=None, image_bytes=0)


def evidence(async_enabled: bool, **mode: int) -> Evidence:
    """A 30-day window of 1,000 ended runs in the stack's current mode, `mode` changing some of their figures."""
    current = replace(QUIET, **mode)
    return Evidence(
        window="30d", since="2026-11-02T07:00:00.000Z", until="2026-12-02T07:00:00.000Z", seconds=30 * 86400,
        async_enabled=async_enabled, upstream_request_ms=120000, download_ms=30000, near_budget_margin=0.2,
        counts={"succeeded": current.succeeded}, per_day=(), failures=(),
        modes={"async": current, "sync": NONE} if async_enabled else {"sync": current, "async": NONE},
    )


def test_the_thresholds_are_the_ones_the_runbook_states() -> None:
    assert (ASYNC_RULE.min_ended_runs, ASYNC_RULE.near_budget_margin) == (200, 0.2)
    assert (ASYNC_RULE.on_absorbable_share, ASYNC_RULE.on_near_budget_share) == (0.02, 0.05)
    assert (ASYNC_RULE.off_retried_share, ASYNC_RULE.off_near_budget_share) == (0.005, 0.01)


@pytest.mark.parametrize(("ended", "verdict"), [(199, Verdict.NOT_ENOUGH_DATA), (200, Verdict.KEEP_SYNC),
                                                (201, Verdict.KEEP_SYNC)])
def test_fewer_ended_runs_than_the_minimum_give_no_recommendation(ended: int, verdict: Verdict) -> None:
    assert recommend(evidence(False, ended=ended)).verdict is verdict


def test_without_enough_runs_the_report_says_what_to_watch_first() -> None:
    sync = recommend(evidence(False, ended=12, absorbed=12))
    assert sync.because == "12 ended sync runs in the window; the rule needs 200"
    assert sync.watch[0].startswith("failures by cause: throttling, upstream 5xx, timeouts and abandoned runs")
    asyn = recommend(evidence(True, ended=0))
    assert asyn.verdict is Verdict.NOT_ENOUGH_DATA and asyn.watch[0].startswith("retried deliveries per run")


@pytest.mark.parametrize(("absorbed", "verdict"), [(19, Verdict.KEEP_SYNC), (20, Verdict.TURN_ASYNC_ON),
                                                   (21, Verdict.TURN_ASYNC_ON)])
def test_a_sync_stack_turns_async_on_at_two_percent_absorbable_failures(absorbed: int, verdict: Verdict) -> None:
    rec = recommend(evidence(False, absorbed=absorbed))
    assert rec.verdict is verdict
    if verdict is Verdict.TURN_ASYNC_ON:
        assert rec.because == (f"failures async would absorb, of ended sync runs: {absorbed / 10:.1f} % "
                               f"({absorbed} of 1000) ≥ 2.0%")


@pytest.mark.parametrize(("near", "verdict"), [(49, Verdict.KEEP_SYNC), (50, Verdict.TURN_ASYNC_ON),
                                               (51, Verdict.TURN_ASYNC_ON)])
def test_a_sync_stack_turns_async_on_at_five_percent_of_calls_near_the_upstream_timeout(near: int,
                                                                                       verdict: Verdict) -> None:
    assert recommend(evidence(False, provider_near_budget=near)).verdict is verdict


@pytest.mark.parametrize(("near", "verdict"), [(49, Verdict.KEEP_SYNC), (50, Verdict.TURN_ASYNC_ON),
                                               (51, Verdict.TURN_ASYNC_ON)])
def test_a_sync_stack_turns_async_on_at_five_percent_of_downloads_near_their_timeout(near: int,
                                                                                    verdict: Verdict) -> None:
    assert recommend(evidence(False, download_near_budget=near)).verdict is verdict


def test_not_absorbable_failures_never_turn_async_on() -> None:
    """Invalid input, content inspection and key or quota errors fail the same way through the queue."""
    rec = recommend(evidence(False, not_absorbed=900))
    assert rec.verdict is Verdict.KEEP_SYNC and rec.because == "no signal at its threshold: sync is not fragile here"


@pytest.mark.parametrize(("retries", "verdict"), [(4, Verdict.TURN_ASYNC_OFF), (5, Verdict.KEEP_ASYNC),
                                                  (6, Verdict.KEEP_ASYNC)])
def test_an_async_stack_may_turn_async_off_below_half_a_percent_retried(retries: int, verdict: Verdict) -> None:
    assert recommend(evidence(True, retries=retries)).verdict is verdict


@pytest.mark.parametrize(("near", "verdict"), [(9, Verdict.TURN_ASYNC_OFF), (10, Verdict.KEEP_ASYNC),
                                               (11, Verdict.KEEP_ASYNC)])
def test_an_async_stack_may_turn_async_off_below_one_percent_of_tasks_near_the_timeout(near: int,
                                                                                      verdict: Verdict) -> None:
    rec = recommend(evidence(True, provider_near_budget=near))
    assert rec.verdict is verdict
    if verdict is Verdict.KEEP_ASYNC:
        assert rec.because == (f"async tasks within the margin of the upstream timeout (a sync call's budget): "
                               f"{near / 10:.1f} % ({near} of 1000) ≥ 1.0%")


def test_an_async_stack_keeps_async_while_either_signal_says_so() -> None:
    assert recommend(evidence(True, retries=4, provider_near_budget=10)).verdict is Verdict.KEEP_ASYNC
    assert recommend(evidence(True, retries=5, provider_near_budget=9)).verdict is Verdict.KEEP_ASYNC
    off = recommend(evidence(True, retries=4, provider_near_budget=9))
    assert off.verdict is Verdict.TURN_ASYNC_OFF
    assert off.because == "async rescued almost nothing and every task would fit a sync call"


def test_a_signal_without_any_run_to_measure_points_nowhere() -> None:
    """No timed task at all: the async stack cannot show its tasks would fit a sync call."""
    rec = recommend(evidence(True, provider=Percentiles(0, None, None, None), provider_near_budget=0))
    assert rec.verdict is Verdict.KEEP_ASYNC
    assert "n/a (none) ?" in rec.because


def test_a_summary_without_the_health_block_is_refused_with_what_to_do() -> None:
    """A backend deployed before this version answers the summary without `health`."""
    with pytest.raises(EvidenceError) as refused:
        from_summary({"window": {}, "series": {"step_seconds": 86400, "points": []}})
    assert str(refused.value) == ("read evidence failed: the ops summary has no `health` block (or not per day): "
                                  "deploy the backend of this version (`pulumi up`) and run the report again")
