"""`runs list|show|retry`: support queries and re-drives over the deployed admin API."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from infra.cli.common import add_admin_arguments, admin_client, answer
from infra.model.contract import LIMITS, RunStatus
from infra.ops.admin_api import RunFilters, parse_time, print_run, print_runs


def _runs_list(args: argparse.Namespace, console: Console) -> int:
    action = f"list runs of stack '{args.stack}'"
    filters = RunFilters(status=args.status, since=args.since, until=args.until, request_id=args.request_id,
                         client_request_id=args.client_request_id, limit=args.limit, cursor=args.cursor)
    return answer(args, admin_client(args, action).list_runs(filters, action), lambda body: print_runs(body, console))


def _runs_show(args: argparse.Namespace, console: Console) -> int:
    action = f"show run '{args.run_id}'"
    return answer(args, admin_client(args, action).get_run(args.run_id, action),
                  lambda body: print_run(body, console))


def _runs_retry(args: argparse.Namespace, console: Console) -> int:
    action = f"retry run '{args.run_id}'"

    def render(body: dict[str, Any]) -> None:
        run = body["run"]
        console.print(f"run {run['id']} re-driven: now {run['status']}; follow it with "
                      f"`infra runs show --stack {args.stack} {run['id']}`")

    return answer(args, admin_client(args, action).retry_run(args.run_id, action), render)


def _time(value: str) -> str:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= LIMITS.list_max:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to {LIMITS.list_max}")
    return int(value)


def register(commands: argparse._SubParsersAction, stacks: list[str]) -> None:
    runs = commands.add_parser("runs", help="workflow runs, read through the deployed admin API")
    actions = runs.add_subparsers(dest="runs_command", required=True)

    def admin_command(name: str, help: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help)
        add_admin_arguments(parser, stacks)
        return parser

    listing = admin_command("list", "runs, newest first, filtered")
    listing.add_argument("--status", choices=tuple(RunStatus))
    listing.add_argument("--since", type=_time, help="24h, 30m, 7d (ago) or an ISO 8601 time")
    listing.add_argument("--until", type=_time, help="same forms as --since; exclusive")
    listing.add_argument("--request-id", help="the X-Request-Id the backend answered the creating request with")
    listing.add_argument("--client-request-id", help="the X-Request-Id the client sent with the creating request")
    listing.add_argument("--limit", type=_limit, help=f"1..{LIMITS.list_max} (API default {LIMITS.list_default})")
    listing.add_argument("--cursor", help="next page, as printed after the table")
    listing.set_defaults(run=_runs_list)

    show = admin_command("show", "one run with its images and events")
    show.add_argument("run_id")
    show.set_defaults(run=_runs_show)

    retry = admin_command("retry", "re-drive a failed or dead-lettered run (async stacks)")
    retry.add_argument("run_id")
    retry.set_defaults(run=_runs_retry)
