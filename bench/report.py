"""The Markdown report `python -m bench` writes: the machine, then every verdict, then each section's figures.

Every figure is `median (min .. max)` over the repeats, the way `bench.stats.Summary.format` writes it; nothing
here computes a verdict (bench.verdict does) or measures anything (the sections do).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bench import async_latency, metadata, persist
from bench.machine import Machine
from bench.offline import OfflineResult
from bench.stats import Summary
from bench.verdict import Verdict


@dataclass
class Report:
    machine: Machine
    mode: str
    command: str
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float] = (0.0, 0.0, 0.0)
    waited_seconds: float = 0.0
    seconds: float = 0.0
    persist: persist.PersistResult | None = None
    inspector: persist.InspectorCost | None = None
    metadata: metadata.MetadataResult | None = None
    async_latency: async_latency.AsyncResult | None = None
    offline: OfflineResult | None = None
    verdicts: list[Verdict] = field(default_factory=list)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; cells are rendered with `str` and pipes escaped."""
    cell = lambda v: str(v).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(s: Summary) -> str:
    return s.format(0, " ms")


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def machine_section(r: Report) -> str:
    m = r.machine
    rows = [
        ("date", m.date), ("commit", m.commit), ("command", f"`{r.command}` ({r.mode})"),
        ("took", f"{r.seconds / 60:.1f} min" + (f", after waiting {r.waited_seconds / 60:.0f} min for the load to "
                                                "drop" if r.waited_seconds else "")),
        ("CPU", f"{m.cpu}, {m.cores} cores"), ("memory", f"{m.memory_gib:.1f} GiB"), ("system", m.system),
        ("load average (1 / 5 / 15 min)", f"{_load(r.load_start)} at the start, {_load(r.load_end)} at the end"),
        ("runtimes", f"Python {m.python}, Node {m.node}, wrangler {m.wrangler}, workerd {m.workerd}"),
    ]
    return "## Machine\n\n" + table(("", ""), rows)


def verdict_section(verdicts: list[Verdict]) -> str:
    rows = [(f"**{v.mark}**" if not v.passed else v.mark, v.section, v.subject, v.measured, v.target,
             "yes" if v.guarded else "no", "; ".join(part for part in (v.miss, v.why) if part))
            for v in verdicts]
    failed = [v for v in verdicts if v.guarded and not v.passed]
    summary = ("Every guarded verdict passed." if not failed else
               f"{len(failed)} guarded verdict(s) failed, so `make bench` exited non-zero; each miss says by how "
               "much and why.")
    return ("## Verdicts\n\n" + summary + " Guarded verdicts fail the run; the others are reported only.\n\n" +
            table(("verdict", "section", "what", "measured", "target", "guarded", "miss, and why"), rows))


def persist_section(result: persist.PersistResult, inspector: persist.InspectorCost | None) -> str:
    out = ["## Persist: generate against a bare streaming put", "",
           f"{result.rounds} rounds, each in fresh runtimes (`bench/persist.py`); seconds are the client's wall "
           "time of one request. Ratios pair the samples of a round.", ""]
    variants = [("drain", "probe: read and drop (floor)"), ("put", "probe: bare streaming put (baseline)"),
                ("buffered", "probe: arrayBuffer() then put"), ("generate", "POST /api/generate (frontend)")]
    rows = [[label, *(_ms(result.seconds(v, size).scaled(1000)) for size in result.time_sizes)]
            for v, label in variants]
    rows.append(["**generate / bare put**", *(f"**{result.time_ratio(size).format(2, 'x')}**"
                                               for size in result.time_sizes)])
    out += [table(("variant", *(f"{size} MiB" for size in result.time_sizes)), rows), ""]
    size = result.memory_size
    out += [f"Memory at {size} MiB: peak resident growth of the workerd process that runs the Worker, over its "
            "value just before the request (the first large body of a fresh runtime, after a 1 MiB warm-up), and "
            "the same above the drain floor of that round.", ""]
    mem_rows = [(label, result.growth(v).format(1, " MiB"),
                 "" if v == "drain" else result.above_floor(v).format(1, " MiB"),
                 "" if v in ("drain", "put") else result.memory_ratio(v).format(2, "x"))
                for v, label in variants]
    out += [table(("variant", "growth", "above the drain floor", "/ the streaming put's"), mem_rows), ""]
    breakdown = result.breakdown()
    if breakdown.parts:
        out += [f"Where generate's time above the bare put goes at {breakdown.size_mib} MiB (ms per request; the "
                "parts add up to the time above the bare put):", ""]
        rows2 = [(name, _ms(s)) for name, s in breakdown.totals.items()]
        rows2 += [(f"- {name}", _ms(s)) for name, s in breakdown.parts.items()]
        out += [table(("", "ms"), rows2), ""]
    if inspector:
        out += [inspector_note(inspector), ""]
    return "\n".join(out).rstrip()


