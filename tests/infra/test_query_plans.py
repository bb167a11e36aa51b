"""Every query the backend sends is a seek: `tests/infra/query_plans.mjs` runs the Worker's own functions (the
run list with every combination of filters and a cursor, one run's writes and reads, the ops summary for each
kind of window, the sweeper) against a local D1 database in workerd and plans each statement with the very
parameters the Worker bound. A plan fails on a SCAN of a table or a temporary B-tree, except where no index can
do better and the rows are bounded otherwise (named below, with why). Planned on a freshly migrated database
and on a seeded one whose statistics (`PRAGMA optimize`) could tempt the planner elsewhere."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.seed import seed
from infra.d1.executors import LocalD1Executor
from infra.d1.migrations import MigrationRunner, discover
from infra.model.settings import REPO_ROOT

from .d1_support import LOCAL_DATABASE

SCRIPT = Path(__file__).parent / "query_plans.mjs"
TABLES = ("runs", "run_events", "run_assets", "run_rollups")
# Sorts no index can spare, each over rows bounded by something other than the number of runs.
SORTS_ALLOWED = {
    "FROM run_rollups": "grouping the window's cells (at most one per interval, mode, status and error code)",
    "sweep abandoned runs": "ordering the sync runs still in progress by when they last changed",
}


def planned(persist: Path) -> dict[str, Any]:
    """`{statements: [{shape, sql, params, plan}], reads: {shape: rows read}}` of the backend's queries."""
    done = subprocess.run(["node", str(SCRIPT), str(persist), LOCAL_DATABASE], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def problems(statement: dict[str, Any]) -> list[str]:
    """Plan steps that read a table without an index or sort outside one (the module's rule)."""
    out = []
    for step in statement["plan"]:
        scanned = re.match(r"SCAN (\w+)", step)
        if scanned and scanned.group(1) in TABLES and not (
            statement["shape"] == "list runs: unfiltered" and step == "SCAN runs USING INDEX runs_created"
        ):  # the unfiltered list walks its index from the newest end, LIMIT rows
            out.append(step)
        if "TEMP B-TREE" in step and not any(
            allowed in statement["sql"] or allowed == statement["shape"] for allowed in SORTS_ALLOWED
        ):
            out.append(step)
    return out


def expected_index(shape: str) -> str:
    """The index a run-list shape must seek (a pattern): the most selective filter's; with both request ids,
    either one's (each names a request, both equalities seek)."""
    filters = shape.removeprefix("list runs: ").split("+")
    ids = [name for name in ("request_id", "client_request_id") if name in filters]
    if ids:
        return "runs_(client_)?request_id" if len(ids) == 2 else f"runs_{ids[0]}"
    return "runs_status_created" if "status" in filters else "runs_created"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    persist = tmp_path_factory.mktemp("plans-empty")
    MigrationRunner(LocalD1Executor(persist, LOCAL_DATABASE), discover()).apply()
    return planned(persist)["statements"]


@pytest.fixture(scope="module")
def by_size(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Any]]:
    """The same traffic (1,000 runs a day) for 3 days and for 30: a table ten times the size."""
    found = {}
    for runs, days in ((3_000, 3), (30_000, 30)):
        persist = tmp_path_factory.mktemp(f"plans-{runs}")
        seed(runs, days=days, persist_to=persist)
        found[runs] = planned(persist)
    return found


