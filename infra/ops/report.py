"""`infra report`: a stack's evidence for the async decision, the rule's recommendation and the monthly cost
estimate, assembled from its ops summary, its stack file, the measured footprint and the pinned prices, as JSON
or as `rich` tables.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rich.console import Console
from rich.table import Table

from infra.model.contract import ASYNC_RULE, FAILURE_CAUSES, FailureCause
from infra.model.settings import StackSettings
from infra.ops.cost import Estimate, Footprint, Plan, Prices, Workload, estimate
from infra.ops.decision import Recommendation, recommend
from infra.ops.evidence import Evidence, ModeEvidence, Percentiles, Share

MODES = ("sync", "async")


@dataclass(frozen=True)
class Scenario:
    name: str
    estimate: Estimate


@dataclass(frozen=True)
class Report:
    stack: str
    evidence: Evidence
    recommendation: Recommendation
    workload: Workload
    cost: Estimate
    scenarios: tuple[Scenario, ...]


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def workload_of(evidence: Evidence) -> Workload:
    """A day of the stack from its window: runs created per day, and per ended run what it stored, polled and
    retried (the async figures from async runs; how long an async run lasts from the sync ones when there are
    none)."""
    sync, asyn = evidence.modes["sync"], evidence.modes["async"]
    ended = sync.ended + asyn.ended
    downloads = sync.downloads + asyn.downloads
    lasting = asyn.request_mean_ms if asyn.ended else sync.request_mean_ms
    return Workload(
        runs_per_day=_ratio(evidence.total, evidence.days),
        succeeded_share=_ratio(sync.succeeded + asyn.succeeded, ended),
        image_bytes=_ratio(sync.image_bytes + asyn.image_bytes, downloads),
        polls_per_async_run=_ratio(asyn.polls, asyn.ended),
        retries_per_async_run=_ratio(asyn.retries, asyn.ended),
        dead_letter_share=_ratio(asyn.dead_lettered, asyn.ended),
        async_seconds=(lasting or 0) / 1000,
    )


def build(stack: str, evidence: Evidence, settings: StackSettings, footprint: Footprint, prices: Prices) -> Report:
    """The report; `evidence.async_enabled` (what the backend runs) decides the plan's mode."""
    workload = workload_of(evidence)
    plan = Plan.of(settings, async_enabled=evidence.async_enabled)
    flipped = replace(plan, async_enabled=not plan.async_enabled)
    scenarios = [Scenario(f"async {'on' if flipped.async_enabled else 'off'}",
                          estimate(workload, flipped, footprint, prices))]
    expire = plan.expire_days or 365
    for days in sorted({max(1, expire // 2), expire * 2} - {expire}):
        scenarios.append(Scenario(f"images kept {days} d (runs {days + 1} d)",
                                  estimate(workload, plan.with_retention(days), footprint, prices)))
    now = estimate(workload, plan, footprint, prices)
    return Report(stack, evidence, recommend(evidence), workload, now, tuple(scenarios))


# -- JSON ---------------------------------------------------------------------------------------------------


def _share(share: Share) -> dict[str, Any]:
    value = share.value
    return {"part": share.part, "whole": share.whole, "value": None if value is None else float(value)}


def _percentiles(p: Percentiles) -> dict[str, Any]:
    return {"runs": p.runs, "p50_ms": p.p50, "p95_ms": p.p95, "p99_ms": p.p99}


def _mode_json(m: ModeEvidence) -> dict[str, Any]:
    return {
        "ended": m.ended, "succeeded": m.succeeded, "dead_lettered": m.dead_lettered,
        "failures_absorbed_by_async": m.absorbed, "failures_not_absorbed": m.not_absorbed,
        "absorbable_share": _share(m.absorbable_share),
        "provider": {**_percentiles(m.provider), "near_budget": _share(m.provider_near_share)},
        "download": {"runs": m.downloads, "mean_ms": m.download_mean_ms, "near_budget": _share(m.download_near_share)},
        "request": {**_percentiles(m.request), "mean_ms": m.request_mean_ms},
        "polls_per_run": _ratio(m.polls, m.ended), "retried_share": _share(m.retried_share),
        "dead_letter_share": _share(m.dead_letter_share), "queue_wait_mean_ms": m.queue_wait_mean_ms,
        "image_bytes": m.image_bytes,
    }


def _estimate_json(e: Estimate) -> dict[str, Any]:
    return {"total": round(e.total, 4), "subscription": e.subscription,
            "by_product": {k: round(v, 4) for k, v in e.by_product().items()},
            "lines": [{**line.__dict__, "cost": round(line.cost, 4)} for line in e.lines]}


def to_json(report: Report) -> dict[str, Any]:
    ev, rec = report.evidence, report.recommendation
    return {
        "stack": report.stack,
        "window": {"text": ev.window, "since": ev.since, "until": ev.until},
        "async_enabled": ev.async_enabled,
        "budgets": {"upstream_request_ms": ev.upstream_request_ms, "download_ms": ev.download_ms,
                    "near_budget_margin": ev.near_budget_margin},
        "evidence": {
            "total": ev.total, "counts": ev.counts,
            "per_day": [{"day": day, "runs": runs} for day, runs in ev.per_day],
            "by_mode": {mode: _mode_json(ev.modes[mode]) for mode in MODES},
            "failures": [{"mode": f.mode, "cause": str(f.cause), "label": f.label, "absorbed_by_async": f.absorbed,
                          "runs": f.runs, "codes": [{"status": s, "code": c, "runs": n} for s, c, n in f.codes]}
                         for f in ev.failures],
        },
        "recommendation": {
            "current": rec.current, "verdict": str(rec.verdict), "because": rec.because, "watch": list(rec.watch),
            "signals": [{"name": s.name, "share": _share(s.share), "threshold": s.threshold, "met": s.met}
                        for s in rec.signals],
            "rule": ASYNC_RULE.__dict__,
        },
        "workload": report.workload.__dict__,
        "cost": {**_estimate_json(report.cost), "assumptions": list(report.cost.assumptions)},
        "scenarios": [{"name": s.name, **_estimate_json(s.estimate), "difference": round(
            s.estimate.total - report.cost.total, 4)} for s in report.scenarios],
    }


# -- tables -------------------------------------------------------------------------------------------------


def _seconds(ms: int | None) -> str:
    return "n/a" if ms is None else f"{ms / 1000:g} s"


def _p(p: Percentiles) -> str:
    return "n/a" if not p.runs else f"{_seconds(p.p50)} / {_seconds(p.p95)} / {_seconds(p.p99)}"


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.3f}"


def _table(title: str, *columns: str, right: tuple[str, ...] = (), **options: Any) -> Table:
    """A table whose title never wraps (rich wraps a title to a narrow table's width); `right`: numeric columns."""
    table = Table(title=title, min_width=len(title) + 2, **options)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    return table


def print_report(report: Report, console: Console) -> None:
    ev, rec = report.evidence, report.recommendation
    console.print(f"Stack {report.stack}: runs created {ev.since} → {ev.until} ({ev.window}); "
                  f"async processing is {'on' if ev.async_enabled else 'off'}")

    days = _table("Runs created per day (UTC)", "day", "runs", right=("runs",))
    for day, runs in ev.per_day:
        days.add_row(day, str(runs))
    console.print(days)

    outcomes = _table(f"Outcomes ({ev.total} runs)", "status", "runs", right=("runs",))
    for status, runs in ev.counts.items():
        outcomes.add_row(status, str(runs))
    console.print(outcomes)

    causes = _table("Failures by cause", "cause", "async absorbs it", "sync runs", "async runs", "codes")
    for cause in FailureCause:
        rows = [f for f in ev.failures if f.cause is cause]
        if not rows:
            continue
        by_mode = {m: sum(f.runs for f in rows if f.mode == m) for m in MODES}
        codes = ", ".join(sorted({f"{code} ({status}): {n}" for f in rows for status, code, n in f.codes}))
        causes.add_row(FAILURE_CAUSES[cause].label, "yes" if FAILURE_CAUSES[cause].absorbed else "no",
                       str(by_mode["sync"]), str(by_mode["async"]), codes)
    console.print(causes if ev.failures else "Failures by cause: none in the window")

    margin = f"{ev.near_budget_margin:.0%}"
    timing = _table(f"Durations against the budgets (upstream timeout {_seconds(ev.upstream_request_ms)}, "
                    f"download timeout {_seconds(ev.download_ms)}; near = within {margin}; percentiles are the "
                    "upper edges of histogram buckets)", "mode", "ended", "absorbable failures",
                    "provider p50/p95/p99", "provider near timeout", "download mean", "download near timeout",
                    "request → end p50/p95/p99")
    for mode in MODES:
        m = ev.modes[mode]
        timing.add_row(mode, str(m.ended), str(m.absorbable_share), _p(m.provider), str(m.provider_near_share),
                       _seconds(m.download_mean_ms), str(m.download_near_share), _p(m.request))
    console.print(timing)

    asyn = ev.modes["async"]
    if asyn.ended:
        path = _table("Async path", "figure", "value", show_header=False)
        path.add_row("queue wait (mean)", _seconds(asyn.queue_wait_mean_ms))
        path.add_row("polls per run", f"{_ratio(asyn.polls, asyn.ended):.2f}")
        path.add_row("retried deliveries per run", str(asyn.retried_share))
        path.add_row("dead-letter rate", str(asyn.dead_letter_share))
        path.add_row("request → end p50/p95/p99", _p(asyn.request))
        console.print(path)

    console.print(f"Recommendation ({rec.current} now): {rec.verdict} because {rec.because}", style="bold")
    signals = _table("The rule's signals (docs/runbook.md \"Deciding on async\")", "signal", "figure", "threshold",
                     "points the rule's way")
    for s in rec.signals:
        signals.add_row(s.name, str(s.share), f"{'≥' if s.upward else '<'} {s.threshold:.1%}", "yes" if s.met else "no")
    console.print(signals)
    console.print("Watch first: " + "; ".join(rec.watch))

    cost = _table(f"Estimated monthly cost: {_money(report.cost.total)} (Workers Paid plan "
                  f"{_money(report.cost.subscription)} included)", "product", "item", "quantity", "included",
                  "billable", "cost", right=("quantity", "included", "billable", "cost"))
    for line in report.cost.lines:
        cost.add_row(line.product, line.item, f"{_amount(line.quantity)} {line.unit}", _amount(line.included),
                     _amount(line.billable), _money(line.cost))
    console.print(cost)
    what_if = _table("What if", "change", "monthly cost", "difference")
    for scenario in report.scenarios:
        difference = scenario.estimate.total - report.cost.total
        what_if.add_row(scenario.name, _money(scenario.estimate.total), f"{'+' if difference >= 0 else '-'}"
                        f"{_money(abs(difference))}")
    console.print(what_if)
    console.print("Assuming: " + "; ".join(report.cost.assumptions))


__all__ = ["Report", "Scenario", "build", "print_report", "to_json", "workload_of"]
