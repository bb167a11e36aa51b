"""`python -m bench`: run the benchmarks, judge every figure against its target, write the Markdown report.

`make bench` runs everything at full size and writes `bench/REPORT.md` (first waiting, in bounded sleeps, for the
machine's 1-minute load to drop below `--max-load`, at most `--max-wait` minutes; the load is in the report
either way). `--quick` runs small sizes for development, `--only` some sections; both write
`build/bench/REPORT.md` instead, so the committed report is always a whole run. Exits 1 when a guarded verdict
fails (a missed target, or a deliberately bad variant the bench failed to catch), 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench import async_latency, machine, metadata, offline, persist
from bench.report import Report, render
from bench.verdict import guarded_failures
from infra.model.settings import REPO_ROOT

SECTIONS = ("persist", "metadata", "async", "offline")
COMMITTED_REPORT = REPO_ROOT / "bench" / "REPORT.md"
SCRATCH_REPORT = REPO_ROOT / "build" / "bench" / "REPORT.md"


@dataclass(frozen=True)
class Sizes:
    persist_rounds: int
    persist_sizes: tuple[int, ...]
    memory_size: int
    metadata_sizes: tuple[int, ...]
    metadata_requests: int
    metadata_repeats: int
    async_runs: int
    async_batches: int
    plan_repeats: int
    suite: bool


FULL = Sizes(5, persist.TIME_SIZES_MIB, persist.MEMORY_SIZE_MIB, metadata.SIZES, metadata.REQUESTS,
             metadata.REPEATS, async_latency.RUNS, async_latency.BATCHES, offline.REPEATS, True)
QUICK = Sizes(2, (1, 2), 8, (1_000, 10_000), 20, 2, 5, 1, 1, False)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes (development)")
    parser.add_argument("--only", type=lambda v: tuple(v.split(",")), default=SECTIONS,
                        help=f"comma-separated sections to run, of {', '.join(SECTIONS)}")
    parser.add_argument("--no-suite", action="store_true", help="skip the test suite's wall time (offline)")
    parser.add_argument("--report", type=Path, help="where to write the report (default: see above)")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait for a 1-minute load below this")
    parser.add_argument("--max-wait", type=float, default=30.0, help="minutes to wait for it at most (0: don't)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.only if s not in SECTIONS]
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    console = Console(highlight=False)
    log: Callable[[str], None] = lambda line: console.print(line, style="dim")  # noqa: E731
    sizes = QUICK if args.quick else FULL
    whole = set(args.only) == set(SECTIONS) and not args.quick and not args.no_suite
    path = args.report or (COMMITTED_REPORT if whole else SCRATCH_REPORT)
    waited = machine.wait_for_quiet(args.max_load, args.max_wait * 60, log=log) if not args.quick else 0.0
    report = Report(machine.describe(), "quick" if args.quick else "full",
                    "python -m bench" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
                    machine.load(), waited_seconds=waited)
    started = time.monotonic()
    if "persist" in args.only:
        report.persist = persist.run(rounds=sizes.persist_rounds, time_sizes=sizes.persist_sizes,
                                     memory_size=sizes.memory_size, log=log)
        report.inspector = persist.inspector_cost()
        report.verdicts += persist.verdicts(report.persist)
    if "metadata" in args.only:
        report.metadata = metadata.run(sizes.metadata_sizes, requests=sizes.metadata_requests,
                                       repeats=sizes.metadata_repeats, log=log)
        report.verdicts += metadata.verdicts(report.metadata)
    if "async" in args.only:
        report.async_latency = async_latency.run(runs=sizes.async_runs, batches=sizes.async_batches, log=log)
        report.verdicts += async_latency.verdicts(report.async_latency)
    if "offline" in args.only:
        report.offline = offline.run(repeats=sizes.plan_repeats, suite=sizes.suite and not args.no_suite, log=log)
    report.seconds = time.monotonic() - started
    report.load_end = machine.load()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report))
    for verdict in report.verdicts:
        console.print(verdict.line(), style="green" if verdict.passed else ("red" if verdict.guarded else "yellow"))
    failed = guarded_failures(report.verdicts)
    console.print(f"report: {path} ({report.seconds / 60:.1f} min); "
                  + (f"{len(failed)} guarded verdict(s) failed" if failed else "every guarded verdict passed"),
                  style="red" if failed else "green")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
