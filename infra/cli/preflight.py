"""`preflight`: is a stack ready for `pulumi up`? One line per check; exit 0 only when every check passed."""

from __future__ import annotations

import argparse

from rich.console import Console

from infra.cli.common import print_checks
from infra.errors import SettingsError
from infra.ops.preflight import Preflight


def _preflight(args: argparse.Namespace, console: Console) -> int:
    if args.stack == "local":
        raise SettingsError("preflight stack 'local' failed: the local stack is never deployed; `make dev` runs it")
    console.print(f"Preflight of stack '{args.stack}'")
    counts = print_checks(console, Preflight(args.stack, deployed=args.deployed).run())
    if counts["fail"] or counts["skip"]:
        console.print(f"Not ready: {counts['fail']} failed, {counts['skip']} not checked.")
        return 1
    console.print(f"Ready: every check passed; `pulumi up --stack {args.stack}` may run.")
    return 0


def register(commands: argparse._SubParsersAction, stacks: list[str]) -> None:
    preflight = commands.add_parser("preflight", help="is the stack ready for `pulumi up`? (exit 0 only if so)")
    preflight.add_argument("--stack", required=True, choices=stacks)
    preflight.add_argument("--deployed", action="store_true",
                           help="the stack was deployed before: resources under its names are its own")
    preflight.set_defaults(run=_preflight)
