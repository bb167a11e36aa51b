"""`migrate`: apply pending D1 migrations to a stack's database (what `pulumi up` does), or list them."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from infra.d1.executors import executor_for
from infra.d1.migrations import MigrationRunner, discover
from infra.model.settings import load_settings


def _migrate(args: argparse.Namespace, console: Console) -> int:
    executor = executor_for(load_settings(args.stack), args.persist_to, args.database_id, read_only=args.dry_run)
    runner = MigrationRunner(executor, discover())
    status = runner.status()
    console.print(f"Migrations of {executor.description}")
    table = Table()
    table.add_column("migration")
    table.add_column("state")
    pending = {m.name for m in status.pending}
    for name in [*status.applied, *(m.name for m in status.pending)]:
        state = "pending" if name in pending else "applied" + (" (not in this checkout)" * (name in status.unknown))
        table.add_row(name, state)
    console.print(table)
    if args.dry_run:
        console.print(f"{len(status.pending)} pending; dry run: nothing applied")
        return 0
    outcome = runner.apply(on_applied=lambda m: console.print(f"applied {m.name}"))
    for name in outcome.adopted:
        console.print(f"recorded the checksum of {name} (applied without one, e.g. by wrangler)")
    console.print(f"{executor.description} is up to date: {len(outcome.applied)} applied now")
    return 0


def register(commands: argparse._SubParsersAction, stacks: list[str]) -> None:
    migrate = commands.add_parser("migrate", help="apply pending D1 migrations (what `pulumi up` does)")
    migrate.add_argument("--stack", required=True, choices=stacks)
    migrate.add_argument("--dry-run", action="store_true", help="list pending migrations, apply nothing")
    migrate.add_argument("--persist-to", type=Path, help="local stack: wrangler's --persist-to (default: where "
                         "`make dev` keeps it, $LOCAL_STATE_DIR/state or .local/state)")
    migrate.add_argument("--database-id", help="deployed stacks: skip looking the database up by name")
    migrate.set_defaults(run=_migrate)
