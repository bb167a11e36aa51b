"""Samples as the sections record them, for the tests of what the bench makes of them."""

from __future__ import annotations

from bench.persist import Memory, PersistResult, Timing


def persist_result(rounds: int = 2, buffered_mib: float = 80.0) -> PersistResult:
    result = PersistResult(rounds, (2,), 32)
    for r in range(rounds):
        slow = 1 + r  # round 1 twice as slow as round 0: ratios must pair within a round
        result.timings += [
            Timing(r, "drain", 2, 0.050 * slow, worker_ms=45.0 * slow),
            Timing(r, "buffered", 2, 0.090 * slow, worker_ms=85.0 * slow),
            Timing(r, "put", 2, 0.100 * slow, worker_ms=90.0 * slow),
            Timing(r, "generate", 2, 0.120 * slow),
            Timing(r, "generate-direct", 2, 0.110 * slow, upstream_ms=4.0, store_ms=95.0 * slow),
            Timing(r, "generate-instrumented", 2, 0.115 * slow, upstream_ms=4.0, store_ms=95.0, d1_ms=6.0,
                   d1_calls=6),
        ]
        result.memory += [Memory(r, "drain", 32, 16.0), Memory(r, "put", 32, 36.0),
                          Memory(r, "buffered", 32, buffered_mib), Memory(r, "generate", 32, 40.0)]
    return result
