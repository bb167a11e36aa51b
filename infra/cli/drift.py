"""`drift`: what differs between the code and Cloudflare, one line per resource; exit 0 none, 1 drift, 2 not checked."""

from __future__ import annotations

import argparse
import os
from functools import partial

from rich.console import Console

from infra.d1.migrations import discover
from infra.errors import SettingsError
from infra.model.settings import load_settings
from infra.ops.cloudflare import CloudflareAccount
from infra.ops.drift import Drift, verdict
from infra.ops.preview import refresh_preview
from infra.plan import run_plan

_LABEL = {"ok": "ok", "drift": "DRIFT", "unchecked": "?"}
_VERDICT = {
    0: "No drift: Cloudflare runs what the code declares.",
    1: "Drift: {drift} resource(s) differ from the code ({unchecked} not checked); docs/runbook.md, \"Drift\", "
       "says what each kind means and what to run.",
    2: "Not checked: {unchecked} check(s) could not run (see why above); no drift found in the rest.",
}


def _drift(args: argparse.Namespace, console: Console) -> int:
    if args.stack == "local":
        raise SettingsError("check drift of stack 'local' failed: the local stack is never deployed; `make dev` "
                            "runs it")
    settings = load_settings(args.stack)
    findings = Drift(
        settings=settings,
        plan=run_plan(args.stack),
        account=CloudflareAccount.from_env(settings.cloudflare.account_id),
        preview=partial(refresh_preview, args.stack, os.environ),
        migrations=discover(),
    ).run()
    console.print(f"Drift of stack '{args.stack}'")
    width = max(len(finding.resource) for finding in findings)
    for finding in findings:
        console.print(f"  {_LABEL[finding.status]:<5}  {finding.resource:<{width}}  {finding.detail}", soft_wrap=True)
    code = verdict(findings)
    counts = {status: sum(f.status == status for f in findings) for status in ("drift", "unchecked")}
    console.print(_VERDICT[code].format(**counts), soft_wrap=True)
    return code


def register(commands: argparse._SubParsersAction, stacks: list[str]) -> None:
    drift = commands.add_parser("drift", help="what differs between the code and Cloudflare (exit 0 none, 1 drift, "
                                              "2 could not check)")
    drift.add_argument("--stack", required=True, choices=stacks)
    drift.set_defaults(run=_drift)
