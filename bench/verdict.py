"""Verdicts: a measured figure against its target, computed by the bench, never written by hand.

A guarded verdict that fails makes `python -m bench` exit non-zero; an unguarded one is reported only (figures
that depend on the machine more than on the code, e.g. the test suite's wall time). A miss carries by how much
(computed here) and why (the section's reading of its own figures, e.g. the breakdown of the time it measured).
`must_fail` is how the bench proves it can fail: a deliberately bad variant judged by the same rule as the real
code has to fail it, or the rule cannot tell them apart and that is itself a failed verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    section: str
    subject: str
    target: str
    measured: str
    passed: bool
    guarded: bool = True
    miss: str = ""
    why: str = ""

    @property
    def mark(self) -> str:
        return "pass" if self.passed else "FAIL"

    def line(self) -> str:
        """One line for the console: `[pass] persist: generate / bare put at 2 MiB 1.12x (target ≤ 1.25x)`."""
        guard = "" if self.guarded else ", not guarded"
        text = f"[{self.mark}] {self.section}: {self.subject} {self.measured} (target {self.target}{guard})"
        if not self.passed:
            text += f": {self.miss}" + (f"; {self.why}" if self.why else "")
        return text


def _number(value: float, digits: int, unit: str) -> str:
    return f"{value:,.{digits}f}{unit}"


def at_most(section: str, subject: str, value: float, limit: float, *, unit: str = "", digits: int = 2,
            guarded: bool = True, why: str = "") -> Verdict:
    """Passes when `value <= limit`; a miss says how far over the target it is."""
    passed = value <= limit
    over = f"{_number(value - limit, digits, unit)} over the target" + (
        f" ({value / limit:.2f}x it)" if limit > 0 else "")
    return Verdict(section, subject, f"≤ {_number(limit, digits, unit)}", _number(value, digits, unit), passed,
                   guarded, "" if passed else over, "" if passed else why)


def at_least(section: str, subject: str, value: float, limit: float, *, unit: str = "", digits: int = 2,
             guarded: bool = True, why: str = "") -> Verdict:
    """Passes when `value >= limit`; a miss says how far short of the target it is."""
    passed = value >= limit
    short = f"{_number(limit - value, digits, unit)} short of the target"
    return Verdict(section, subject, f"≥ {_number(limit, digits, unit)}", _number(value, digits, unit), passed,
                   guarded, "" if passed else short, "" if passed else why)


def must_fail(section: str, subject: str, judged: Verdict, *, why: str = "") -> Verdict:
    """The bench's check on itself: passes only when `judged` (a deliberately bad variant under the real rule)
    failed."""
    outcome = "fails" if not judged.passed else "passes"
    miss = "the deliberately bad variant passes the rule, so the rule cannot tell it from the real code"
    return Verdict(section, subject, f"fails {judged.target}", f"{judged.measured}, {outcome}", not judged.passed,
                   True, "" if not judged.passed else miss, "" if not judged.passed else why)


def guarded_failures(verdicts: Iterable[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.guarded and not v.passed]
