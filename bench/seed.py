"""`python -m bench.seed --runs N`: write N realistic runs into the local D1 database, through the real migrations.

What the metadata benchmarks (and anyone who wants to look at `/ops` with a month of data) start from. The
runs look like what the Worker writes: sync and async modes, the outcome mix and error codes of a busy stack,
request → end times around qwen-image-plus' 20-29 s, polls, retries and queue waits on async runs, the status,
`job_sent`, `task_polled` and `attempt_failed` events with the Worker's detail fields, one asset row per
succeeded run, and their rollup cells, added per chunk with the statement the Worker uses for one run, so the
rollups equal a recount of the raw rows. Created times spread evenly over `--days` up to now; a fixed
`--seed` gives the same database.

The file is the one `wrangler dev --persist-to DIR` (and `make dev`, DIR `.local/state`) opens; rows go in
through Python's sqlite3 in one transaction per chunk, about a minute per million runs on a laptop-class core.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from infra.d1 import rollups
from infra.d1.executors import PERSIST_SUBDIR, LocalD1Executor, local_state_dir
from infra.d1.migrations import MigrationRunner, discover
from infra.model.naming import Role, physical_name
from infra.model.settings import load_settings

CHUNK = 20_000
WORDS = ("a red fox", "reading a newspaper", "watercolor", "lighthouse", "in a storm", "ink drawing", "neon city",
         "at dusk", "portrait of", "an old sailor", "isometric", "tiny village", "oil painting", "of a cat",
         "wearing a hat", "cinematic light", "misty forest", "low poly", "mountain lake", "studio photo")
SIZES = ("1664*928", "1472*1104", "1328*1328", "1104*1472", "928*1664")
# (weight, status, error_code, stage) of ended runs per mode; what a busy stack's month looks like.
SYNC_OUTCOMES = ((930, "succeeded", None, None), (15, "failed", "DataInspectionFailed", "upstream"),
                 (10, "failed", "InvalidParameter", "upstream"), (20, "failed", "Throttling.RateQuota", "upstream"),
                 (10, "failed", "upstream_timeout", "upstream"), (10, "failed", "result_truncated", "download"),
                 (5, "failed", "abandoned", "sweep"))
ASYNC_OUTCOMES = ((950, "succeeded", None, None), (15, "failed", "DataInspectionFailed", "task"),
                  (10, "failed", "InvalidParameter", "submit"), (5, "failed", "task_timeout", "poll"),
                  (10, "dead_lettered", "InternalError", None), (10, "failed", "result_truncated", "download"))
ACTIVE_SECONDS = 60  # runs created in the last minute may still be in progress
RUN_COLUMNS = ("id", "request_id", "idempotency_key", "request_hash", "provider", "model", "provider_request_id",
               "provider_task_id", "status", "prompt", "parameters", "error_code", "error_message", "attempts",
               "created_at", "updated_at", "completed_at", "job_seq", "polls", "mode", "retries", "queue_wait_ms",
               "task_ms")
EVENT_COLUMNS = ("run_id", "at", "type", "from_status", "to_status", "detail")
ASSET_COLUMNS = ("run_id", "idx", "r2_key", "sha256", "bytes", "content_type", "source_host", "created_at")


@dataclass(frozen=True)
class SeedReport:
    runs: int
    events: int
    assets: int
    seconds: float
    database: Path

    @property
    def megabytes(self) -> float:
        return self.database.stat().st_size / 1e6


def iso(ms: int) -> str:
    """Milliseconds since the epoch as the Worker writes times (`2026-01-02T03:04:05.678Z`)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class _Runs:
    """Generates runs with their events and assets, deterministic in the seed."""

    def __init__(self, rng: random.Random, model: str, async_share: float) -> None:
        self.rng = rng
        self.model = model
        self.async_share = async_share
        self._outcomes = {mode: ([w for w, *_ in table], [o for _, *o in table])
                          for mode, table in (("sync", SYNC_OUTCOMES), ("async", ASYNC_OUTCOMES))}

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def one(self, created: int, now: int) -> tuple[tuple, list[tuple], list[tuple]]:
        rng = self.rng
        mode = "async" if rng.random() < self.async_share else "sync"
        weights, outcomes = self._outcomes[mode]
        status, code, stage = rng.choices(outcomes, weights)[0]
        run_id, request_id = self.uid(), self.uid()
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30)))
        parameters = {"size": rng.choice(SIZES), "seed": rng.randint(0, 2**31 - 1)}
        queue_wait = rng.randint(300, 3000) if mode == "async" else None
        task = round(rng.uniform(20_000, 29_000) if mode == "async" else rng.gauss(18_000, 4_000))
        task = max(task, 2_000)
        polls = 1 + (rng.random() < 0.3) + (rng.random() < 0.05) if mode == "async" else 0
        retries = rng.choice((1, 1, 2)) if mode == "async" and rng.random() < 0.05 else 0
        if status == "dead_lettered":
            retries, polls, task = 3, 0, None
        latency = (queue_wait or 0) + (task or 0) + rng.randint(200, 4000 if mode == "async" else 1500)
        active = created > now - ACTIVE_SECONDS * 1000 and rng.random() < 0.5
        if active:
            status, code, stage = ("submitted" if mode == "async" else "running", None, None)
        elif created + latency > now:
            latency = now - created
        ended = None if active else created + latency
        events: list[tuple] = []
        at = iso(created)
        first = "queued" if mode == "async" else "running"
        events.append((run_id, at, "status", None, first, json.dumps({"request_id": request_id})))
        task_id = self.uid() if mode == "async" and status != "dead_lettered" and stage != "submit" else None
        if mode == "async":
            events.append((run_id, at, "job_sent", None, None, json.dumps(
                {"seq": 0, "reason": "created", "request_id": request_id})))
            for attempt in range(1, retries + 1):
                events.append((run_id, at, "attempt_failed", None, None, json.dumps(
                    {"stage": "submit", "code": "InternalError", "message": "upstream error", "http_status": 500,
                     "attempt": attempt, "max_attempts": 4, "retry_in_seconds": 2 ** attempt})))
            if task_id:
                submitted = iso(created + (queue_wait or 0))
                events.append((run_id, submitted, "status", "queued", "submitted", json.dumps(
                    {"task_id": task_id, "provider_request_id": self.uid(), "duration_ms": rng.randint(80, 400)})))
                for poll in range(1, polls + 1):
                    task_status = "SUCCEEDED" if poll == polls and status == "succeeded" else "RUNNING"
                    events.append((run_id, submitted, "task_polled", None, None,
                                   json.dumps({"poll": poll, "task_status": task_status})))
        last = "submitted" if task_id else first
        end_at = iso(ended) if ended else at
        if status == "succeeded":
            events.append((run_id, end_at, "status", last, "persisting", json.dumps(
                {"images": 1, "duration_ms": task, **({"polls": polls} if mode == "async" else {})})))
            last = "persisting"
        if ended:
            detail = {"code": code, "stage": stage} if code else {"images": 1, "bytes": 0, "duration_ms": 400}
            events.append((run_id, end_at, "status", last, status, json.dumps(detail)))
        assets = []
        if status == "succeeded":
            size = rng.randint(1_200_000, 2_600_000)
            key = f"generated/{at[:4]}/{at[5:7]}/{at[8:10]}/{run_id}/0.png"
            assets.append((run_id, 0, key, f"{rng.getrandbits(256):064x}", size, "image/png",
                           "dashscope-result-sgp.oss-ap-southeast-1.aliyuncs.com", end_at))
        row = (run_id, request_id, self.uid() if rng.random() < 0.3 else None, f"{rng.getrandbits(256):064x}",
               "dashscope", self.model, self.uid(), task_id, status, prompt, json.dumps(parameters), code,
               f"{code}: seeded failure" if code else None, 0 if status == "dead_lettered" else 1, at,
               end_at, iso(ended) if ended else None, polls + 1 if mode == "async" else 0, polls, mode, retries,
               queue_wait if task_id else None, task if status == "succeeded" else None)
        return row, events, assets


