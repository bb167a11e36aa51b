"""`infra` (or `python -m infra`): offline plan and stack diff, D1 migrations, support queries, the async and cost
report, the Workers' contract.js, the checks and imports of a first deploy, smoke tests and drift.

Each command group is a module with a `register(commands, stacks)`; this module only assembles the parser
and turns the project's errors into one red line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pulumi
from rich.console import Console

from infra.cli import adopt, drift, generate, migrate, plan, preflight, report, runs, smoke
from infra.errors import InfraError
from infra.model.settings import known_stacks

COMMANDS = (plan, migrate, runs, report, generate, preflight, adopt, smoke, drift)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infra", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stacks = known_stacks()
    for command in COMMANDS:
        command.register(commands, stacks)
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
