"""Read-only questions about a Cloudflare account, asked through the official `cloudflare` SDK.

What `infra preflight` and `infra adopt` need to know before a deploy: is the token valid, what exists
under the names a stack uses, where the custom domains and routes point. What `infra drift` needs to know after
one: what a deployed script is made of (its modules' content, bindings, settings, cron schedules, workers.dev
switch), a bucket's lifecycle document, the queues and their consumers, and a D1 database to read. Each method
answers one question with plain values (absence is `None` or `False`, never an error) or raises
`CloudflareApiError` with the API's own message and code in one line. The SDK reads `CLOUDFLARE_BASE_URL` like
the Pulumi provider does, so tests point it at a local fake of the API.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, TypeVar

import cloudflare

from infra.d1.executors import TOKEN_ENV, CloudflareD1Executor, api_codes, api_reason
from infra.errors import InfraError

T = TypeVar("T")
BASE_URL_ENV = "CLOUDFLARE_BASE_URL"
# Cloudflare's error codes that mean "there is nothing by that name" for the lookups below.
_NOT_FOUND = {10006, 10007, 7404, 11000}


class CloudflareApiError(InfraError):
    """The API refused a question or could not be reached; `codes` are Cloudflare's error codes."""

    def __init__(self, message: str, status: int | None = None, codes: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.codes = codes


@dataclass(frozen=True)
class Zone:
    id: str
    name: str


@dataclass(frozen=True)
class CustomDomain:
    id: str
    hostname: str
    service: str
    zone_id: str


@dataclass(frozen=True)
class Route:
    id: str
    pattern: str
    script: str | None


@dataclass(frozen=True)
class ScriptModules:
    """A deployed script's code: the main module's name and the sha256 of every module's bytes, by name."""

    main_module: str
    sha256: dict[str, str]


@dataclass(frozen=True)
class ScriptConfig:
    """A deployed script's settings: bindings as the API answers them (secrets without a value), its
    compatibility date and Workers Logs settings."""

    bindings: tuple[dict[str, Any], ...]
    compatibility_date: str | None
    observability: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueInfo:
    id: str
    name: str
    message_retention_seconds: int | None


@dataclass(frozen=True)
class ConsumerInfo:
    """One consumer of a queue, in the API's units (`max_wait_time_ms` in ms, `retry_delay` in s)."""

    type: str | None
    script_name: str | None
    dead_letter_queue: str | None
    settings: dict[str, float | None]


class CloudflareAccount:
    """One account, seen through one API token."""

    def __init__(self, client: cloudflare.Cloudflare, account_id: str) -> None:
        self._client = client
        self.account_id = account_id

    @classmethod
    def from_env(cls, account_id: str, environ: Mapping[str, str] = os.environ) -> CloudflareAccount | None:
        """With the token the Pulumi provider also reads (`CLOUDFLARE_API_TOKEN`) and, where set, its
        `CLOUDFLARE_BASE_URL`; None when there is no token."""
        token = environ.get(TOKEN_ENV)
        if not token:
            return None
        client = cloudflare.Cloudflare(api_token=token, base_url=environ.get(BASE_URL_ENV) or None, max_retries=1,
                                       timeout=20.0)
        return cls(client, account_id)

    def token_status(self) -> str:
        """`active`, `disabled` or `expired`; a user token verifies at /user, an account-owned one at its account."""
        try:
            verified = self._client.user.tokens.verify()
        except cloudflare.AuthenticationError:
            verified = self._ask("verify the API token", lambda: self._client.accounts.tokens.verify(
                account_id=self.account_id))
        except cloudflare.APIError as exc:
            raise _error("verify the API token", exc) from None
        return verified.status if verified else "unknown"

    def script_names(self) -> set[str]:
        """Every Worker script of the account (a single page: the API lists them all)."""
        scripts = self._ask(f"list the Worker scripts of account {self.account_id}",
                            lambda: self._client.workers.scripts.list(account_id=self.account_id))
        return {script.id for script in scripts if script.id}

    def script_exists(self, name: str) -> bool:
        return self._exists(f"look up Worker script '{name}'", lambda: self._client.workers.scripts.settings.get(
            name, account_id=self.account_id))

    def zone(self, zone_id: str) -> Zone:
        zone = self._ask(f"read zone {zone_id}", lambda: self._client.zones.get(zone_id=zone_id))
        if zone is None:
            raise CloudflareApiError(f"read zone {zone_id} failed: the API answered no zone")
        return Zone(zone.id, zone.name)

    def bucket_exists(self, name: str) -> bool:
        return self._exists(f"look up R2 bucket '{name}'", lambda: self._client.r2.buckets.get(
            name, account_id=self.account_id))

    def database_id(self, name: str) -> str | None:
        """The D1 database of exactly this name (the API's `name` filter also matches longer names)."""
        page = self._ask(f"look up D1 database '{name}'",
                         lambda: self._client.d1.database.list(account_id=self.account_id, name=name))
        return next((db.uuid for db in page.result if db.name == name), None)

    def queue_names(self) -> set[str]:
        queues = self._ask(f"list the queues of account {self.account_id}",
                           lambda: self._client.queues.list(account_id=self.account_id))
        return {queue.queue_name for queue in queues if queue.queue_name}

    def workers_subdomain(self) -> str | None:
        """The account's `<subdomain>.workers.dev`, or None before one is registered."""
        try:
            return self._client.workers.subdomains.get(account_id=self.account_id).subdomain
        except cloudflare.NotFoundError:
            return None
        except cloudflare.APIError as exc:
            raise _error(f"read the workers.dev subdomain of account {self.account_id}", exc) from None

    def custom_domain(self, hostname: str) -> CustomDomain | None:
        found = self._ask(f"look up Workers custom domain '{hostname}'", lambda: self._client.workers.domains.list(
            account_id=self.account_id, hostname=hostname))
        return next((CustomDomain(d.id, d.hostname, d.service, d.zone_id) for d in found if d.hostname == hostname),
                    None)

    def custom_domains(self, service: str) -> list[CustomDomain]:
        """Every Workers custom domain that serves the script `service`."""
        found = self._ask(f"list the custom domains of Worker script '{service}'",
                          lambda: self._client.workers.domains.list(account_id=self.account_id, service=service))
        return [CustomDomain(d.id, d.hostname, d.service, d.zone_id) for d in found if d.service == service]

    def routes(self, zone_id: str) -> list[Route]:
        found = self._ask(f"list the Workers routes of zone {zone_id}",
                          lambda: self._client.workers.routes.list(zone_id=zone_id))
        return [Route(route.id, route.pattern, route.script) for route in found]

    # -- what is deployed (infra drift) ------------------------------------------------------------------

    def lifecycle_rules(self, bucket: str) -> list[dict[str, Any]] | None:
        """The whole lifecycle document, each rule in R2's own (camelCase) spelling; None without the bucket."""
        found = self._maybe(f"read the lifecycle rules of R2 bucket '{bucket}'",
                            lambda: self._client.r2.buckets.lifecycle.get(bucket, account_id=self.account_id))
        if found is None:
            return None
        return [rule.model_dump(by_alias=True, exclude_none=True, mode="json") for rule in found.rules or []]

    def script_modules(self, name: str) -> ScriptModules | None:
        """The deployed content (`/content/v2`: one multipart part per module, the main one named in
        `cf-entrypoint`), hashed module by module; None without the script."""
        response = self._maybe(f"read the content of Worker script '{name}'",
                               lambda: self._client.workers.scripts.content.get(name, account_id=self.account_id))
        if response is None:
            return None
        body, content_type = response.read(), response.headers.get("content-type", "")
        entrypoint = response.headers.get("cf-entrypoint")
        if not content_type.startswith("multipart/"):  # a script of one module (service-worker syntax)
            return ScriptModules(entrypoint or name, {entrypoint or name: _sha256(body)})
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        modules = {}
        for part in message.iter_parts():
            module = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(module, str) or not isinstance(payload, bytes):
                raise CloudflareApiError(f"read the content of Worker script '{name}' failed: a part of the answer "
                                         "names no module")
            modules[module] = _sha256(payload)
        return ScriptModules(entrypoint or next(iter(modules), ""), modules)

    def script_config(self, name: str) -> ScriptConfig | None:
        found = self._maybe(f"read the settings of Worker script '{name}'",
                            lambda: self._client.workers.scripts.script_and_version_settings.get(
                                name, account_id=self.account_id))
        if found is None:
            return None
        bindings = tuple(b.model_dump(by_alias=True, exclude_none=True, mode="json") for b in found.bindings or [])
        observability = found.observability.model_dump(exclude_none=True, mode="json") if found.observability else {}
        return ScriptConfig(bindings, found.compatibility_date, observability)

    def cron_schedules(self, name: str) -> tuple[str, ...] | None:
        found = self._maybe(f"read the cron triggers of Worker script '{name}'",
                            lambda: self._client.workers.scripts.schedules.get(name, account_id=self.account_id))
        return None if found is None else tuple(schedule.cron for schedule in found.schedules)

    def workers_dev(self, name: str) -> tuple[bool, bool] | None:
        """(workers.dev enabled, previews enabled) of the script; None without the script."""
        found = self._maybe(f"read the workers.dev switch of Worker script '{name}'",
                            lambda: self._client.workers.scripts.subdomain.get(name, account_id=self.account_id))
        return None if found is None else (found.enabled, found.previews_enabled)

    def queues(self) -> dict[str, QueueInfo]:
        found = self._ask(f"list the queues of account {self.account_id}",
                          lambda: self._client.queues.list(account_id=self.account_id))
        return {q.queue_name: QueueInfo(q.queue_id or "", q.queue_name, _whole(
            q.settings.message_retention_period if q.settings else None)) for q in found if q.queue_name}

    def queue_consumers(self, queue: QueueInfo) -> list[ConsumerInfo]:
        found = self._ask(f"list the consumers of queue '{queue.name}'", lambda: self._client.queues.consumers.list(
            queue.id, account_id=self.account_id))
        return [ConsumerInfo(c.type, getattr(c, "script_name", None), c.dead_letter_queue,
                             c.settings.model_dump(mode="json") if c.settings else {}) for c in found]

    def database(self, name: str) -> CloudflareD1Executor | None:
        """The D1 database of exactly this name, to read over the D1 API; None when there is none."""
        database_id = self.database_id(name)
        return None if database_id is None else CloudflareD1Executor(self._client, self.account_id, database_id, name)

    def _ask(self, action: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except cloudflare.APIError as exc:
            raise _error(action, exc) from None

    def _exists(self, action: str, call: Callable[[], object]) -> bool:
        return self._maybe(action, lambda: call() or True) is not None

    def _maybe(self, action: str, call: Callable[[], T]) -> T | None:
        """The answer, or None when the API says there is nothing by that name."""
        try:
            return call()
        except cloudflare.APIStatusError as exc:
            if exc.status_code == 404 and set(api_codes(exc)) & _NOT_FOUND:
                return None
            raise _error(action, exc) from None
        except cloudflare.APIError as exc:
            raise _error(action, exc) from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _whole(value: float | None) -> int | None:
    """The API's numbers arrive as floats (the SDK's JSON); the ones read here are whole."""
    return None if value is None else int(value)


def _error(action: str, exc: cloudflare.APIError) -> CloudflareApiError:
    status = exc.status_code if isinstance(exc, cloudflare.APIStatusError) else None
    return CloudflareApiError(f"{action} failed: {api_reason(exc)}", status, api_codes(exc))
