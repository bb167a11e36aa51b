"""The rollup schema of migrations 0003 and 0005 against the real SQLite file the local D1 uses: the Worker's idea
of the columns is the table's, `run_cells` puts each run where its definition says, a recount finds a tampered
cell, and migrating a database that already holds runs leaves rollups equal to their recount."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from infra.d1 import rollups
from infra.d1.executors import LocalD1Executor
from infra.d1.migrations import MigrationRunner, discover
from infra.model.bindings import MIGRATIONS_DIR
from infra.model.settings import REPO_ROOT

from .d1_support import LOCAL_DATABASE

HOUR = 3600
DAY = 86400
CREATED = "2026-03-04T05:06:07.000Z"
CREATED_S = 1772600767  # CREATED as unix seconds


def worker_rollups() -> dict:
    """What worker_src/backend/rollups.js exports, read by Node itself."""
    script = ("import('./worker_src/backend/rollups.js').then((m) => console.log(JSON.stringify("
              "{measures: m.MEASURES, bounds: m.LATENCY_BOUNDS_MS, task_bounds: m.TASK_BOUNDS_MS, grains: m.GRAIN})))")
    done = subprocess.run(["node", "-e", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.fixture
def db(tmp_path: Path) -> LocalD1Executor:
    executor = LocalD1Executor(tmp_path / "state", LOCAL_DATABASE)
    MigrationRunner(executor, discover()).apply()
    return executor


def insert_run(db: LocalD1Executor, run_id: str, status: str, *, completed_ms: int | None = None,
               mode: str = "sync", error_code: str | None = None, polls: int = 0, retries: int = 0,
               task_ms: int | None = None, task_near_budget: int | None = None, download_ms: int | None = None,
               download_near_budget: int | None = None, image_bytes: int | None = None) -> None:
    """A run created at CREATED, ended `completed_ms` later (if it ended), written as raw SQL."""
    completed = None if completed_ms is None else (
        datetime.fromisoformat(CREATED) + timedelta(milliseconds=completed_ms)).isoformat(timespec="milliseconds")
    db.query(
        "INSERT INTO runs (id, request_id, request_hash, provider, model, status, prompt, parameters, attempts, "
        "created_at, updated_at, completed_at, mode, error_code, polls, retries, task_ms, task_near_budget, "
        "download_ms, download_near_budget, image_bytes) "
        "VALUES (?, 'req', 'h', 'dashscope', 'm', ?, 'p', '{}', 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, status, CREATED, CREATED, completed and completed.replace("+00:00", "Z"), mode, error_code,
         polls, retries, task_ms, task_near_budget, download_ms, download_near_budget,
         image_bytes],  # type: ignore[list-item]
    )


def test_the_workers_measures_are_the_tables_columns_in_order(db: LocalD1Executor) -> None:
    keys, measures = rollups.columns(db)
    worker = worker_rollups()
    assert keys == ["grain", "bucket", "mode", "status", "error_code"]
    assert measures == worker["measures"]
    assert [m for m in measures if m.startswith("lat_le_")] == [f"lat_le_{ms}" for ms in worker["bounds"]]
    assert [m for m in measures if m.startswith("task_le_")] == [f"task_le_{ms}" for ms in worker["task_bounds"]]
    assert worker["bounds"] == sorted(set(worker["bounds"]))
    assert worker["task_bounds"] == sorted(set(worker["task_bounds"])) and set(worker["task_bounds"]) <= set(
        worker["bounds"])
    assert sorted(worker["grains"].values()) == [60, HOUR, DAY]


def test_every_table_stays_within_d1s_100_columns(db: LocalD1Executor) -> None:
    """D1 refuses a table of more than 100 columns; the local SQLite would not."""
    tables = [r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    widths = {t: len(db.query(f"PRAGMA table_info({t})")) for t in tables}
    assert widths["run_rollups"] == 86 and max(widths.values()) <= 100, widths


def test_the_task_histogram_counts_only_runs_timed_against_a_budget(db: LocalD1Executor) -> None:
    """Runs that ended before 0005 carry a task time but no budget flag: they stay out of the new measures."""
    bounds = worker_rollups()["task_bounds"]
    timed = [(bounds[0], 0), (bounds[0] + 1, 0), (bounds[9], 1), (bounds[-1] + 1, 1)]
    for i, (ms, near) in enumerate(timed):
        insert_run(db, f"t{i}", "succeeded", completed_ms=ms + 500, task_ms=ms, task_near_budget=near,
                   download_ms=400 + i, download_near_budget=int(i == 3), image_bytes=1000 * (i + 1))
    insert_run(db, "old", "succeeded", completed_ms=9000, task_ms=8000)
    insert_run(db, "open", "running", task_ms=1000, task_near_budget=1, download_ms=5, image_bytes=7)
    [recount] = db.query("SELECT * FROM run_rollup_recount WHERE grain = 3600 AND status = 'succeeded'")
    assert (recount["task_runs"], recount["timed_runs"], recount["task_near_budget"]) == (5, 4, 2)
    assert [recount[f"task_le_{b}"] for b in bounds] == [sum(ms <= b for ms, _ in timed) for b in bounds]
    assert (recount["download_runs"], recount["download_ms"], recount["download_near_budget"],
            recount["image_bytes"]) == (4, 400 + 401 + 402 + 403, 1, 10_000)
    [active] = db.query("SELECT timed_runs, task_near_budget, download_runs, image_bytes FROM run_rollup_recount "
                        "WHERE grain = 3600 AND status = 'running'")
    assert active == {"timed_runs": 0, "task_near_budget": 0, "download_runs": 0, "image_bytes": 0}


def test_a_run_has_one_cell_per_grain_in_the_interval_it_was_created(db: LocalD1Executor) -> None:
    insert_run(db, "r1", "running")
    cells = db.query("SELECT grain, bucket, mode, status, error_code, runs, latency_ms, lat_le_86400000 "
                     "FROM run_cells WHERE run_id = 'r1' ORDER BY grain")
    assert cells == [
        {"grain": 60, "bucket": CREATED_S // 60 * 60, "mode": "sync", "status": "running", "error_code": "",
         "runs": 1, "latency_ms": 0, "lat_le_86400000": 0},
        {"grain": HOUR, "bucket": CREATED_S // HOUR * HOUR, "mode": "sync", "status": "running", "error_code": "",
         "runs": 1, "latency_ms": 0, "lat_le_86400000": 0},
        {"grain": DAY, "bucket": CREATED_S // DAY * DAY, "mode": "sync", "status": "running", "error_code": "",
         "runs": 1, "latency_ms": 0, "lat_le_86400000": 0},
    ]


def test_the_histogram_counts_a_latency_in_every_bound_at_or_above_it(db: LocalD1Executor) -> None:
    bounds = worker_rollups()["bounds"]
    latencies = [0, bounds[0], bounds[0] + 1, bounds[20], bounds[20] + 1, bounds[-1], bounds[-1] + 1]
    for i, ms in enumerate(latencies):
        insert_run(db, f"r{i}", "succeeded", completed_ms=ms, polls=2, retries=1)
    [recount] = db.query("SELECT * FROM run_rollup_recount WHERE grain = 3600")
    assert recount["runs"] == len(latencies) and recount["polls"] == 2 * len(latencies)
    assert recount["retries"] == len(latencies) and recount["latency_ms"] == sum(latencies)
    assert [recount[f"lat_le_{b}"] for b in bounds] == [sum(ms <= b for ms in latencies) for b in bounds]


def test_active_runs_carry_no_terminal_measures(db: LocalD1Executor) -> None:
    insert_run(db, "r1", "submitted", mode="async", polls=3, retries=2)
    [cell] = db.query("SELECT polls, retries, latency_ms, queue_wait_runs FROM run_cells WHERE run_id = 'r1' "
                      "AND grain = 60")
    assert cell == {"polls": 0, "retries": 0, "latency_ms": 0, "queue_wait_runs": 0}


def test_differences_name_the_cell_and_by_how_much_it_is_off(db: LocalD1Executor) -> None:
    insert_run(db, "r1", "failed", completed_ms=1500, error_code="InternalError")
    keys, measures = rollups.columns(db)
    db.run_batch(rollups.add_cells_sql(keys, measures, "run_id = 'r1'"))
    assert rollups.differences(db) == []
    db.run_batch("UPDATE run_rollups SET runs = runs + 1 WHERE grain = 3600")
    [off] = rollups.differences(db)
    assert {k: off[k] for k in (*keys, "runs", "polls")} == {
        "grain": HOUR, "bucket": CREATED_S // HOUR * HOUR, "mode": "sync", "status": "failed",
        "error_code": "InternalError", "runs": 1, "polls": 0}
    assert rollups.differences(db, since_bucket=CREATED_S // HOUR * HOUR + HOUR) == []


def test_migrating_a_database_with_runs_fills_the_rollups_from_them(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for migration in discover()[:2]:
        shutil.copy(MIGRATIONS_DIR / migration.name, folder / migration.name)
    db = LocalD1Executor(tmp_path / "state", LOCAL_DATABASE)
    MigrationRunner(db, discover(folder)).apply()
    columns = "id, request_id, request_hash, provider, model, status, prompt, parameters, created_at, updated_at"
    db.run_batch(";\n".join([
        f"INSERT INTO runs ({columns}, completed_at) VALUES ('sync-1', 'q', 'h', 'dashscope', 'm', 'succeeded', "
        f"'p', '{{}}', '{CREATED}', '{CREATED}', '{CREATED}')",
        f"INSERT INTO runs ({columns}) VALUES ('async-1', 'q', 'h', 'dashscope', 'm', 'running', 'p', '{{}}', "
        f"'{CREATED}', '{CREATED}')",
        "INSERT INTO run_events (run_id, at, type, to_status) VALUES ('async-1', 'x', 'status', 'queued')",
        "INSERT INTO run_events (run_id, at, type) VALUES ('async-1', 'x', 'attempt_failed')",
    ]))
    MigrationRunner(db, discover()).apply()
    assert {r["id"]: (r["mode"], r["retries"]) for r in db.query("SELECT id, mode, retries FROM runs")} == {
        "sync-1": ("sync", 0), "async-1": ("async", 1)}
    assert rollups.differences(db) == []
    assert db.query("SELECT grain, mode, status, runs FROM run_rollups ORDER BY grain, mode") == [
        {"grain": 60, "mode": "async", "status": "running", "runs": 1},
        {"grain": 60, "mode": "sync", "status": "succeeded", "runs": 1},
        {"grain": HOUR, "mode": "async", "status": "running", "runs": 1},
        {"grain": HOUR, "mode": "sync", "status": "succeeded", "runs": 1},
        {"grain": DAY, "mode": "async", "status": "running", "runs": 1},
        {"grain": DAY, "mode": "sync", "status": "succeeded", "runs": 1},
    ]