def inspector_note(cost: persist.InspectorCost) -> str:
    return (f"Why the Workers run without wrangler's DevTools inspector here (`localdev/start_worker.mjs`): the "
            f"probe's drain of {cost.size_mib} MiB takes {_ms(cost.with_inspector.scaled(1000))} under `wrangler dev` "
            f"and {_ms(cost.without_inspector.scaled(1000))} without it, and wrangler's own proxy process grows "
            f"{cost.proxy_growth.format(0, ' MiB')} during it, because `wrangler dev` enables the inspector's Network "
            "domain and workerd reports every chunk of every subrequest body to it. That cost is the local tool's, "
            "not the Worker's; with it the persist ratios would compare two copies of it.")


def metadata_section(result: metadata.MetadataResult) -> str:
    out = ["## Metadata: the admin routes over N runs", "",
           f"Through the whole local stack (frontend → backend → D1, as `make dev` runs it), {result.requests} "
           f"requests per route per repeat, the routes interleaved at random, {result.repeats} repeats; "
           "percentiles per repeat, as min/median/max over the repeats. Rows read: D1's own count per call "
           "(instrumented copy of the backend on the same database), which does not depend on the load.", ""]
    for size in result.sizes:
        out += [f"### {size.runs:,} runs",
                "",
                f"Seeded in {size.seed_seconds:.0f} s ({size.database_mb:,.0f} MB); the deep page is page "
                f"{size.deep_page:,} (20 per page).", ""]
        rows = [(name, size.percentile(name, 50).format(1), size.percentile(name, 95).format(1),
                 size.percentile(name, 99).format(1), size.rows_read(name).format(0),
                 size.d1_calls(name).format(0))
                for name in size.latency]
        out += [table(("route", "p50 ms", "p95 ms", "p99 ms", "D1 rows read", "D1 round trips"), rows), ""]
    return "\n".join(out).rstrip()


def async_section(result: async_latency.AsyncResult) -> str:
    polling = {k.removeprefix("queues.polling."): v for k, v in result.settings.items()
               if k.startswith("queues.polling.")}
    batch = result.settings.get("queues.jobs.max_batch_timeout_seconds")
    out = ["## Async: request → succeeded with 20 s tasks", "",
           f"{result.batches} batch(es) of {result.runs_per_batch} runs, stand-in tasks RUNNING for "
           f"{result.task_seconds:.0f} s, production's poll schedule "
           f"({', '.join(f'{k} {v}' for k, v in polling.items())}) and jobs queue (max_batch_timeout {batch} s). "
           "Percentiles per batch, as min/median/max over the batches.", ""]
    rows = [("request → succeeded", result.latency(50).format(1, " s"), result.latency(95).format(1, " s")),
            ("overshoot over the task", result.overshoot(50).format(1, " s"), result.overshoot(95).format(1, " s")),
            ("polls per run", result.polls(50).format(1), result.polls(95).format(1))]
    out += [table(("", "p50", "p95"), rows), ""]
    learned = sum(1 for r in result.runs if r.expected_from == "recent_runs")
    out += ["Where the overshoot goes (median per run): " + "; ".join(
        f"{name} {s.format(1, ' s')}" for name, s in result.parts().items()) +
        f". {learned} of {len(result.runs)} runs timed their first query from recent runs, the others from the "
        "settings' hint."]
    return "\n".join(out)


def offline_section(result: OfflineResult) -> str:
    rows = [(f"`python -m infra plan --stack {stack}`", result.plan(stack).format(1, " s"))
            for stack in result.plans]
    if result.suite_seconds is not None:
        rows.append(("test suite (`pytest`, once)", f"{result.suite_seconds:.0f} s ({result.suite_summary})"))
    return "## Offline tooling\n\n" + table(("", "wall time"), rows)


def render(r: Report) -> str:
    parts = ["# Benchmark report", "",
             "Written by `make bench` (`python -m bench`); do not edit by hand: run it again. How each figure is "
             "measured is in the docstring of its module under `bench/`.", "",
             machine_section(r), "", verdict_section(r.verdicts)]
    if r.persist:
        parts += ["", persist_section(r.persist, r.inspector)]
    if r.metadata:
        parts += ["", metadata_section(r.metadata)]
    if r.async_latency:
        parts += ["", async_section(r.async_latency)]
    if r.offline:
        parts += ["", offline_section(r.offline)]
    return "\n".join(parts) + "\n"
