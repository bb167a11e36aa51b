"""`report`: a stack's evidence for the async decision, the runbook rule's recommendation and the monthly cost
estimate, from its ops summary over the admin API (docs/runbook.md "Deciding on async", "Cost per stack")."""

from __future__ import annotations

import argparse
import re

from rich.console import Console

from infra.cli.common import add_admin_arguments, admin_client, answer
from infra.model.settings import load_settings
from infra.ops import report
from infra.ops.cost import load_footprint, load_prices
from infra.ops.evidence import from_summary

_WINDOW = re.compile(r"^\d{1,4}[mhd]$")


def _run(args: argparse.Namespace, console: Console) -> int:
    action = f"report on stack '{args.stack}'"
    settings = load_settings(args.stack)
    footprint, prices = load_footprint(), load_prices()
    summary = admin_client(args, action).ops_summary(args.since, "1d", action)
    built = report.build(args.stack, from_summary(summary), settings, footprint, prices)
    return answer(args, report.to_json(built), lambda _: report.print_report(built, console))


def _window(value: str) -> str:
    if not _WINDOW.match(value):
        raise argparse.ArgumentTypeError("must be a duration such as 30d, 7d or 24h (at most 30d)")
    return value


def register(commands: argparse._SubParsersAction, stacks: list[str]) -> None:
    parser = commands.add_parser("report", help="evidence for the async decision, the recommendation and the "
                                                "monthly cost, over the deployed admin API")
    add_admin_arguments(parser, stacks, json_help="the report as JSON")
    parser.add_argument("--since", type=_window, default="30d",
                        help="the window of runs created, up to 30d (default 30d)")
    parser.set_defaults(run=_run)