@pytest.fixture(scope="module")
def seeded(by_size: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    return by_size[30_000]["statements"]


def test_the_rule_catches_a_scan_and_a_sort() -> None:
    scan = {"shape": "x", "sql": "SELECT * FROM runs WHERE model = ?", "plan": ["SCAN runs"]}
    sort = {"shape": "x", "sql": "SELECT * FROM runs WHERE status = ? ORDER BY updated_at",
            "plan": ["SEARCH runs USING INDEX runs_status_created (status=?)", "USE TEMP B-TREE FOR ORDER BY"]}
    assert problems(scan) == ["SCAN runs"] and problems(sort) == ["USE TEMP B-TREE FOR ORDER BY"]
    walk = {"shape": "list runs: status", "sql": "", "plan": ["SCAN runs USING INDEX runs_created"]}
    assert problems(walk) == ["SCAN runs USING INDEX runs_created"]


@pytest.mark.parametrize("database", ["migrated", "seeded"])
def test_every_statement_the_backend_sends_seeks(database: str, request: pytest.FixtureRequest) -> None:
    statements = request.getfixturevalue(database)
    assert len({s["shape"] for s in statements}) >= 77  # 65 list shapes, the run's life, 5 windows, the sweep
    bad = [(s["shape"], s["sql"].split()[:6], problems(s)) for s in statements if problems(s)]
    assert bad == [], bad


@pytest.mark.parametrize("database", ["migrated", "seeded"])
def test_every_run_list_seeks_its_filters_index_and_the_cursor(database: str, request: pytest.FixtureRequest) -> None:
    listing = [s for s in request.getfixturevalue(database) if s["shape"].startswith("list runs: ")]
    assert len(listing) == 2**5 * 2 + 1
    for statement in listing:
        shape, [step] = statement["shape"], statement["plan"]
        assert re.search(rf"USING (COVERING )?INDEX {expected_index(shape)}\b", step), (shape, step)
        if shape.endswith("+cursor") or shape == "list runs: cursor":
            assert "(created_at,id)<(?,?)" in step, (shape, step)
    [early] = [s for s in listing if s["shape"] == "list runs: until before the cursor"]
    assert early["plan"] == ["SEARCH runs USING INDEX runs_created (created_at<?)"]
    assert len(early["params"]) == 2  # until and the limit: the looser cursor is not sent


def test_a_status_change_touches_one_run_and_its_cells(migrated: list[dict[str, Any]]) -> None:
    change = [s for s in migrated if s["shape"] == "a transition"]
    assert [s["sql"].split()[0] for s in change] == ["INSERT", "INSERT", "UPDATE", "INSERT"]
    for statement in change:
        searches = [step for step in statement["plan"] if step.startswith("SEARCH")]
        assert searches and all("sqlite_autoindex_runs_1 (id=?)" in step for step in searches), statement["plan"]


def test_the_purge_looks_up_by_id_the_runs_it_listed(seeded: list[dict[str, Any]]) -> None:
    """Its deletes name at most a batch of ids; reaching them through the (status, created_at) index would walk
    every run that is due, all of them on the first day a retention applies to a large database."""
    deletes = [s for s in seeded if s["shape"].startswith("purge") and s["sql"].startswith("DELETE FROM run")
               and "json_each" in s["sql"]]
    assert len(deletes) >= 3
    for statement in deletes:
        runs = [step for step in statement["plan"] if re.match(r"SEARCH (runs|r) ", step)]
        assert runs and all("sqlite_autoindex_runs_1 (id=?)" in step for step in runs), statement["plan"]


def test_what_a_query_reads_does_not_grow_with_the_table(by_size: dict[int, dict[str, Any]]) -> None:
    """Ten times the history at the same traffic: a list page, a run, a write read as many rows as before (D1's
    own rows_read), the purge at most its batch limit (retention.js), and the ops summary reads as many cells for
    the same window, while 30 days cost a few times what one day does."""
    small, large = by_size[3_000]["reads"], by_size[30_000]["reads"]
    assert small.keys() == large.keys()
    for shape, rows in large.items():
        if shape.startswith("ops summary"):
            continue
        if shape.startswith("purge"):  # both databases have more runs due than a tick deletes
            assert rows <= 1.5 * small[shape], (shape, small[shape], rows)
        else:
            assert rows <= small[shape] + 2, (shape, small[shape], rows)
    for window in ("1h", "6h", "24h"):
        shape = f"ops summary {window}"
        assert large[shape] <= 1.5 * small[shape] + 50, (shape, small[shape], large[shape])
    # Thirty days of day cells, each holding more kinds of run than an hour cell; thirty days of hours would be 30x.
    month, day = large["ops summary 30d"], large["ops summary 24h"]
    assert month <= 5 * day, (month, day)
