"""Every figure of the report is min/median/max over repeats, and percentiles interpolate as NumPy's do."""

from __future__ import annotations

import pytest

from bench.stats import Summary, percentile, percentiles


def test_a_summary_keeps_the_count_the_extremes_and_the_median() -> None:
    assert Summary.of([3.0, 1.0, 2.0, 10.0]) == Summary(4, 1.0, 2.5, 10.0)


def test_a_summary_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^summarize figure failed: no values \(the benchmark took no samples\)$"):
        Summary.of([])


def test_a_summary_reads_median_then_range_and_one_value_when_they_agree() -> None:
    assert Summary.of([0.0123, 0.0101, 0.0150]).scaled(1000).format(1, " ms") == "12.3 ms (10.1 ms .. 15.0 ms)"
    assert Summary.of([2.0, 2.0]).format(2, "x") == "2.00x"
    assert Summary.of([1_234.0]).format(0) == "1,234"


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentiles(values) == {50: pytest.approx(50.5), 95: pytest.approx(95.05), 99: pytest.approx(99.01)}
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, 2.0], 0) == 1.0 and percentile([1.0, 2.0], 100) == 2.0


def test_a_percentile_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^percentile failed: q must be within 0\.\.100, not 101$"):
        percentile([1.0], 101)
