"""`plan`, `diff` and `review`: what a stack declares, evaluated offline under Pulumi's mocks, how two stacks
differ, and both as the Markdown of a pull request's comment."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from rich.console import Console

from infra.plan import run_plan
from infra.plan.diff import diff_plans
from infra.plan.render import diff_table, print_plan
from infra.plan.review import review


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
    console.print(diff_table(args.left, args.right, differences))
    return 0


def _review(args: argparse.Namespace, _console: Console) -> int:
    document, ok = review(args.stacks, run_plan)  # all three commands evaluate stacks through one name
    print(document)
    return 0 if ok else 1


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

    review_ = commands.add_parser("review", help="plans of the stacks and the diff of each neighbouring pair, "
                                                 "as the Markdown of a pull request comment")
    review_.add_argument("stacks", nargs="+", choices=stacks, help="in rollout order, e.g. staging production")
    review_.set_defaults(run=_review)
