"""The seeding command writes runs the way the Worker would leave them: through the real migrations, with
rollups equal to a recount of the raw rows, every mode and ending, and the same database for the same seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.seed import main, seed
from infra.d1 import rollups
from infra.d1.executors import LocalD1Executor
from infra.d1.migrations import discover
from tests.infra.d1_support import LOCAL_DATABASE

NOW_MS = 1_767_323_045_678  # 2026-01-02T03:04:05.678Z


def test_seeded_runs_have_their_events_assets_and_rollups(tmp_path: Path) -> None:
    report = seed(3_000, days=2, persist_to=tmp_path, now_ms=NOW_MS)
    db = LocalD1Executor(tmp_path, LOCAL_DATABASE)
    [counts] = db.query("SELECT (SELECT COUNT(*) FROM runs) AS runs, (SELECT COUNT(*) FROM run_events) AS events, "
                        "(SELECT COUNT(*) FROM run_assets) AS assets, "
                        "(SELECT COUNT(*) FROM d1_migrations) AS migrations")
    assert counts == {"runs": 3_000, "events": report.events, "assets": report.assets,
                      "migrations": len(discover())}
    assert rollups.differences(db) == []
    kinds = {(r["mode"], r["status"]) for r in db.query("SELECT DISTINCT mode, status FROM runs")}
    assert {("sync", "succeeded"), ("sync", "failed"), ("async", "succeeded"), ("async", "failed"),
            ("async", "dead_lettered")} <= kinds
    [span] = db.query("SELECT MIN(created_at) AS first, MAX(created_at) AS last FROM runs")
    assert span["first"] >= "2025-12-31T03:04:05.678Z" and span["last"] <= "2026-01-02T03:04:05.678Z"
    assert db.query("SELECT COUNT(*) AS n FROM runs WHERE status = 'succeeded' AND id NOT IN "
                    "(SELECT run_id FROM run_assets)") == [{"n": 0}]
    assert 4 <= report.events / report.runs <= 7


def test_the_same_seed_writes_the_same_runs_and_a_second_seeding_adds_to_them(tmp_path: Path) -> None:
    ids = []
    for folder in ("a", "b"):
        seed(200, persist_to=tmp_path / folder, now_ms=NOW_MS)
        ids.append([r["id"] for r in LocalD1Executor(tmp_path / folder, LOCAL_DATABASE).query(
            "SELECT id FROM runs ORDER BY id")])
    assert ids[0] == ids[1]
    with pytest.raises(ValueError, match="already holds the runs of seed 1; pass another --seed to add more"):
        seed(100, persist_to=tmp_path / "a", now_ms=NOW_MS)
    seed(100, persist_to=tmp_path / "a", now_ms=NOW_MS, rng_seed=2)
    db = LocalD1Executor(tmp_path / "a", LOCAL_DATABASE)
    assert db.query("SELECT COUNT(*) AS n FROM runs") == [{"n": 300}]
    assert rollups.differences(db) == []


def test_a_bad_count_is_refused_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--runs", "0", "--persist-to", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "error: seed runs failed: --runs must be at least 1, --days positive, --async-share in 0..1\n")
