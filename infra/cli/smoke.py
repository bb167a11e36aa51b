"""`smoke`: check a running deployment from the outside, one line per check; exit 0 only when none failed."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from rich.console import Console

from infra.cli.common import print_checks, public_url
from infra.d1.executors import TOKEN_ENV
from infra.model.bindings import script_name
from infra.model.naming import Role
from infra.model.settings import StackSettings, load_settings
from infra.ops.cloudflare import CloudflareAccount, CloudflareApiError
from infra.ops.smoke import Smoke, workers_dev_url

_WORKERS_DEV = ".workers.dev"


def _smoke(args: argparse.Namespace, console: Console) -> int:
    settings = load_settings(args.stack)
    base_url = public_url(settings, args.base_url)
    backend_urls, skipped = backend_addresses(settings, args.workers_subdomain, args.backend_url)
    console.print(f"Smoke test of stack '{args.stack}' at {base_url}")
    smoke = Smoke(settings, base_url, generate=not args.no_generate, backend_urls=backend_urls,
                  backend_urls_skipped=skipped)
    counts = print_checks(console, smoke.run())
    if counts["fail"]:
        console.print(f"Failed: {counts['fail']} of {sum(counts.values())} checks ({counts['skip']} skipped).")
        return 1
    console.print(f"Passed: {counts['ok']} checks, {counts['skip']} skipped.")
    return 0


def backend_addresses(settings: StackSettings, subdomain: str | None,
                      given: list[str] | None) -> tuple[list[str], str | None]:
    """The backend's own public addresses to probe, and why its workers.dev address is not among them when it
    is not. The account's workers.dev subdomain is not secret but only the API knows it: it comes from
    `--workers-subdomain`, from a public URL on workers.dev, or from the API when a token is exported."""
    urls = list(given or [])
    if settings.backend.custom_domain:
        urls.append(f"https://{settings.backend.custom_domain}")
    if settings.environment == "local":
        return urls, None if urls else ("local: the backend has no public address (its wrangler dev port serves "
                                        "only this machine); --backend-url probes one")
    subdomain = subdomain or _subdomain_of_public_url(settings)
    if subdomain is None:
        account = CloudflareAccount.from_env(settings.cloudflare.account_id)
        if account is None:
            return urls, (f"the backend's workers.dev address needs the account's workers.dev subdomain: pass "
                          f"--workers-subdomain (Workers & Pages, Account details) or export {TOKEN_ENV}")
        try:
            subdomain = account.workers_subdomain()
        except CloudflareApiError as exc:
            return urls, f"the backend's workers.dev address: {exc}"
        if subdomain is None:
            return urls, "the account has no workers.dev subdomain, so the backend has no workers.dev address"
    return [*urls, workers_dev_url(settings, subdomain, Role.BACKEND)], None


def _subdomain_of_public_url(settings: StackSettings) -> str | None:
    """`<sub>` when the public URL is the frontend's `https://<frontend script>.<sub>.workers.dev`."""
    host = urlsplit(settings.public_base_url).hostname or ""
    prefix = f"{script_name(settings, Role.FRONTEND)}."
    if host.startswith(prefix) and host.endswith(_WORKERS_DEV):
        return host[len(prefix):-len(_WORKERS_DEV)] or None
    return None


def register(commands: argparse._SubParsersAction, stacks: list[str]) -> None:
    smoke = commands.add_parser("smoke", help="check a running deployment from outside (exit 0 only if all pass)")
    smoke.add_argument("--stack", required=True, choices=stacks)
    smoke.add_argument("--base-url", help="default: the stack's public_base_url; local: 127.0.0.1:$PORT")
    smoke.add_argument("--no-generate", action="store_true",
                       help="no generation (and so no run, image or read-back check)")
    smoke.add_argument("--workers-subdomain",
                       help="the account's workers.dev subdomain, to check the backend's workers.dev address "
                            "(default: from the public URL, or read with CLOUDFLARE_API_TOKEN)")
    smoke.add_argument("--backend-url", action="append", metavar="URL",
                       help="another public address of the backend that must not serve /api/* (repeatable)")
    smoke.set_defaults(run=_smoke)
