"""The statistics every figure of the report is given in: min/median/max over repeats, percentiles of a sample."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """One figure over its repeats."""

    n: int
    min: float
    median: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        ordered = sorted(values)
        if not ordered:
            raise ValueError("summarize figure failed: no values (the benchmark took no samples)")
        return cls(len(ordered), ordered[0], statistics.median(ordered), ordered[-1])

    def scaled(self, factor: float) -> Summary:
        return Summary(self.n, self.min * factor, self.median * factor, self.max * factor)

    def format(self, digits: int = 1, unit: str = "") -> str:
        """`median (min .. max)`, or the one value when every repeat gave the same (or there was one)."""
        fmt = lambda v: f"{v:,.{digits}f}{unit}"  # noqa: E731
        if fmt(self.min) == fmt(self.max):
            return fmt(self.median)
        return f"{fmt(self.median)} ({fmt(self.min)} .. {fmt(self.max)})"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (NumPy's default)."""
    if not values:
        raise ValueError("percentile failed: no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile failed: q must be within 0..100, not {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def percentiles(values: Sequence[float], qs: Iterable[float] = (50, 95, 99)) -> dict[float, float]:
    return {q: percentile(values, q) for q in qs}
