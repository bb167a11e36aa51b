"""Is a stack ready for `pulumi up`? Every check an operator can run before a deploy, one result line each.

Offline: the stack file validates, no longer carries the committed placeholders, and its public URL is the
frontend's address; the stack's Pulumi config holds every secret the stack needs, encrypted, and is committed.
With `CLOUDFLARE_API_TOKEN`: the token is active and reaches the account and zone, the account has what the
stack uses (R2, D1, Queues where async is on, a workers.dev subdomain where a Worker is on it), and nothing the
first `pulumi up` would create exists already under its name, unless the stack adopts it or was deployed
before. With `DASHSCOPE_API_KEY`: the key works in the stack's region. A check that cannot run says why; the
stack is ready only when every check passed.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from infra.d1.executors import TOKEN_ENV
from infra.errors import SettingsError
from infra.model.bindings import declare_workers, required_secrets
from infra.model.naming import Role, physical_name
from infra.model.settings import REPO_ROOT, StackSettings, Worker, load_settings
from infra.ops.checks import Check, Status
from infra.ops.cloudflare import CloudflareAccount, CloudflareApiError
from infra.ops.upstream import DASHSCOPE_KEY_ENV, check_dashscope_key

# What the committed stack files carry until an operator puts theirs in: Cloudflare's documentation-example ids
# and the domains RFC 2606 reserves for examples.
DOCUMENTATION_ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353"
DOCUMENTATION_ZONE_ID = "372e67954025e0ba6aaa6d586b9e0b59"
_EXAMPLE_DOMAIN = re.compile(r"(^|\.)example\.(com|net|org)$|\.example$")
# Cloudflare error codes, and what they mean for the operator.
_HINTS = {
    9109: "the token does not cover this account or zone: add it to the token's resources",
    10000: "the token lacks a permission this needs (docs/runbook.md, 'First-time setup', lists them)",
    10042: "R2 is not enabled on the account: enable it in the dashboard (R2 Object Storage)",
    1000: "the token is not valid: create one as docs/runbook.md says and export it as CLOUDFLARE_API_TOKEN",
}

@dataclass(frozen=True)
class Project:
    """Where the stack files and the stack's Pulumi config live (the checkout, or a test's copy of it)."""

    root: Path = REPO_ROOT

    def stack_file(self, environment: str) -> Path:
        return self.root / "stacks" / f"{environment}.yaml"

    def pulumi_config(self, environment: str) -> Path:
        return self.root / f"Pulumi.{environment}.yaml"

    @property
    def name(self) -> str:
        """The Pulumi project name, the namespace of its config keys."""
        return str(yaml.safe_load((self.root / "Pulumi.yaml").read_text())["name"])


@dataclass
class Preflight:
    """The checks of one stack; `run` yields them in order."""

    environment: str
    project: Project = field(default_factory=Project)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    deployed: bool = False  # the stack was deployed before: what exists under its names is its own
    # How the DashScope check reaches the upstream (tests route it to the stand-in); default: the network.
    dashscope_transport: httpx.BaseTransport | None = None

    def run(self) -> Iterator[Check]:
        try:
            settings = load_settings(self.environment, self.project.stack_file(self.environment))
        except SettingsError as exc:
            yield Check("settings", "fail", " ".join(str(exc).split("\n", 1)[-1].split()))
            yield Check("the other checks", "skip", "they need valid settings")
            return
        yield Check("settings", "ok", f"{self._relative(self.project.stack_file(self.environment))} is valid")
        yield self._placeholders(settings)
        yield from self._secrets(settings)
        account = CloudflareAccount.from_env(settings.cloudflare.account_id, self.environ)
        if account is None:
            yield Check("public url", *self._public_url(settings, subdomain=None))
            yield Check("cloudflare", "skip", f"{TOKEN_ENV} is not set: export the deploy token to check the "
                                              "account, its zone and the names the stack uses")
        else:
            yield from self._cloudflare(settings, account)
        yield self._dashscope(settings)

    # -- offline --------------------------------------------------------------------------------------------

    def _placeholders(self, settings: StackSettings) -> Check:
        found = []
        if settings.cloudflare.account_id == DOCUMENTATION_ACCOUNT_ID:
            found.append("cloudflare.account_id")
        if settings.cloudflare.zone_id == DOCUMENTATION_ZONE_ID:
            found.append("cloudflare.zone_id")
        found += [f"{name} ({host})" for name, host in _hostnames(settings) if _EXAMPLE_DOMAIN.search(host)]
        if found:
            return Check("placeholders", "fail", f"still the committed examples: {', '.join(found)}; put your "
                                                 f"account, zone and domains in {self._stack_path()}")
        return Check("placeholders", "ok", "no documentation-example ids or example domains")

    def _public_url(self, settings: StackSettings, subdomain: str | None) -> tuple[Status, str]:
        host = _host(settings.public_base_url)
        frontend = settings.frontend
        if frontend.custom_domain == host:
            return "ok", f"{host} is the frontend's custom domain"
        if any(_route_covers(pattern, host) for pattern in frontend.routes):
            return "ok", f"{host} is served by a frontend route"
        script = declare_workers(settings)[1].script_name
        if frontend.workers_dev and subdomain is not None and host == f"{script}.{subdomain}.workers.dev":
            return "ok", f"{host} is the frontend's workers.dev address"
        addresses = [frontend.custom_domain, *frontend.routes] if frontend.custom_domain or frontend.routes else []
        if frontend.workers_dev:
            if subdomain is None and not addresses:
                return "skip", (f"the frontend is only on workers.dev: {TOKEN_ENV} is needed to read the account's "
                                "subdomain")
            addresses.append(f"{script}.{subdomain or '<subdomain>'}.workers.dev")
        if not addresses:
            return "fail", "the frontend has no public address: set frontend.custom_domain, routes or workers_dev"
        return "fail", (f"public_base_url's host {host} is none of the frontend's addresses ({', '.join(addresses)}):"
                        " image URLs and links would point elsewhere; set public_base_url to one of them")

    def _secrets(self, settings: StackSettings) -> Iterator[Check]:
        path = self.project.pulumi_config(self.environment)
        shown = self._relative(path)
        try:
            config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        except FileNotFoundError:
            config = None
        commands = lambda secrets: "; ".join(  # noqa: E731
            f"pulumi config set --secret --stack {self.environment} {secret.config_key}" for secret in secrets)
        if config is None:
            yield Check("secrets", "fail", f"{shown} does not exist: `pulumi stack init {self.environment}`, then "
                                           f"{commands(required_secrets(settings))}")
        else:
            keys = {secret: f"{self.project.name}:{secret.config_key}" for secret in required_secrets(settings)}
            plain = [s for s, key in keys.items() if key in config and not _encrypted(config[key])]
            missing = [s for s, key in keys.items() if key not in config]
            if plain:
                yield Check("secrets", "fail", f"{shown} holds {', '.join(s.config_key for s in plain)} in plain text: "
                                               f"remove it and set it again with --secret ({commands(plain)})")
            elif missing:
                yield Check("secrets", "fail", f"{shown} lacks {', '.join(s.config_key for s in missing)}: "
                                               f"{commands(missing)}")
            else:
                yield Check("secrets", "ok", f"{shown} holds {', '.join(s.config_key for s in keys)}, encrypted")
        yield self._committed(path)

    def _committed(self, path: Path) -> Check:
        shown = self._relative(path)
        git = lambda *args: subprocess.run(  # noqa: E731
            ["git", "-C", str(self.project.root), *args], capture_output=True, text=True, timeout=30, check=False)
        if git("rev-parse", "--is-inside-work-tree").returncode != 0:
            return Check("stack config committed", "fail", f"{self.project.root} is not a git checkout, so whether "
                                                           f"{shown} is committed cannot be told")
        if not path.exists() or git("ls-files", "--error-unmatch", "--", path.name).returncode != 0:
            return Check("stack config committed", "fail", f"{shown} is not committed: commit it (its secrets are "
                                                           "encrypted; CI deploys from the repository)")
        if git("diff", "--quiet", "HEAD", "--", path.name).returncode != 0:
            return Check("stack config committed", "fail", f"{shown} has uncommitted changes: commit them")
        return Check("stack config committed", "ok", f"{shown} is committed")

    # -- Cloudflare -----------------------------------------------------------------------------------------

    def _cloudflare(self, settings: StackSettings, account: CloudflareAccount) -> Iterator[Check]:
        try:
            status = account.token_status()
        except CloudflareApiError as exc:
            yield Check("cloudflare token", "fail", _reason(exc))
            yield Check("cloudflare", "skip", "the other Cloudflare checks need a valid token")
            return
        if status != "active":
            yield Check("cloudflare token", "fail", f"the token is {status}: create a new one (docs/runbook.md, "
                                                    f"'First-time setup') and export it as {TOKEN_ENV}")
            yield Check("cloudflare", "skip", "the other Cloudflare checks need an active token")
            return
        yield Check("cloudflare token", "ok", "active")
        try:
            scripts = account.script_names()
        except CloudflareApiError as exc:
            yield Check("account", "fail", _reason(exc))
            yield Check("cloudflare", "skip", "the other Cloudflare checks need the account")
            return
        yield Check("account", "ok", f"{settings.cloudflare.account_id} is reachable with Workers Scripts access")
        yield from self._ask("zone", lambda: self._zone(settings, account))
        subdomain: str | None = None
        if settings.frontend.workers_dev or settings.backend.workers_dev:
            try:
                subdomain = account.workers_subdomain()
            except CloudflareApiError as exc:
                yield Check("workers.dev", "fail", _reason(exc))
            else:
                yield (Check("workers.dev", "ok", f"the account's subdomain is {subdomain}.workers.dev") if subdomain
                       else Check("workers.dev", "fail", "the account has no workers.dev subdomain: register one in "
                                                         "the dashboard (Workers & Pages)"))
        yield Check("public url", *self._public_url(settings, subdomain))
        yield from self._ask("R2 bucket", lambda: self._new_name(
            physical_name(settings, Role.MEDIA), account.bucket_exists(physical_name(settings, Role.MEDIA))))
        yield from self._ask("D1 database", lambda: self._new_name(
            physical_name(settings, Role.METADATA), account.database_id(physical_name(settings, Role.METADATA))
            is not None))
        if settings.async_enabled:
            def queues() -> Check:
                names, existing = (physical_name(settings, Role.JOBS), physical_name(settings, Role.DEAD_LETTER)), \
                    account.queue_names()
                taken = [name for name in names if name in existing]
                return self._new_name(", ".join(taken or names), bool(taken), "queues")
            yield from self._ask("queues", queues)
        for spec, worker in zip(declare_workers(settings), (settings.backend, settings.frontend), strict=True):
            yield from self._ask(f"{spec.role} script", lambda spec=spec, worker=worker: self._adoptable(
                "script", spec.script_name, worker, spec.script_name in scripts))
            if worker.custom_domain:
                yield from self._ask(f"{spec.role} custom domain", lambda spec=spec, worker=worker: self._domain(
                    account, spec.script_name, worker))
        if settings.frontend.routes and settings.cloudflare.zone_id:
            yield from self._ask("frontend routes", lambda: self._routes(settings, account))

    @staticmethod
    def _ask(name: str, check: Callable[[], Check | None]) -> Iterator[Check]:
        try:
            result = check()
        except CloudflareApiError as exc:
            yield Check(name, "fail", _reason(exc))
            return
        if result is not None:
            yield Check(name, result.status, result.detail)

    def _zone(self, settings: StackSettings, account: CloudflareAccount) -> Check | None:
        zone_id = settings.cloudflare.zone_id
        if zone_id is None:
            return None
        zone = account.zone(zone_id)
        outside = [f"{name} ({host})" for name, host in _hostnames(settings)
                   if name not in ("public_base_url", "frontend.backend_url")
                   and host != zone.name and not host.endswith(f".{zone.name}")]
        if outside:
            return Check("zone", "fail", f"not in zone {zone.name}: {', '.join(outside)}; use hostnames of the zone "
                                         "or the zone of these hostnames")
        return Check("zone", "ok", f"{zone.name}, and every custom domain and route is in it")

    def _new_name(self, name: str, exists: bool, what: str = "name") -> Check:
        if not exists:
            return Check("", "ok", f"{name} is free")
        if self.deployed:
            return Check("", "ok", f"{name} exists (this stack's, deployed before)")
        return Check("", "fail", f"{name} already exists, so the first `pulumi up` would fail creating it: delete "
                                 f"it, change app in {self._stack_path()}, or rerun with --deployed if this stack "
                                 f"created it ({what})")

    def _adoptable(self, item: str, name: str, worker: Worker, exists: bool) -> Check:
        adopted = item in worker.adopt
        if adopted and not exists:
            return Check("", "fail", f"{name} is to be adopted but does not exist; fix the name or drop '{item}' "
                                     "from adopt")
        if adopted:
            return Check("", "ok", f"{name} exists and is adopted (`infra adopt` imports it)")
        return self._new_name(name, exists, f"or adopt it: add '{item}' to adopt")

    def _domain(self, account: CloudflareAccount, script: str, worker: Worker) -> Check:
        hostname = worker.custom_domain or ""
        found = account.custom_domain(hostname)
        if found is not None and found.service != script:
            return Check("", "fail", f"{hostname} is attached to Worker '{found.service}', not '{script}': detach it "
                                     "or keep that script's name (script_name) and adopt both")
        return self._adoptable("custom_domain", hostname, worker, found is not None)

    def _routes(self, settings: StackSettings, account: CloudflareAccount) -> Check:
        script = declare_workers(settings)[1].script_name
        existing = {route.pattern: route for route in account.routes(settings.cloudflare.zone_id or "")}
        wrong = [f"{p} (to '{existing[p].script}')" for p in settings.frontend.routes
                 if p in existing and existing[p].script != script]
        if wrong:
            return Check("", "fail", f"routes point at other Workers: {', '.join(wrong)}; remove them or adopt "
                                     "their script")
        taken = [p for p in settings.frontend.routes if p in existing]
        if taken and "routes" not in settings.frontend.adopt:
            return self._new_name(", ".join(taken), True, "or adopt them: add 'routes' to frontend.adopt")
        missing = [p for p in settings.frontend.routes if p not in existing]
        if "routes" in settings.frontend.adopt and missing:
            return Check("", "fail", f"routes to adopt do not exist: {', '.join(missing)}")
        return Check("", "ok", "adopted" if taken else f"{', '.join(settings.frontend.routes)} are free")

    # -- DashScope ------------------------------------------------------------------------------------------

    def _dashscope(self, settings: StackSettings) -> Check:
        key = self.environ.get(DASHSCOPE_KEY_ENV)
        if not key:
            return Check("dashscope key", "skip", f"{DASHSCOPE_KEY_ENV} is not set: export the stack's key "
                                                  f"(pulumi config get --stack {self.environment} dashscopeApiKey) to "
                                                  f"check it against {settings.upstream.base_url}")
        result = check_dashscope_key(settings.upstream.base_url, key, self.dashscope_transport)
        return Check("dashscope key", "ok" if result.ok else "fail", result.detail)

    # -- helpers --------------------------------------------------------------------------------------------

    def _stack_path(self) -> str:
        return self._relative(self.project.stack_file(self.environment))

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.project.root).as_posix() if path.is_relative_to(self.project.root) else str(path)


def _encrypted(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _hostnames(settings: StackSettings) -> list[tuple[str, str]]:
    """(field, hostname) of every domain the stack names."""
    found = [("public_base_url", _host(settings.public_base_url))]
    for name, host in (("media.delivery.custom_domain", settings.media.delivery.custom_domain),
                       ("frontend.custom_domain", settings.frontend.custom_domain),
                       ("backend.custom_domain", settings.backend.custom_domain)):
        if host:
            found.append((name, host))
    if settings.frontend.backend_url:
        found.append(("frontend.backend_url", _host(settings.frontend.backend_url)))
    found += [("frontend.routes", pattern.split("/", 1)[0].removeprefix("*.")) for pattern in settings.frontend.routes]
    return found


def _route_covers(pattern: str, host: str) -> bool:
    """Whether a route pattern (`host/path*`, optionally `*.host/...`) serves the root of `host`."""
    pattern_host, _, path = pattern.partition("/")
    if path not in ("*", ""):
        return False
    if pattern_host.startswith("*."):
        return host == pattern_host[2:] or host.endswith(pattern_host[1:])
    return host == pattern_host


def _reason(exc: CloudflareApiError) -> str:
    hint = next((_HINTS[code] for code in exc.codes if code in _HINTS), None)
    return f"{exc}{'; ' + hint if hint else ''}"