def _chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(size, total - start)


def seed(runs: int, *, days: float = 30.0, persist_to: Path | None = None, async_share: float = 0.5,
         rng_seed: int = 1, now_ms: int | None = None) -> SeedReport:
    """Apply the migrations to the local stack's database under `persist_to` (default: the `make dev` state),
    then add `runs` runs."""
    if runs < 1 or days <= 0 or not 0 <= async_share <= 1:
        raise ValueError("seed runs failed: --runs must be at least 1, --days positive, --async-share in 0..1")
    settings = load_settings("local")
    persist_to = persist_to or local_state_dir() / PERSIST_SUBDIR
    executor = LocalD1Executor(persist_to, physical_name(settings, Role.METADATA))
    MigrationRunner(executor, discover()).apply()
    keys, measures = rollups.columns(executor)
    add_cells = rollups.add_cells_sql(keys, measures, "run_id IN (SELECT value FROM json_each(?))")
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    span = int(days * 86_400_000)
    generator = _Runs(random.Random(rng_seed), settings.upstream.model, async_share)
    started = time.monotonic()
    events = assets = 0
    conn = sqlite3.connect(executor.path, isolation_level=None, timeout=60)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB: the indexes of a million runs stay in memory
        insert_run = f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})"
        insert_event = (f"INSERT INTO run_events ({', '.join(EVENT_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})")
        insert_asset = (f"INSERT INTO run_assets ({', '.join(ASSET_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(ASSET_COLUMNS))})")
        for start, count in _chunks(runs, CHUNK):
            rows, chunk_events, chunk_assets = [], [], []
            for i in range(start, start + count):
                row, run_events, run_assets = generator.one(now - span + span * i // runs, now)
                rows.append(row)
                chunk_events += run_events
                chunk_assets += run_assets
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(insert_run, rows)
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                raise ValueError(f"seed runs failed: {executor.description} already holds the runs of seed "
                                 f"{rng_seed}; pass another --seed to add more") from None
            conn.executemany(insert_event, chunk_events)
            conn.executemany(insert_asset, chunk_assets)
            conn.execute(add_cells, (json.dumps([r[0] for r in rows]),))
            conn.execute("COMMIT")
            events += len(chunk_events)
            assets += len(chunk_assets)
        conn.execute("PRAGMA optimize")
    finally:
        conn.close()
    return SeedReport(runs, events, assets, time.monotonic() - started, executor.path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, required=True, help="how many runs to add")
    parser.add_argument("--days", type=float, default=30.0, help="created times spread over this many days up to now")
    parser.add_argument("--async-share", type=float, default=0.5, help="share of async runs, 0..1")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same runs)")
    parser.add_argument("--persist-to", type=Path,
                        help="wrangler --persist-to folder (default: the make dev state, .local/state)")
    args = parser.parse_args(argv)
    try:
        report = seed(args.runs, days=args.days, persist_to=args.persist_to, async_share=args.async_share,
                      rng_seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"seeded {report.runs} runs, {report.events} events, {report.assets} assets in {report.seconds:.1f} s "
          f"into {report.database} ({report.megabytes:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
