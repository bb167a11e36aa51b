"""A local Cloudflare API v4 for tests: the documented request and response shapes over HTTP, strict like the real one.

Real client code (the official `cloudflare` SDK with `base_url=fake.base_url`, or `CLOUDFLARE_BASE_URL`) talks to
it as it talks to https://api.cloudflare.com/client/v4: the same paths and query parameters, the envelope
`{"success", "errors": [{"code", "message"}], "messages", "result", "result_info"}`, Bearer authentication,
pagination (D1 by page, R2 by cursor) and the error codes below. Nothing is kinder than the real API: an
unknown path, a token that does not cover an account or lacks a permission, a missing resource, SQL that
SQLite refuses, each fails the way Cloudflare fails it.

State belongs to one instance (one per test): accounts, zones, API tokens with the permissions they grant,
R2 buckets with their lifecycle document, D1 databases (each a real SQLite file behind the `/query` endpoint),
queues with their consumers, Worker scripts (modules, bindings, settings, cron schedules, workers.dev switch), the
account's workers.dev subdomain, Workers custom domains and zone routes. A script's content comes back as the API
sends it, multipart/form-data with one part per module; its secret bindings never come back with a value. Seed it
with the `add_*` methods; read it back with `rows` (D1) or the `state` dataclasses.

Faults: `fail_next(method, path, status, code, message)` answers an error envelope, `drop_next(method, path)`
closes the connection without an answer (a network error); both match `path` (a regex, relative to
`/client/v4`) and, with `when`, a predicate of the JSON body, and apply `times` times (None: always). A
token's `status` (`disabled`, `expired`), a missing permission or account, an existing name: all are plain state.

| status | code | when |
| --- | --- | --- |
| 400 | 6003 (chain 6111) | no `Authorization: Bearer <token>` header |
| 401 | 1000 | `.../tokens/verify` with a token that is not one (of this kind: user or account) |
| 403 | 9109 "Invalid access token" | any other endpoint with an unknown token, or one not `active` |
| 403 | 9109 "Unauthorized to access requested resource" | the token does not cover the account or zone |
| 403 | 10000 | the token lacks the endpoint's permission (`<group>:Read` or `:Edit`; Edit implies Read) |
| 403 | 10042 | R2 on an account that has not enabled it |
| 404 | 7003 | no such endpoint |
| 404 | 10006 / 7404 / 10007 | no such R2 bucket / D1 database / Worker script or workers.dev subdomain |
| 404 | 11000 | no such queue |
| 400 | 7500 | SQL that SQLite refuses, a transaction statement, params with several statements |

D1 `/query` runs a `sql` holding several statements "as a batch": the statements as SQLite delimits them (a
`;` inside a string, a comment or a trigger body does not end one), in a transaction that a failing statement
rolls back, answering one result per statement. A database added with `autocommit=True` runs each statement
on its own instead, so a failure leaves the statements before it applied: the case a runner must report
truthfully.

Extending (drift checks, and whatever else needs more of the API): endpoints come in groups, functions
`(router: Router) -> None` calling `router.add(method, template, handler, permission=...)`; pass more groups
with `FakeCloudflare(root, endpoints=[*DEFAULT_ENDPOINTS, my_group])` or call `fake.router.add(...)`. A handler
gets a `Call` (path parameters, query, JSON body, token, state) and returns `Result(value, info)` (or `Raw(body,
headers)` for an answer that is not an envelope) or raises `ApiFailure(status, code, message)`; the router has
checked the token, the account or zone in the path and the permission before it runs.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PREFIX = "/client/v4"
MAX_BODY = 10 * 1024 * 1024
NOW = "2026-01-01T00:00:00.000000Z"

# Permission groups as the dashboard names them (Account: Workers Scripts Edit, Zone: Workers Routes Edit).
ACCOUNT_SETTINGS = "Account Settings"
WORKERS_SCRIPTS = "Workers Scripts"
R2_STORAGE = "Workers R2 Storage"
D1 = "D1"
QUEUES = "Queues"
ZONE = "Zone"
WORKERS_ROUTES = "Workers Routes"
EVERY_PERMISSION = frozenset(f"{group}:Edit" for group in (
    ACCOUNT_SETTINGS, WORKERS_SCRIPTS, R2_STORAGE, D1, QUEUES, ZONE, WORKERS_ROUTES))


class ApiFailure(Exception):
    """An error answer: HTTP `status` with one `{code, message}` (and an optional error chain)."""

    def __init__(self, status: int, code: int, message: str, chain: Iterable[tuple[int, str]] = ()) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.chain = status, code, message, list(chain)

    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.chain:
            error["error_chain"] = [{"code": code, "message": message} for code, message in self.chain]
        return error


# -- state ------------------------------------------------------------------------------------------------


@dataclass
class Token:
    value: str = field(repr=False)
    id: str
    status: str = "active"  # or "disabled", "expired"
    owner: str | None = None  # None: a user token; an account id: an account-owned token
    accounts: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    permissions: frozenset[str] = EVERY_PERMISSION

    def grants(self, group: str, access: str) -> bool:
        return f"{group}:Edit" in self.permissions or (access == "Read" and f"{group}:Read" in self.permissions)


@dataclass
class Account:
    id: str
    name: str
    r2_enabled: bool = True
    workers_subdomain: str | None = None


@dataclass
class Zone:
    id: str
    name: str
    account_id: str


def _default_lifecycle() -> list[dict[str, Any]]:
    """The rule Cloudflare gives every new bucket (platform notes: declare it or a lifecycle write drops it)."""
    return [{"id": "Default Multipart Abort Rule", "enabled": True, "conditions": {"prefix": ""},
             "abortMultipartUploadsTransition": {"condition": {"type": "Age", "maxAge": 7 * 86_400}}}]


@dataclass
class Bucket:
    name: str
    location: str = "weur"
    storage_class: str = "Standard"
    # The lifecycle document as the API answers it (camelCase, R2's own spelling).
    lifecycle: list[dict[str, Any]] = field(default_factory=_default_lifecycle)


@dataclass
class Database:
    uuid: str
    name: str
    path: Path
    autocommit: bool = False


@dataclass
class QueueConsumer:
    """A Worker consumer of a queue, in the API's units (`max_wait_time_ms` in ms, `retry_delay` in s)."""

    consumer_id: str
    script_name: str
    settings: dict[str, Any]
    dead_letter_queue: str | None = None


