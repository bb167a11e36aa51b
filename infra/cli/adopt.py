"""`adopt`: write the import file that brings an existing deployment's Workers into the stack."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from infra.d1.executors import TOKEN_ENV
from infra.errors import SettingsError
from infra.model.settings import load_settings
from infra.ops.adopt import find_adopted, import_file
from infra.ops.cloudflare import CloudflareAccount
from infra.plan import run_plan


def _adopt(args: argparse.Namespace, console: Console) -> int:
    settings = load_settings(args.stack)
    account = CloudflareAccount.from_env(settings.cloudflare.account_id)
    if account is None:
        raise SettingsError(f"adopt stack '{args.stack}' failed: {TOKEN_ENV} is not set; export the deploy token "
                            "(it only reads here)")
    plan = run_plan(args.stack)
    adopted = find_adopted(settings, plan, account)
    out: Path = args.out or Path(f"import-{args.stack}.json")
    out.write_text(json.dumps(import_file(adopted, plan), indent=2) + "\n")
    table = Table(title=f"Adopted by stack '{args.stack}'")
    for column in ("existing", "becomes", "import id"):
        table.add_column(column, overflow="fold")
    for item in adopted:
        table.add_row(item.what, f"{item.resource.name} ({item.resource.type.rsplit(':', 1)[-1]})", item.id)
    console.print(table)
    console.print(f"Wrote {out}. Import, then check that the preview only updates what was adopted:")
    console.print(f"  pulumi import --stack {args.stack} --file {out} --protect=false --generate-code=false",
                  soft_wrap=True)
    console.print(f"  pulumi preview --stack {args.stack}", soft_wrap=True)
    return 0


def register(commands: argparse._SubParsersAction, stacks: list[str]) -> None:
    adopt = commands.add_parser("adopt", help="import file for the existing Workers the stack adopts")
    adopt.add_argument("--stack", required=True, choices=stacks)
    adopt.add_argument("--out", type=Path, help="where to write it (default: import-<stack>.json here)")
    adopt.set_defaults(run=_adopt)
