"""What several commands share: the admin API client from command-line arguments, JSON-or-table output, and
the one-line-per-check report of the checking commands."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rich.console import Console

from infra.errors import SettingsError
from infra.model.bindings import Secret
from infra.model.settings import StackSettings, load_settings
from infra.ops.admin_api import AdminClient
from infra.ops.checks import Check

_LABEL = {"ok": "ok", "fail": "FAIL", "skip": "skip"}


def add_admin_arguments(parser: argparse.ArgumentParser, stacks: list[str],
                        json_help: str = "the API's JSON as is") -> None:
    """`--stack`, `--base-url`, `--token-file` and `--json`: how every admin-API command is pointed and read."""
    parser.add_argument("--stack", required=True, choices=stacks)
    parser.add_argument("--base-url", help="default: the stack's public_base_url; local: 127.0.0.1:$PORT")
    parser.add_argument("--token-file", type=Path, help="file holding the admin token (default: $ADMIN_TOKEN)")
    parser.add_argument("--json", action="store_true", help=json_help)


def public_url(settings: StackSettings, given: str | None) -> str:
    """Where a stack is reached from outside: `given` (--base-url), else the local system's port (`make dev`'s
    `PORT`) or the stack's public URL."""
    if given:
        return given.rstrip("/")
    if settings.environment == "local":
        return f"http://127.0.0.1:{os.environ.get('PORT', '8787')}"
    return settings.public_base_url


def admin_client(args: argparse.Namespace, action: str) -> AdminClient:
    """Base URL: `public_url`; token: --token-file or ADMIN_TOKEN."""
    settings: StackSettings = load_settings(args.stack)
    local = settings.environment == "local"
    base_url = public_url(settings, args.base_url)
    token = args.token_file.read_text().strip() if args.token_file else os.environ.get("ADMIN_TOKEN", "")
    if not token:
        hint = "the token `make dev` printed" if local else (
            f"export ADMIN_TOKEN=$(pulumi config get --stack {args.stack} {Secret.ADMIN_TOKEN.config_key})")
        raise SettingsError(f"{action} failed: no admin token; set ADMIN_TOKEN ({hint}) or pass --token-file")
    return AdminClient(base_url, token)


def answer(args: argparse.Namespace, body: dict[str, Any], render: Callable[[dict[str, Any]], None]) -> int:
    """The admin API's JSON as is with `--json`, else the human view."""
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        render(body)
    return 0


def print_checks(console: Console, checks: Iterable[Check]) -> dict[str, int]:
    """Each check as one line (`  ok    <name>  <detail>`) as it completes; how many ended in each status."""
    counts = {"ok": 0, "fail": 0, "skip": 0}
    for check in checks:
        counts[check.status] += 1
        console.print(f"  {_LABEL[check.status]:<4}  {check.name:<24} {check.detail}", soft_wrap=True)
    return counts
