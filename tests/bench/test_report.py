"""The report says what it was measured on, every verdict with its miss, and each section's figures as
min/median/max; the bench waits for a quiet machine, but not forever."""

from __future__ import annotations

from bench import machine
from bench.machine import Machine
from bench.offline import OfflineResult
from bench.report import Report, render, table
from bench.verdict import at_most
from tests.bench.samples import persist_result

MACHINE = Machine("Test CPU", 2, 23.5, "Linux 6", "3.11.7", "v20.20.2", "4.86.0", "1.2026", "abc123",
                  "2026-01-02 03:04 UTC")


def test_a_table_escapes_pipes() -> None:
    assert table(("a", "b"), [("x|y", 1)]) == "| a | b |\n|---|---|\n| x\\|y | 1 |"


def test_the_report_names_the_machine_the_load_and_every_verdict_with_its_miss() -> None:
    report = Report(MACHINE, "full", "python -m bench", (1.2, 1.0, 0.9), (1.4, 1.1, 0.9), waited_seconds=120,
                    seconds=1500, persist=persist_result(),
                    offline=OfflineResult(plans={"local": [4.0, 5.0, 6.0]}, suite_seconds=200,
                                          suite_summary="9 passed"))
    report.verdicts = [at_most("persist", "generate / bare put at 2 MiB", 1.5, 1.25, unit="x", why="D1 took 40 ms"),
                       at_most("offline", "suite", 1.0, 2.0, guarded=False)]
    text = render(report)
    assert "| commit | abc123 |" in text
    assert "| took | 25.0 min, after waiting 2 min for the load to drop |" in text
    assert "| load average (1 / 5 / 15 min) | 1.20 / 1.00 / 0.90 at the start, 1.40 / 1.10 / 0.90 at the end |" in text
    assert "1 guarded verdict(s) failed, so `make bench` exited non-zero" in text
    assert ("| **FAIL** | persist | generate / bare put at 2 MiB | 1.50x | ≤ 1.25x | yes | 0.25x over the target "
            "(1.20x it); D1 took 40 ms |") in text
    assert "| pass | offline | suite | 1.00 | ≤ 2.00 | no |  |" in text
    assert "| **generate / bare put** | **1.20x** |" in text
    assert "| `python -m infra plan --stack local` | 5.0 s (4.0 s .. 6.0 s) |" in text
    assert "| test suite (`pytest`, once) | 200 s (9 passed) |" in text


def test_the_bench_waits_in_steps_until_the_load_drops() -> None:
    loads, slept = iter([3.0, 2.0, 1.0]), []
    waited = machine.wait_for_quiet(1.5, 600, step_seconds=30, log=lambda _: None, sleep=slept.append,
                                    current=lambda: next(loads))
    assert (waited, slept) == (60, [30, 30])


def test_the_bench_stops_waiting_at_the_deadline() -> None:
    slept: list[float] = []
    waited = machine.wait_for_quiet(1.5, 70, step_seconds=30, log=lambda _: None, sleep=slept.append,
                                    current=lambda: 9.0)
    assert (waited, slept) == (70, [30, 30, 10])
