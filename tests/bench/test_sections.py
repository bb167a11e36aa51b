"""What each section makes of its samples: ratios pair the samples of one round, memory is read above the drain
floor, the time above the bare put is split into parts that add up, D1 reads are held to the table's growth, and
the async overshoot is split along a run's own events."""

from __future__ import annotations

import pytest

from bench import async_latency, metadata, persist
from bench.persist import Memory, PersistResult
from tests.bench.samples import persist_result


def test_time_ratios_pair_the_samples_of_a_round() -> None:
    ratio = persist_result().time_ratio(2)
    assert (ratio.n, ratio.min, ratio.max) == (2, pytest.approx(1.2), pytest.approx(1.2))


def test_memory_is_compared_above_the_drain_floor() -> None:
    result = persist_result()
    assert result.above_floor("put").median == 20.0
    assert result.memory_ratio("generate").median == pytest.approx(24 / 20)
    assert result.memory_ratio("buffered").median == pytest.approx(64 / 20)


def test_a_streaming_put_at_the_floor_divides_by_at_least_one_mib() -> None:
    result = PersistResult(1, (2,), 32, memory=[Memory(0, "drain", 32, 16.0), Memory(0, "put", 32, 15.0),
                                                Memory(0, "buffered", 32, 48.0)])
    assert result.memory_ratio("buffered").median == 32.0


def test_the_parts_of_the_time_above_the_bare_put_add_up_to_it() -> None:
    breakdown = persist_result(rounds=1).breakdown(2)
    assert breakdown.totals["above the bare put"].median == pytest.approx(20.0)
    assert sum(s.median for s in breakdown.parts.values()) == pytest.approx(20.0)
    assert breakdown.parts["frontend hop (frontend - backend address)"].median == pytest.approx(10.0)
    assert breakdown.parts["D1 (6 round trips, instrumented copy)"].median == 6.0
    assert breakdown.why().startswith("of 20 ms above the bare put at 2 MiB, the largest parts are frontend hop")


def test_the_backend_passes_the_memory_rule_that_the_buffering_probe_fails() -> None:
    by_subject = {v.subject: v for v in persist.verdicts(persist_result())}
    time_verdict = by_subject["generate / bare streaming put at 2 MiB"]
    assert time_verdict.passed and time_verdict.guarded
    assert by_subject["generate's memory above the drain floor / the streaming put's at 32 MiB"].passed
    caught = next(v for s, v in by_subject.items() if s.startswith("the same rule for the buffering probe"))
    assert caught.passed and caught.measured == "3.20x, fails"


def test_a_buffering_probe_that_does_not_stand_out_fails_the_bench() -> None:
    verdicts = persist.verdicts(persist_result(buffered_mib=50.0))  # 34 MiB above the floor: 1.7x the streaming put
    caught = next(v for v in verdicts if v.subject.startswith("the same rule for the buffering probe"))
    assert not caught.passed and caught.guarded
    assert caught.why == ("holding a 32 MiB body whole does not stand out above the drain floor: the bench cannot "
                          "tell buffering from streaming at this size")


def _size(runs: int, rows: dict[str, float], p95: float) -> metadata.SizeResult:
    size = metadata.SizeResult(runs, 1.0, 10.0, 500)
    for name, read in rows.items():
        size.latency[name] = [{50.0: p95 / 2, 95.0: p95, 99.0: p95 * 2}] * 3
        size.reads[name] = [{"rows_read": read, "calls": 1}] * 3
    return size


def test_d1_reads_that_grow_with_the_table_fail_and_bounded_ones_pass() -> None:
    result = metadata.MetadataResult(10, 3, [
        _size(10_000, {metadata.FLOOR: 0, "list: status=failed": 61, "ops summary 30 d": 2_000, "scan": 100}, 8.0),
        _size(1_000_000, {metadata.FLOOR: 0, "list: status=failed": 61, "ops summary 30 d": 5_000, "scan": 10_000},
              40.0),
    ])
    growth = {v.subject.split(" by ")[1].split(",")[0]: v for v in metadata.verdicts(result)
              if v.subject.startswith("growth")}
    assert growth["list: status=failed"].passed and growth["list: status=failed"].measured == "0.00"
    assert growth["ops summary 30 d"].passed  # 2.5x the cells for 100x the runs
    assert not growth["scan"].passed
    assert growth["scan"].why == ("100 → 10,000 rows per call while the runs grew 100x: the route's cost grows "
                                  "with the table")


def test_a_slow_route_is_told_apart_from_the_stacks_floor() -> None:
    result = metadata.MetadataResult(10, 3, [_size(1_000_000, {metadata.FLOOR: 0, "ops summary 7 d": 900}, 40.0)])
    result.sizes[0].latency[metadata.FLOOR] = [{50.0: 5.0, 95.0: 12.0, 99.0: 20.0}] * 3
    [slow] = metadata.verdicts(result)
    assert slow.subject == "p95 of ops summary 7 d at 1,000,000 runs" and not slow.passed
    assert slow.why == ("D1 read 900 rows per call; the stack's floor (health) has p95 12.0 ms, so 28.0 ms are the "
                        "route's own")


def _events(created: str, submitted: str, polled: str, completed: str) -> dict:
    return {"run": {"status": "succeeded", "created_at": created, "completed_at": completed},
            "events": [{"type": "status", "to": "submitted", "at": submitted, "detail": {"expected_from": "settings"}},
                       {"type": "task_polled", "to": None, "at": polled, "detail": {}}]}


def test_an_async_run_splits_its_overshoot_along_its_events() -> None:
    run = async_latency._run(0, _events("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:02.000Z",
                                        "2026-01-01T00:00:24.500Z", "2026-01-01T00:00:25.000Z"), 20.0)
    assert (run.seconds, run.polls, run.expected_from) == (25.0, 1, "settings")
    assert (run.to_submitted, run.poll_after_task_end, run.to_completed) == (2.0, 2.5, 0.5)
    assert run.to_submitted + 20.0 + run.poll_after_task_end + run.to_completed == run.seconds


def test_async_verdicts_hold_the_overshoot_and_the_polls() -> None:
    result = async_latency.AsyncResult(20.0, 1, 2, {"queues.jobs.max_batch_timeout_seconds": 2,
                                                    "queues.polling.max_polls": 60})
    result.runs = [async_latency.Run(0, "succeeded", 26.5, 1, "settings", 2.0, 4.0, 0.5),
                   async_latency.Run(0, "succeeded", 24.0, 2, "recent_runs", 2.0, 1.5, 0.5)]
    overshoot, polls, failed = async_latency.verdicts(result)
    assert not overshoot.passed and overshoot.measured == "6.4 s"
    assert overshoot.why.startswith("of the overshoot, per run (medians): request → submitted (first delivery, "
                                    "submit call) 2.0 s, task end → the query that saw it 2.8 s")
    assert polls.passed and failed.passed
