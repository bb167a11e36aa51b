"""Metadata at scale: the admin routes over a database of N runs, through the whole local stack.

For each size, `bench.seed` writes N runs spread over 30 days (events, assets, rollups; the real migrations) into
a fresh local D1, the local system starts on it (frontend → backend → D1, each Worker as `make dev` runs it, the
stand-in as its own process) and every route is requested `requests` times per repeat, the routes interleaved
in a random order, after a warm-up. Each repeat gives p50/p95/p99 per route; the report gives each as
min/median/max over the repeats. `GET /api/health` is the stack's own floor (no D1), not a target.

Then, with the system stopped, the instrumented copy of the backend (`bench/instrumented_backend`) answers the
same requests on the same database and counts what D1 read for each: a figure that does not depend on the
machine's load, and the one that shows whether a route's cost grows with the table.
"""

from __future__ import annotations

import json
import math
import random
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench import seed as seeding
from bench.processes import instrumented_backend, standin_process
from bench.stats import Summary, percentiles
from bench.verdict import Verdict, at_most
from infra.d1.executors import PERSIST_SUBDIR, LocalD1Executor
from infra.model.contract import LIMITS
from infra.model.naming import Role
from localdev.system import LocalSystem

SECTION = "metadata"
SIZES = (10_000, 1_000_000)
DAYS = 30
REQUESTS = 200
REPEATS = 5
WARM_UP = 10
DEEP_PAGE = 1_000
MAX_P95_MS = 30.0
# How D1's rows read per call may grow with the table, as an exponent: rows ∝ runs^e between the smallest and the
# largest size. A seek reads the same rows (e = 0); the ops summary reads a few more cells while sparse windows
# fill up, then no more; a scan of the table is e = 1. 0.25 allows 3.2x the rows for 100x the runs.
MAX_READS_EXPONENT = 0.25
READ_SAMPLES = 3
FLOOR = "health (the stack's floor, no D1)"
DEEP = "list: deep page (page 1,000, or the last full one)"
Q = [50.0, 95.0, 99.0]


@dataclass(frozen=True)
class Fixture:
    """What the requests are made of: run ids and request ids that exist, the cursor of a deep page."""

    run_ids: list[str]
    request_ids: list[str]
    deep_page: int
    deep_cursor: str
    now: datetime


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def routes(f: Fixture) -> dict[str, Callable[[random.Random], str]]:
    """Each timed route: its name and the path of one request (some pick a different run each time)."""
    day = timedelta(days=1)
    return {
        FLOOR: lambda rng: "/api/health",
        "list: unfiltered": lambda rng: "/api/runs",
        "list: status=failed": lambda rng: "/api/runs?status=failed",
        "list: status=succeeded": lambda rng: "/api/runs?status=succeeded",
        "list: since 24 h": lambda rng: f"/api/runs?since={_iso(f.now - day)}",
        "list: status=failed, since 7 d": lambda rng: f"/api/runs?status=failed&since={_iso(f.now - 7 * day)}",
        "list: since 20 d until 10 d ago": lambda rng: (f"/api/runs?since={_iso(f.now - 20 * day)}"
                                                        f"&until={_iso(f.now - 10 * day)}"),
        "list: request_id": lambda rng: f"/api/runs?request_id={rng.choice(f.request_ids)}",
        DEEP: lambda rng: f"/api/runs?cursor={f.deep_cursor}",
        "one run (with events)": lambda rng: f"/api/runs/{rng.choice(f.run_ids)}",
        "ops summary 24 h": lambda rng: "/api/ops/summary?window=24h",
        "ops summary 7 d": lambda rng: "/api/ops/summary?window=7d",
        "ops summary 30 d": lambda rng: "/api/ops/summary?window=30d",
    }


@dataclass
class SizeResult:
    runs: int
    seed_seconds: float
    database_mb: float
    deep_page: int
    # route -> one {q: ms} per repeat
    latency: dict[str, list[dict[float, float]]] = field(default_factory=dict)
    # route -> one D1 tally per sampled request
    reads: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def percentile(self, route: str, q: float) -> Summary:
        return Summary.of(repeat[q] for repeat in self.latency[route])

    def rows_read(self, route: str) -> Summary:
        return Summary.of(tally["rows_read"] for tally in self.reads.get(route, []))

    def d1_calls(self, route: str) -> Summary:
        return Summary.of(tally["calls"] for tally in self.reads.get(route, []))


@dataclass
class MetadataResult:
    requests: int
    repeats: int
    sizes: list[SizeResult] = field(default_factory=list)


def _walk_to_page(client: httpx.Client, page: int) -> str:
    """The cursor of `page` (pages of the default size), reached by following `next_cursor` (100 per step,
    then the default size), as a client paging the list would."""
    size, skip, cursor = LIMITS.list_default, (page - 1) * LIMITS.list_default, ""
    while skip > 0:
        step = LIMITS.list_max if skip >= LIMITS.list_max else size
        answer = client.get("/api/runs", params={"limit": step, **({"cursor": cursor} if cursor else {})})
        answer.raise_for_status()
        cursor = answer.json()["next_cursor"]
        if not cursor:
            raise RuntimeError(f"walk the run list to page {page} failed: it ended {skip} runs short")
        skip -= step
    return cursor


