"""`generate [--check]`: write each Worker's `contract.js` from the Python declarations, or check they are fresh."""

from __future__ import annotations

import argparse

from rich.console import Console

from infra.errors import InfraError
from infra.generate.contract import relative, stale, write_all


def _generate(args: argparse.Namespace, console: Console) -> int:
    if args.check:
        if outdated := stale():
            raise InfraError(f"check generated files failed: {', '.join(map(relative, outdated))} differ from a fresh "
                             "generation (edited by hand, or a declaration changed); run `make generate` and commit")
        console.print("generated files are up to date")
        return 0
    changed = write_all()
    console.print(f"wrote {', '.join(map(relative, changed))}" if changed else "generated files were up to date")
    return 0


def register(commands: argparse._SubParsersAction, stacks: list[str]) -> None:
    generate = commands.add_parser("generate", help="write worker_src/<role>/contract.js from infra/model")
    generate.add_argument("--check", action="store_true", help="fail if a generated file is stale; write nothing")
    generate.set_defaults(run=_generate)
