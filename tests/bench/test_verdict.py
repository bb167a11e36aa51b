"""Verdicts are computed, not written: a miss says by how much and why, and the bench's check on itself passes only
when the deliberately bad variant fails the real rule."""

from __future__ import annotations

from bench.verdict import Verdict, at_least, at_most, guarded_failures, must_fail


def test_a_figure_within_its_target_passes_without_a_miss() -> None:
    v = at_most("persist", "generate / bare put", 1.1, 1.25, unit="x", why="never shown")
    assert (v.passed, v.target, v.measured, v.miss, v.why) == (True, "≤ 1.25x", "1.10x", "", "")
    assert v.line() == "[pass] persist: generate / bare put 1.10x (target ≤ 1.25x)"


def test_a_miss_says_how_far_over_and_why() -> None:
    v = at_most("metadata", "p95 of ops summary 30 d", 45.0, 30.0, unit=" ms", digits=1, why="D1 read 9,000 rows")
    assert not v.passed
    assert v.miss == "15.0 ms over the target (1.50x it)"
    assert v.line() == ("[FAIL] metadata: p95 of ops summary 30 d 45.0 ms (target ≤ 30.0 ms): 15.0 ms over the "
                        "target (1.50x it); D1 read 9,000 rows")


def test_a_figure_short_of_a_floor_says_by_how_much() -> None:
    v = at_least("persist", "buffering / streaming", 1.5, 2.0, unit="x", guarded=False)
    assert (v.passed, v.miss) == (False, "0.50x short of the target")
    assert v.line().startswith("[FAIL] persist: buffering / streaming 1.50x (target ≥ 2.00x, not guarded): ")


def test_the_bench_passes_its_own_check_only_when_the_bad_variant_fails_the_rule() -> None:
    caught = must_fail("persist", "the rule catches buffering", at_most("persist", "buffered", 4.9, 2.0, unit="x"))
    assert (caught.passed, caught.measured, caught.target) == (True, "4.90x, fails", "fails ≤ 2.00x")
    missed = must_fail("persist", "the rule catches buffering", at_most("persist", "buffered", 1.1, 2.0, unit="x"),
                       why="the body does not stand out")
    assert not missed.passed and missed.guarded
    assert missed.miss == "the deliberately bad variant passes the rule, so the rule cannot tell it from the real code"
    assert missed.why == "the body does not stand out"


def test_only_guarded_failures_fail_the_run() -> None:
    reported = at_most("offline", "suite", 99.0, 1.0, guarded=False)
    failed = at_most("async", "overshoot", 6.0, 5.0)
    assert guarded_failures([reported, failed, at_most("async", "polls", 1.0, 3.0)]) == [failed]
    assert isinstance(failed, Verdict)