def _fixture(persist: Path, database: str, client: httpx.Client, runs: int) -> Fixture:
    db = LocalD1Executor(persist, database, read_only=True)
    rows = db.query("SELECT id, request_id FROM runs WHERE rowid IN "
                    "(SELECT abs(random()) % (SELECT MAX(rowid) FROM runs) + 1 FROM runs LIMIT 200)")
    page = min(DEEP_PAGE, runs // LIMITS.list_default)
    return Fixture([r["id"] for r in rows], [r["request_id"] for r in rows], page, _walk_to_page(client, page),
                   datetime.now(UTC))


def _time(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} failed: {answer.status_code} {answer.text[:200]}")
    return elapsed * 1000


def measure_size(runs: int, *, requests: int, repeats: int, rng: random.Random,
                 log: Callable[[str], None]) -> SizeResult:
    with tempfile.TemporaryDirectory(prefix=f"bench-metadata-{runs}-") as tmp:
        state = Path(tmp)
        seeded = seeding.seed(runs, days=DAYS, persist_to=state / PERSIST_SUBDIR)
        log(f"metadata: seeded {runs:,} runs in {seeded.seconds:.0f} s ({seeded.megabytes:,.0f} MB)")
        token = secrets.token_urlsafe(24)
        headers = {"Authorization": f"Bearer {token}"}
        with standin_process(state / "standin.log") as upstream, \
                LocalSystem(port=0, state_dir=state, admin_token=token, upstream=upstream) as system, \
                httpx.Client(base_url=system.url, headers=headers, timeout=60) as client:
            fixture = _fixture(system.persist_dir, system.database_name, client, runs)
            table = routes(fixture)
            result = SizeResult(runs, seeded.seconds, seeded.megabytes, fixture.deep_page)
            for path in table.values():
                for _ in range(WARM_UP):
                    _time(client, path(rng))
            for repeat in range(repeats):
                order = [name for name in table for _ in range(requests)]
                rng.shuffle(order)
                samples: dict[str, list[float]] = {name: [] for name in table}
                for name in order:
                    samples[name].append(_time(client, table[name](rng)))
                for name, values in samples.items():
                    result.latency.setdefault(name, []).append(percentiles(values, Q))
                log(f"metadata: {runs:,} runs, repeat {repeat + 1}/{repeats} done")
            config = system.config_paths[Role.BACKEND]
        with instrumented_backend(config, system.persist_dir, state / "instrumented") as metered, \
                httpx.Client(base_url=metered.url, headers=headers, timeout=60) as client:
            for name, path in table.items():
                for _ in range(READ_SAMPLES):
                    answer = client.get(path(rng))
                    answer.raise_for_status()
                    result.reads.setdefault(name, []).append(json.loads(answer.headers["x-bench-d1"]))
        return result


def run(sizes: tuple[int, ...] = SIZES, *, requests: int = REQUESTS, repeats: int = REPEATS, seed: int = 7,
        log: Callable[[str], None] = print) -> MetadataResult:
    rng = random.Random(seed)
    result = MetadataResult(requests, repeats)
    for runs in sizes:
        result.sizes.append(measure_size(runs, requests=requests, repeats=repeats, rng=rng, log=log))
    return result


def verdicts(result: MetadataResult) -> list[Verdict]:
    """p95 of every route at the largest size (guarded), and its D1 reads against the smallest size's."""
    small, large = min(result.sizes, key=lambda s: s.runs), max(result.sizes, key=lambda s: s.runs)
    out = []
    floor = large.percentile(FLOOR, 95).median
    for name in large.latency:
        if name == FLOOR:
            continue
        p95 = large.percentile(name, 95).median
        reads = large.rows_read(name).median
        why = (f"D1 read {reads:,.0f} rows per call; the stack's floor ({FLOOR.split(' (')[0]}) has p95 "
               f"{floor:.1f} ms, so {max(p95 - floor, 0):.1f} ms are the route's own")
        out.append(at_most(SECTION, f"p95 of {name} at {large.runs:,} runs", p95, MAX_P95_MS, unit=" ms", digits=1,
                           why=why))
    if small is not large:
        growth = large.runs / small.runs
        for name in large.reads:
            if name == FLOOR:
                continue
            before, after = small.rows_read(name).median, large.rows_read(name).median
            exponent = math.log(max(after, 1.0) / max(before, 1.0)) / math.log(growth)
            out.append(at_most(SECTION, f"growth of D1 rows read by {name}, {small.runs:,} → {large.runs:,} runs "
                               "(exponent e of rows ∝ runs^e)", exponent, MAX_READS_EXPONENT,
                               why=f"{before:,.0f} → {after:,.0f} rows per call while the runs grew {growth:,.0f}x: "
                                   "the route's cost grows with the table"))
    return out