@dataclass
class Queue:
    queue_id: str
    queue_name: str
    message_retention_period: int = 345_600
    consumers: list[QueueConsumer] = field(default_factory=list)


@dataclass
class Script:
    """A Worker script as uploaded: ES modules (main first), bindings as the upload's metadata spells them
    (secret_text with its `text`, which no endpoint ever answers), settings and cron schedules."""

    name: str
    handlers: tuple[str, ...] = ("fetch",)
    workers_dev: bool = False
    previews_enabled: bool = False
    main_module: str = "index.js"
    modules: dict[str, bytes] = field(default_factory=lambda: {"index.js": b"export default {};\n"})
    bindings: list[dict[str, Any]] = field(default_factory=list)
    compatibility_date: str = "2026-04-20"
    observability: dict[str, Any] = field(default_factory=lambda: {"enabled": False})
    schedules: list[str] = field(default_factory=list)


@dataclass
class CustomDomain:
    id: str
    hostname: str
    service: str
    zone_id: str
    zone_name: str
    environment: str = "production"


@dataclass
class Route:
    id: str
    pattern: str
    script: str | None


@dataclass
class State:
    accounts: dict[str, Account] = field(default_factory=dict)
    zones: dict[str, Zone] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    buckets: dict[str, dict[str, Bucket]] = field(default_factory=dict)  # account id -> name -> bucket
    databases: dict[str, dict[str, Database]] = field(default_factory=dict)  # account id -> uuid -> database
    queues: dict[str, dict[str, Queue]] = field(default_factory=dict)  # account id -> queue id -> queue
    scripts: dict[str, dict[str, Script]] = field(default_factory=dict)  # account id -> name -> script
    domains: dict[str, dict[str, CustomDomain]] = field(default_factory=dict)  # account id -> id -> domain
    routes: dict[str, dict[str, Route]] = field(default_factory=dict)  # zone id -> id -> route


