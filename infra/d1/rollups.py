"""The run rollups of migration 0003 from Python: their differences from a recount of the raw rows, and the
statement that adds a set of runs' cells (what the Worker does when a run is created, for the seeder).

The columns are read from the database itself (`PRAGMA table_info`), so this module never restates the
histogram the migration declares.
"""

from __future__ import annotations

from infra.d1.executors import D1Executor, Row

ROLLUPS = "run_rollups"
RECOUNT = "run_rollup_recount"
CELLS = "run_cells"


def columns(executor: D1Executor) -> tuple[list[str], list[str]]:
    """(key columns, measure columns) of `run_rollups`, in table order."""
    info = executor.query(f"PRAGMA table_info({ROLLUPS})")
    if not info:
        raise ValueError(f"read rollups failed: {executor.description} has no table {ROLLUPS}; apply the migrations")
    keys = [r["name"] for r in sorted((r for r in info if r["pk"]), key=lambda r: r["pk"])]
    return keys, [r["name"] for r in info if not r["pk"]]


def differences(executor: D1Executor, since_bucket: int = 0) -> list[Row]:
    """Cells (from `since_bucket`, unix seconds) where the rollups and a recount of the raw rows disagree, with
    rollups minus recount per measure; empty when they agree. Cells of runs the retention purge removed (or older
    than a grain's retention) differ by design: pass a `since_bucket` after them."""
    keys, measures = columns(executor)
    key_list = ", ".join(keys)
    negated = ", ".join(f"-{m}" for m in measures)
    differs = " OR ".join(f"SUM({m}) <> 0" for m in measures)
    since = int(since_bucket)  # a literal: the view's bucket is an expression, without INTEGER affinity for a text ?
    sql = (f"SELECT {key_list}, {', '.join(f'SUM({m}) AS {m}' for m in measures)} FROM ("
           f"SELECT * FROM {ROLLUPS} WHERE bucket >= {since} UNION ALL "
           f"SELECT {key_list}, {negated} FROM {RECOUNT} WHERE bucket >= {since}) "
           f"GROUP BY {key_list} HAVING {differs} ORDER BY {key_list}")
    return executor.query(sql)


def add_cells_sql(keys: list[str], measures: list[str], run_filter: str) -> str:
    """`INSERT … ON CONFLICT DO UPDATE` adding the cells of the runs `run_filter` (SQL on `run_cells`) selects,
    summed per cell first: the Worker's own statement for one run (worker_src/backend/rollups.js), for many."""
    key_list = ", ".join(keys)
    sums = ", ".join(f"SUM({m})" for m in measures)
    updates = ", ".join(f"{m} = {m} + excluded.{m}" for m in measures)
    return (f"INSERT INTO {ROLLUPS} ({key_list}, {', '.join(measures)}) "
            f"SELECT {key_list}, {sums} FROM {CELLS} WHERE {run_filter} GROUP BY {key_list} "
            f"ON CONFLICT ({key_list}) DO UPDATE SET {updates}")


__all__ = ["CELLS", "RECOUNT", "ROLLUPS", "add_cells_sql", "columns", "differences"]
