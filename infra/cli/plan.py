"""`plan` and `diff`: what a stack declares, evaluated offline under Pulumi's mocks, and how two stacks differ."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from infra.plan import run_plan
from infra.plan.diff import diff_plans
from infra.plan.render import print_plan


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


def register(commands: argparse._SubParsersAction, stacks: list[str]) -> None:
    plan = commands.add_parser("plan", help="every resource a stack declares, evaluated offline under mocks")
    plan.add_argument("--stack", required=True, choices=stacks)
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.set_defaults(run=_plan)

    diff = commands.add_parser("diff", help="what differs between two stacks' plans")
    diff.add_argument("left", choices=stacks)
    diff.add_argument("right", choices=stacks)
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(run=_diff)