# -- routing ------------------------------------------------------------------------------------------------


@dataclass
class Call:
    """What a handler sees: the matched path parameters, the query, the JSON body, the token, the state."""

    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    token: Token
    state: State
    fake: FakeCloudflare

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Result:
    value: Any
    info: dict[str, Any] | None = None


@dataclass
class Raw:
    """An answer that is not a JSON envelope (a script's content): the body with its own headers."""

    body: bytes
    headers: dict[str, str]


Handler = Callable[[Call], Result | Raw]


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    permission: tuple[str, str] | None  # (group, "Read" | "Edit")
    verifies_token: bool = False


class Router:
    """Endpoints by method and path template (`/accounts/{account_id}/r2/buckets/{bucket_name}`)."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def add(self, method: str, template: str, handler: Handler, permission: tuple[str, str] | None = None,
            verifies_token: bool = False) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.endpoints.append(Endpoint(method, template, re.compile(f"^{regex}$"), handler, permission,
                                       verifies_token))

    def match(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
        for endpoint in self.endpoints:
            if endpoint.method == method and (found := endpoint.pattern.match(path)):
                return endpoint, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


def _page(items: list[Any], call: Call, default: int, low: int, high: int) -> Result:
    """`page`/`per_page` pagination with the V4 `result_info`."""
    page, per_page = _int(call, "page", 1, 1, 1_000_000), _int(call, "per_page", default, low, high)
    chunk = items[(page - 1) * per_page: page * per_page]
    pages = max(1, -(-len(items) // per_page))
    return Result(chunk, {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(items),
                          "total_pages": pages})


def _int(call: Call, name: str, default: int, low: int, high: int) -> int:
    raw = call.arg(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiFailure(400, 1001, f"{name} must be an integer from {low} to {high}")
    return int(raw)


# -- endpoint groups ---------------------------------------------------------------------------------------


def tokens_accounts_zones(router: Router) -> None:
    def verify(call: Call) -> Result:
        return Result({"id": call.token.id, "status": call.token.status, "expires_on": None, "not_before": None})

    def account(call: Call) -> Result:
        found = call.state.accounts[call.params["account_id"]]
        return Result({"id": found.id, "name": found.name, "type": "standard", "created_on": NOW,
                       "settings": {"enforce_twofactor": False}})

    def zone(call: Call) -> Result:
        found = call.state.zones[call.params["zone_id"]]
        owner = call.state.accounts[found.account_id]
        return Result({"id": found.id, "name": found.name, "status": "active", "paused": False, "type": "full",
                       "account": {"id": owner.id, "name": owner.name}, "created_on": NOW, "modified_on": NOW,
                       "activated_on": NOW, "development_mode": 0, "meta": {}, "name_servers": [],
                       "original_name_servers": [], "owner": {}, "plan": {}, "permissions": []})

    router.add("GET", "/user/tokens/verify", verify, verifies_token=True)
    router.add("GET", "/accounts/{account_id}/tokens/verify", verify, verifies_token=True)
    router.add("GET", "/accounts/{account_id}", account, (ACCOUNT_SETTINGS, "Read"))
    router.add("GET", "/zones/{zone_id}", zone, (ZONE, "Read"))


def r2(router: Router) -> None:
    def buckets(call: Call) -> dict[str, Bucket]:
        if not call.state.accounts[call.params["account_id"]].r2_enabled:
            raise ApiFailure(403, 10042, "Please enable R2 through the Cloudflare Dashboard.")
        return call.state.buckets.setdefault(call.params["account_id"], {})

    def shape(bucket: Bucket) -> dict[str, Any]:
        return {"name": bucket.name, "creation_date": NOW, "location": bucket.location,
                "storage_class": bucket.storage_class, "jurisdiction": "default"}

    def listing(call: Call) -> Result:
        """Cursor pagination: `per_page` (1..1000, default 20), `cursor` from the previous `result_info`."""
        contains = call.arg("name_contains") or ""
        names = sorted(name for name in buckets(call) if contains in name)
        start = names.index(call.arg("cursor")) + 1 if call.arg("cursor") in names else 0
        per_page = _int(call, "per_page", 20, 1, 1000)
        chunk = names[start: start + per_page]
        cursor = chunk[-1] if start + per_page < len(names) else ""
        return Result({"buckets": [shape(buckets(call)[name]) for name in chunk]},
                      {"cursor": cursor, "per_page": per_page})

    def one(call: Call) -> Result:
        found = buckets(call).get(call.params["bucket_name"])
        if found is None:
            raise ApiFailure(404, 10006, "The specified bucket does not exist.")
        return Result(shape(found))

    def lifecycle(call: Call) -> Result:
        one(call)
        return Result({"rules": buckets(call)[call.params["bucket_name"]].lifecycle})

    router.add("GET", "/accounts/{account_id}/r2/buckets", listing, (R2_STORAGE, "Read"))
    router.add("GET", "/accounts/{account_id}/r2/buckets/{bucket_name}", one, (R2_STORAGE, "Read"))
    router.add("GET", "/accounts/{account_id}/r2/buckets/{bucket_name}/lifecycle", lifecycle, (R2_STORAGE, "Read"))


def d1(router: Router) -> None:
    def shape(database: Database) -> dict[str, Any]:
        return {"uuid": database.uuid, "name": database.name, "version": "production", "created_at": NOW,
                "num_tables": 0, "file_size": database.path.stat().st_size if database.path.exists() else 0}

    def listing(call: Call) -> Result:
        """`name` narrows the list to names containing it (callers must still compare exactly)."""
        databases = call.state.databases.get(call.params["account_id"], {}).values()
        found = sorted((d for d in databases if (call.arg("name") or "") in d.name), key=lambda d: d.name)
        return _page([shape(d) for d in found], call, default=1000, low=10, high=10000)

    def database(call: Call) -> Database:
        found = call.state.databases.get(call.params["account_id"], {}).get(call.params["database_id"])
        if found is None:
            raise ApiFailure(404, 7404, f"The database {call.params['database_id']} could not be found.")
        return found

    def query(call: Call) -> Result:
        if not isinstance(call.body, dict) or not isinstance(call.body.get("sql"), str):
            raise ApiFailure(400, 7400, "The request body must be a JSON object with a string `sql`.")
        return Result(run_batch(database(call), call.body["sql"], list(call.body.get("params") or [])))

    router.add("GET", "/accounts/{account_id}/d1/database", listing, (D1, "Read"))
    router.add("GET", "/accounts/{account_id}/d1/database/{database_id}", lambda call: Result(shape(database(call))),
               (D1, "Read"))
    router.add("POST", "/accounts/{account_id}/d1/database/{database_id}/query", query, (D1, "Edit"))


def queues(router: Router) -> None:
    def consumer(queue: Queue, found: QueueConsumer) -> dict[str, Any]:
        return {"consumer_id": found.consumer_id, "created_on": NOW, "queue_name": queue.queue_name,
                "script_name": found.script_name, "type": "worker", "settings": found.settings,
                **({"dead_letter_queue": found.dead_letter_queue} if found.dead_letter_queue else {})}

    def listing(call: Call) -> Result:
        found = sorted(call.state.queues.get(call.params["account_id"], {}).values(), key=lambda q: q.queue_name)
        return Result([{"queue_id": q.queue_id, "queue_name": q.queue_name, "created_on": NOW, "modified_on": NOW,
                        "producers": [], "producers_total_count": 0,
                        "consumers": [consumer(q, c) for c in q.consumers], "consumers_total_count": len(q.consumers),
                        "settings": {"message_retention_period": q.message_retention_period}} for q in found])

    def consumers(call: Call) -> Result:
        queue = call.state.queues.get(call.params["account_id"], {}).get(call.params["queue_id"])
        if queue is None:
            raise ApiFailure(404, 11000, "Queue does not exist")
        return Result([consumer(queue, c) for c in queue.consumers])

    router.add("GET", "/accounts/{account_id}/queues", listing, (QUEUES, "Read"))
    router.add("GET", "/accounts/{account_id}/queues/{queue_id}/consumers", consumers, (QUEUES, "Read"))


def workers(router: Router) -> None:
    def scripts(call: Call) -> dict[str, Script]:
        return call.state.scripts.setdefault(call.params["account_id"], {})

    def script(call: Call) -> Script:
        found = scripts(call).get(call.params["script_name"])
        if found is None:
            raise ApiFailure(404, 10007, "This Worker does not exist on your account.")
        return found

    def listing(call: Call) -> Result:
        return Result([{"id": s.name, "created_on": NOW, "modified_on": NOW, "etag": uuid.uuid5(
            uuid.NAMESPACE_URL, s.name).hex, "handlers": list(s.handlers), "has_modules": True, "usage_model":
            "standard", "compatibility_date": s.compatibility_date} for s in sorted(scripts(call).values(),
                                                                             key=lambda s: s.name)])

    def settings(call: Call) -> Result:
        return Result({"logpush": False, "observability": script(call).observability, "tags": [],
                       "tail_consumers": []})

    def script_and_version_settings(call: Call) -> Result:
        """Bindings as deployed, secret values left out (the API never returns them)."""
        found = script(call)
        bindings = [{k: v for k, v in b.items() if not (b["type"] == "secret_text" and k == "text")}
                    for b in found.bindings]
        return Result({"bindings": bindings, "compatibility_date": found.compatibility_date,
                       "compatibility_flags": [], "logpush": False, "observability": found.observability,
                       "tags": [], "tail_consumers": [], "usage_model": "standard"})

    def content(call: Call) -> Raw:
        """Every module as one part of multipart/form-data, the main module first and named in `cf-entrypoint`."""
        found = script(call)
        boundary = uuid.uuid5(uuid.NAMESPACE_URL, found.name).hex
        order = [found.main_module, *(name for name in found.modules if name != found.main_module)]
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
            f"Content-Type: application/javascript+module\r\n\r\n".encode() + found.modules[name] + b"\r\n"
            for name in order) + f"--{boundary}--\r\n".encode()
        return Raw(body, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                          "cf-entrypoint": found.main_module})

    def schedules(call: Call) -> Result:
        return Result({"schedules": [{"cron": cron, "created_on": NOW, "modified_on": NOW}
                                     for cron in script(call).schedules]})

    def script_subdomain(call: Call) -> Result:
        found = script(call)
        return Result({"enabled": found.workers_dev, "previews_enabled": found.previews_enabled})

    def account_subdomain(call: Call) -> Result:
        subdomain = call.state.accounts[call.params["account_id"]].workers_subdomain
        if subdomain is None:
            raise ApiFailure(404, 10007, "This account has no workers.dev subdomain.")
        return Result({"subdomain": subdomain})

    def domains(call: Call) -> Result:
        found = call.state.domains.get(call.params["account_id"], {}).values()
        filters = {key: call.arg(key) for key in ("hostname", "service", "zone_id", "zone_name", "environment")}
        chosen = [d for d in found if all(value is None or getattr(d, key) == value for key, value in filters.items())]
        return Result([{"id": d.id, "hostname": d.hostname, "service": d.service, "zone_id": d.zone_id,
                        "zone_name": d.zone_name, "environment": d.environment, "cert_id": ""} for d in chosen])

    def routes(call: Call) -> Result:
        found = call.state.routes.get(call.params["zone_id"], {}).values()
        return Result([{"id": r.id, "pattern": r.pattern, "script": r.script} for r in found])

    router.add("GET", "/accounts/{account_id}/workers/scripts", listing, (WORKERS_SCRIPTS, "Read"))
    router.add("GET", "/accounts/{account_id}/workers/scripts/{script_name}/script-settings", settings,
               (WORKERS_SCRIPTS, "Read"))
    router.add("GET", "/accounts/{account_id}/workers/scripts/{script_name}/settings", script_and_version_settings,
               (WORKERS_SCRIPTS, "Read"))
    router.add("GET", "/accounts/{account_id}/workers/scripts/{script_name}/content/v2", content,
               (WORKERS_SCRIPTS, "Read"))
    router.add("GET", "/accounts/{account_id}/workers/scripts/{script_name}/schedules", schedules,
               (WORKERS_SCRIPTS, "Read"))
    router.add("GET", "/accounts/{account_id}/workers/scripts/{script_name}/subdomain", script_subdomain,
               (WORKERS_SCRIPTS, "Read"))
    router.add("GET", "/accounts/{account_id}/workers/subdomain", account_subdomain, (WORKERS_SCRIPTS, "Read"))
    router.add("GET", "/accounts/{account_id}/workers/domains", domains, (WORKERS_SCRIPTS, "Read"))
    router.add("GET", "/zones/{zone_id}/workers/routes", routes, (WORKERS_ROUTES, "Read"))


DEFAULT_ENDPOINTS: tuple[Callable[[Router], None], ...] = (tokens_accounts_zones, r2, d1, queues, workers)


# -- D1's query semantics ----------------------------------------------------------------------------------

_TRANSACTION = re.compile(r"^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_NO_TRANSACTIONS = ("To execute a transaction, please use the state.storage.transaction() or "
                    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements")


def batch_statements(sql: str) -> list[str]:
    """The statements of a batch where SQLite delimits them; text after the last `;` that holds no statement
    (whitespace, comments) is not one."""
    statements, current = [], ""
    pieces = sql.split(";")
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        current += piece if last else piece + ";"
        if not last and sqlite3.complete_statement(current):
            statements.append(current)
            current = ""
    statements.append(current)
    return [s for s in statements if _COMMENTS.sub("", s).strip().strip(";").strip()]


def run_batch(database: Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Each statement in order; the first that fails (SQLite's error, or a transaction statement, which D1
    refuses) ends the batch, rolled back unless the database runs in autocommit mode."""
    statements = batch_statements(sql)
    if params and len(statements) > 1:
        raise ApiFailure(400, 7500, "A query with parameters must hold a single statement: SQLITE_ERROR")
    conn = sqlite3.connect(database.path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        if not database.autocommit:
            conn.execute("BEGIN")
        results = []
        for statement in statements:
            before = conn.total_changes
            try:
                if _TRANSACTION.match(_COMMENTS.sub("", statement)):
                    raise sqlite3.OperationalError(_NO_TRANSACTIONS)
                cursor = conn.execute(statement, params)
                rows = [dict(row) for row in cursor]
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise ApiFailure(400, 7500, f"{exc}: SQLITE_ERROR") from None
            changes = conn.total_changes - before
            results.append({"results": rows, "success": True, "meta": {
                "changed_db": changes > 0, "changes": changes, "duration": 0.1, "last_row_id": cursor.lastrowid or 0,
                "rows_read": len(rows), "rows_written": changes, "served_by_primary": True,
                "size_after": database.path.stat().st_size}})
        if conn.in_transaction:
            conn.execute("COMMIT")
        return results
    finally:
        conn.close()


# -- the server ---------------------------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str  # relative to /client/v4
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    times: int | None
    failure: ApiFailure | None  # None: drop the connection
    when: Callable[[Any], bool] | None = None

    def take(self, method: str, path: str, body: Any) -> bool:
        if self.method != method or not self.path.fullmatch(path) or self.times == 0:
            return False
        if self.when is not None and not self.when(body):
            return False
        if self.times is not None:
            self.times -= 1
        return True


class FakeCloudflare:
    """One fake Cloudflare API on 127.0.0.1 (`with FakeCloudflare(tmp_path) as api: ... api.base_url ...`)."""

    def __init__(self, root: Path, endpoints: Iterable[Callable[[Router], None]] = DEFAULT_ENDPOINTS) -> None:
        self.root = root
        self.state = State()
        self.router = Router()
        for group in endpoints:
            group(self.router)
        self.requests: list[Recorded] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls

            def _dispatch(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read `requests`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"
        self._thread: threading.Thread | None = None

    def start(self) -> FakeCloudflare:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeCloudflare:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- seeding -----------------------------------------------------------------------------------------

    def add_account(self, account_id: str, name: str = "Example account", *, r2_enabled: bool = True,
                    workers_subdomain: str | None = None) -> Account:
        account = self.state.accounts[account_id] = Account(account_id, name, r2_enabled, workers_subdomain)
        return account

    def add_zone(self, zone_id: str, name: str, account_id: str) -> Zone:
        zone = self.state.zones[zone_id] = Zone(zone_id, name, account_id)
        return zone

    def add_token(self, value: str, *, accounts: Iterable[str] = (), zones: Iterable[str] = (),
                  permissions: Iterable[str] = EVERY_PERMISSION, status: str = "active",
                  owner: str | None = None) -> Token:
        accounts = {*accounts, *([owner] if owner else [])}
        token = Token(value, uuid.uuid5(uuid.NAMESPACE_URL, value).hex, status, owner, frozenset(accounts),
                      frozenset(zones), frozenset(permissions))
        self.state.tokens[value] = token
        return token

    def add_bucket(self, account_id: str, name: str, **fields: Any) -> Bucket:
        bucket = self.state.buckets.setdefault(account_id, {})[name] = Bucket(name, **fields)
        return bucket

    def add_database(self, account_id: str, name: str, *, database_id: str | None = None,
                     autocommit: bool = False) -> Database:
        database_id = database_id or str(uuid.uuid4())
        database = Database(database_id, name, self.root / f"d1-{database_id}.sqlite", autocommit)
        self.state.databases.setdefault(account_id, {})[database_id] = database
        return database

    def add_queue(self, account_id: str, name: str, **fields: Any) -> Queue:
        queue = Queue(uuid.uuid4().hex, name, **fields)
        self.state.queues.setdefault(account_id, {})[queue.queue_id] = queue
        return queue

    def add_consumer(self, account_id: str, queue_name: str, script_name: str, settings: dict[str, Any],
                     dead_letter_queue: str | None = None) -> QueueConsumer:
        queue = next(q for q in self.state.queues.get(account_id, {}).values() if q.queue_name == queue_name)
        consumer = QueueConsumer(uuid.uuid4().hex, script_name, settings, dead_letter_queue)
        queue.consumers.append(consumer)
        return consumer

    def add_script(self, account_id: str, name: str, **fields: Any) -> Script:
        script = self.state.scripts.setdefault(account_id, {})[name] = Script(name, **fields)
        return script

    def add_custom_domain(self, account_id: str, hostname: str, service: str, zone_id: str) -> CustomDomain:
        domain = CustomDomain(uuid.uuid4().hex, hostname, service, zone_id, self.state.zones[zone_id].name)
        self.state.domains.setdefault(account_id, {})[domain.id] = domain
        return domain

    def add_route(self, zone_id: str, pattern: str, script: str | None) -> Route:
        route = Route(uuid.uuid4().hex, pattern, script)
        self.state.routes.setdefault(zone_id, {})[route.id] = route
        return route

    def rows(self, database: Database, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(database.path) as db:
            return db.execute(sql).fetchall()

    # -- faults -------------------------------------------------------------------------------------------

    def fail_next(self, method: str, path: str, status: int, code: int, message: str, times: int | None = 1,
                  when: Callable[[Any], bool] | None = None) -> None:
        self._faults.append(_Fault(method, re.compile(path), times, ApiFailure(status, code, message), when))

    def drop_next(self, method: str, path: str, times: int | None = 1,
                  when: Callable[[Any], bool] | None = None) -> None:
        self._faults.append(_Fault(method, re.compile(path), times, None, when))

    # -- one request ----------------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        path = url.path.removeprefix(PREFIX) if url.path.startswith(PREFIX + "/") else None
        query = parse_qs(url.query)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if 0 < length <= MAX_BODY else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            self.requests.append(Recorded(handler.command, path or url.path, query, headers, body))
            try:
                if length > MAX_BODY:
                    raise ApiFailure(413, 10413, "The request body is too large.")
                if path is None:
                    raise ApiFailure(404, 7003, f"Could not route to {url.path}, perhaps your object identifier "
                                                "is invalid?")
                fault = next((f for f in self._faults if f.take(handler.command, path, body)), None)
                if fault is not None and fault.failure is None:
                    return _drop(handler)
                if fault is not None and fault.failure is not None:
                    raise fault.failure
                if isinstance(body, str):
                    raise ApiFailure(400, 6007, "Malformed JSON in request body")
                result = self._route(handler.command, path, query, headers, body)
            except ApiFailure as failure:
                return _answer(handler, failure.status, {"success": False, "errors": [failure.error()],
                                                         "messages": [], "result": None})
        if isinstance(result, Raw):
            return _send(handler, 200, result.body, result.headers)
        envelope: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result.value}
        if result.info is not None:
            envelope["result_info"] = result.info
        _answer(handler, 200, envelope)

    def _route(self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str],
               body: Any) -> Result | Raw:
        matched = self.router.match(method, path)
        if matched is None:
            raise ApiFailure(404, 7003, f"Could not route to {PREFIX}{path}, perhaps your object identifier is "
                                        "invalid?")
        endpoint, params = matched
        token = self._authenticate(headers, endpoint, params)
        account_id = params.get("account_id")
        if account_id is not None and (account_id not in self.state.accounts or account_id not in token.accounts):
            raise ApiFailure(403, 9109, "Unauthorized to access requested resource")
        zone_id = params.get("zone_id")
        if zone_id is not None and (zone_id not in self.state.zones or zone_id not in token.zones):
            raise ApiFailure(403, 9109, "Unauthorized to access requested resource")
        if endpoint.permission is not None and not token.grants(*endpoint.permission):
            raise ApiFailure(403, 10000, "Authentication error")
        return endpoint.handler(Call(params, query, body, token, self.state, self))

    def _authenticate(self, headers: Mapping[str, str], endpoint: Endpoint, params: dict[str, str]) -> Token:
        match = re.fullmatch(r"Bearer ([A-Za-z0-9_-]{16,})", headers.get("authorization", ""))
        if match is None:
            raise ApiFailure(400, 6003, "Invalid request headers", [(6111, "Invalid format for Authorization header")])
        token = self.state.tokens.get(match.group(1))
        if endpoint.verifies_token:
            # A user token verifies at /user/tokens/verify, an account-owned one at its account's endpoint.
            if token is None or token.owner != params.get("account_id"):
                raise ApiFailure(401, 1000, "Invalid API Token")
            return token
        if token is None or token.status != "active":
            raise ApiFailure(403, 9109, "Invalid access token")
        return token


def _answer(handler: BaseHTTPRequestHandler, status: int, envelope: dict[str, Any]) -> None:
    _send(handler, status, json.dumps(envelope).encode(), {"Content-Type": "application/json"})


def _send(handler: BaseHTTPRequestHandler, status: int, payload: bytes, headers: Mapping[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def _drop(handler: BaseHTTPRequestHandler) -> None:
    """A network error: the connection closes before any answer."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)
