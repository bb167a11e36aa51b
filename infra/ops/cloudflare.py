"""Read-only questions about a Cloudflare account, asked through the official `cloudflare` SDK.

What `infra preflight` and `infra adopt` need to know before a deploy: is the token valid, what exists
under the names a stack uses, where the custom domains and routes point. Each method answers one question
with plain values (absence is `None` or `False`, never an error) or raises `CloudflareApiError` with the API's
own message and code in one line. The SDK reads `CLOUDFLARE_BASE_URL` like the Pulumi provider does, so tests
point it at a local fake of the API.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import cloudflare

from infra.d1.executors import TOKEN_ENV, api_reason
from infra.errors import InfraError

T = TypeVar("T")
BASE_URL_ENV = "CLOUDFLARE_BASE_URL"
# Cloudflare's error codes that mean "there is nothing by that name" for the lookups below.
_NOT_FOUND = {10006, 10007, 7404}


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

    def routes(self, zone_id: str) -> list[Route]:
        found = self._ask(f"list the Workers routes of zone {zone_id}",
                          lambda: self._client.workers.routes.list(zone_id=zone_id))
        return [Route(route.id, route.pattern, route.script) for route in found]

    def _ask(self, action: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except cloudflare.APIError as exc:
            raise _error(action, exc) from None

    def _exists(self, action: str, call: Callable[[], object]) -> bool:
        try:
            call()
        except cloudflare.APIStatusError as exc:
            if exc.status_code == 404 and set(_codes(exc)) & _NOT_FOUND:
                return False
            raise _error(action, exc) from None
        except cloudflare.APIError as exc:
            raise _error(action, exc) from None
        return True


def _codes(exc: cloudflare.APIError) -> tuple[int, ...]:
    body = exc.body if isinstance(exc.body, dict) else {}
    return tuple(e["code"] for e in body.get("errors") or [] if isinstance(e, dict) and isinstance(e.get("code"), int))


def _error(action: str, exc: cloudflare.APIError) -> CloudflareApiError:
    status = exc.status_code if isinstance(exc, cloudflare.APIStatusError) else None
    return CloudflareApiError(f"{action} failed: {api_reason(exc)}", status, _codes(exc))
