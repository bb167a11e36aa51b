"""`python -m infra`: offline plan and stack diff, D1 migrations, and support queries over workflow runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pulumi
from rich.console import Console
from rich.table import Table

from infra.admin_api import MAX_LIMIT, STATUSES, AdminClient, RunFilters, parse_time, print_run, print_runs
from infra.bindings import Secret
from infra.d1 import executor_for
from infra.diff import diff_plans
from infra.errors import InfraError, SettingsError
from infra.migrations import MigrationRunner, discover
from infra.plan import run_plan
from infra.render import print_plan
from infra.settings import StackSettings, known_stacks, load_settings


def _plan(args: argparse.Namespace, console: Console) -> int:
    plan = run_plan(args.stack)
    if args.json:
        print(json.dumps(plan.to_json(), indent=2))
    else:
        print_plan(plan, console)
    return 0


def _diff(args: argparse.Namespace, console: Console) -> int:
    differences = diff_plans(run_plan(args.left), run_plan(args.right))
    if args.json:
        print(json.dumps([asdict(d) for d in differences], indent=2))
        return 0
    table = Table(title=f"{args.left} vs {args.right}: {len(differences)} differences")
    for column in ("resource", "field", args.left, args.right):
        table.add_column(column)
    for d in differences:
        table.add_row(d.resource, d.field, json.dumps(d.left), json.dumps(d.right))
    console.print(table)
    return 0


def _migrate(args: argparse.Namespace, console: Console) -> int:
    executor = executor_for(load_settings(args.stack), args.persist_to, args.database_id)
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


def _admin(args: argparse.Namespace, action: str) -> AdminClient:
    """Base URL: --base-url, else the local system's port or the stack's public URL; token: --token-file or
    ADMIN_TOKEN."""
    settings: StackSettings = load_settings(args.stack)
    local = settings.environment == "local"
    base_url = args.base_url or (f"http://127.0.0.1:{os.environ.get('PORT', '8787')}" if local
                                 else settings.public_base_url)
    token = args.token_file.read_text().strip() if args.token_file else os.environ.get("ADMIN_TOKEN", "")
    if not token:
        hint = "the token `make dev` printed" if local else (
            f"export ADMIN_TOKEN=$(pulumi config get --stack {args.stack} {Secret.ADMIN_TOKEN.config_key})")
        raise SettingsError(f"{action} failed: no admin token; set ADMIN_TOKEN ({hint}) or pass --token-file")
    return AdminClient(base_url, token)


def _answer(args: argparse.Namespace, body: dict[str, Any], render: Callable[[dict[str, Any]], None]) -> int:
    """The admin API's JSON as is with `--json`, else the human view."""
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        render(body)
    return 0


def _runs_list(args: argparse.Namespace, console: Console) -> int:
    action = f"list runs of stack '{args.stack}'"
    filters = RunFilters(status=args.status, since=args.since, until=args.until, request_id=args.request_id,
                         limit=args.limit, cursor=args.cursor)
    return _answer(args, _admin(args, action).list_runs(filters, action), lambda body: print_runs(body, console))


def _runs_show(args: argparse.Namespace, console: Console) -> int:
    action = f"show run '{args.run_id}'"
    return _answer(args, _admin(args, action).get_run(args.run_id, action), lambda body: print_run(body, console))


def _runs_retry(args: argparse.Namespace, console: Console) -> int:
    action = f"retry run '{args.run_id}'"

    def render(body: dict[str, Any]) -> None:
        run = body["run"]
        console.print(f"run {run['id']} re-driven: now {run['status']}; follow it with "
                      f"`python -m infra runs show --stack {args.stack} {run['id']}`")

    return _answer(args, _admin(args, action).retry_run(args.run_id, action), render)


def _time(value: str) -> str:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to {MAX_LIMIT}")
    return int(value)


def _add_runs(commands: argparse._SubParsersAction, stacks: list[str]) -> None:
    runs = commands.add_parser("runs", help="workflow runs, read through the deployed admin API")
    actions = runs.add_subparsers(dest="runs_command", required=True)

    def admin_command(name: str, help: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help)
        parser.add_argument("--stack", required=True, choices=stacks)
        parser.add_argument("--base-url", help="default: the stack's public_base_url; local: 127.0.0.1:$PORT")
        parser.add_argument("--token-file", type=Path, help="file holding the admin token (default: $ADMIN_TOKEN)")
        parser.add_argument("--json", action="store_true", help="the API's JSON as is")
        return parser

    listing = admin_command("list", "runs, newest first, filtered")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--since", type=_time, help="24h, 30m, 7d (ago) or an ISO 8601 time")
    listing.add_argument("--until", type=_time, help="same forms as --since; exclusive")
    listing.add_argument("--request-id", help="the X-Request-Id the run was created under")
    listing.add_argument("--limit", type=_limit, help=f"1..{MAX_LIMIT} (API default 20)")
    listing.add_argument("--cursor", help="next page, as printed after the table")
    listing.set_defaults(run=_runs_list)

    show = admin_command("show", "one run with its images and events")
    show.add_argument("run_id")
    show.set_defaults(run=_runs_show)

    retry = admin_command("retry", "re-drive a failed or dead-lettered run (async stacks)")
    retry.add_argument("run_id")
    retry.set_defaults(run=_runs_retry)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    stacks = known_stacks()

    plan = commands.add_parser("plan", help="every resource a stack declares, evaluated offline under mocks")
    plan.add_argument("--stack", required=True, choices=stacks)
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.set_defaults(run=_plan)

    diff = commands.add_parser("diff", help="what differs between two stacks' plans")
    diff.add_argument("left", choices=stacks)
    diff.add_argument("right", choices=stacks)
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(run=_diff)

    migrate = commands.add_parser("migrate", help="apply pending D1 migrations (what `pulumi up` does)")
    migrate.add_argument("--stack", required=True, choices=stacks)
    migrate.add_argument("--dry-run", action="store_true", help="list pending migrations, apply nothing")
    migrate.add_argument("--persist-to", type=Path, help="local stack: wrangler's --persist-to (default .local/state)")
    migrate.add_argument("--database-id", help="deployed stacks: skip looking the database up by name")
    migrate.set_defaults(run=_migrate)

    _add_runs(commands, stacks)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Values such as "[secret]" are data, never rich markup.
    console = Console(markup=False, highlight=False, width=None if sys.stdout.isatty() else 200)
    try:
        return args.run(args, console)
    except (InfraError, pulumi.RunError) as exc:
        # soft_wrap: an error line stays one line, whatever the terminal's width.
        Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
        return 2
