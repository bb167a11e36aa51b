"""Two ways to run SQL on a stack's D1 database, behind one small interface (`D1Executor`).

- `CloudflareD1Executor`: the D1 HTTP API through the official `cloudflare` SDK, for deployed stacks.
- `LocalD1Executor`: the SQLite file that `wrangler dev --persist-to DIR` and
  `wrangler d1 migrations apply --local --persist-to DIR` use (miniflare keeps each local D1 database in
  `DIR/v3/d1/miniflare-D1DatabaseObject/<durable object id>.sqlite`). It opens that file directly rather
  than shelling out to `wrangler d1 execute --local`: a real `BEGIN IMMEDIATE … COMMIT` transaction, the
  exact failing statement, bound parameters and milliseconds per call instead of ~1.5 s of Node start-up.
  SQLite's file locking keeps it safe beside a running `wrangler dev` (workerd uses the native VFS).

`run_batch` is the unit a migration is applied in: the migration file's own text plus its bookkeeping rows,
run as one batch. Locally that is a real transaction; on Cloudflare, D1 runs a batch as one, but nothing here
relies on it: after a failed batch the migration runner reads the database back (`infra.d1.migrations`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import cloudflare

from infra.d1.sql import split_statements
from infra.errors import InfraError
from infra.model.naming import Role, physical_name
from infra.model.settings import REPO_ROOT, StackSettings

Row = dict[str, Any]
# Where `make dev` (localdev.system.LocalSystem) keeps its local state: `$LOCAL_STATE_DIR` (relative paths
# from the checkout, where `make` runs) or `.local`; wrangler's --persist-to folder is `state/` inside it.
LOCAL_STATE_ENV = "LOCAL_STATE_DIR"
DEFAULT_LOCAL_STATE = REPO_ROOT / ".local"
PERSIST_SUBDIR = "state"
TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
_MINIFLARE_D1_KEY = "miniflare-D1DatabaseObject"


class D1Error(InfraError):
    """SQL failed or the database could not be reached. `statement` is the failing one when it is known
    (the local executor always knows it; D1's HTTP API reports only the error); `rolled_back` is True when the
    executor itself rolled the batch back, None when it cannot know; `codes` are the D1 API's error codes."""

    def __init__(self, message: str, statement: str | None = None, rolled_back: bool | None = None,
                 codes: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.statement = statement
        self.rolled_back = rolled_back
        self.codes = codes


class D1Executor(Protocol):
    """What the migration runner and the support tooling need from a database."""

    description: str

    def query(self, sql: str, params: Sequence[str] = ()) -> list[Row]:
        """Run one statement; its rows as dicts."""
        ...

    def run_batch(self, sql: str) -> None:
        """Run a SQL script (its statements in order, comments and all) as one batch."""
        ...

    def restore_hint(self, before: str) -> str:
        """How to bring the database back to its state at `before` (an RFC 3339 time)."""
        ...


def local_state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The folder `make dev` keeps its state in, as it chooses it."""
    chosen = environ.get(LOCAL_STATE_ENV)
    return REPO_ROOT / chosen if chosen else DEFAULT_LOCAL_STATE


# -- local: the miniflare SQLite file --------------------------------------------------------------


def durable_object_id(unique_key: str, name: str) -> str:
    """Miniflare's `durableObjectNamespaceIdFromName`: the file name of a local D1 database."""
    key = hashlib.sha256(unique_key.encode()).digest()
    name_mac = hmac.new(key, name.encode(), hashlib.sha256).digest()[:16]
    return (name_mac + hmac.new(key, name_mac, hashlib.sha256).digest()[:16]).hex()


def miniflare_sqlite(persist_to: Path, plugin: str, object_class: str, name: str) -> Path:
    """The SQLite file miniflare keeps for one local D1 database (`d1`, `miniflare-D1DatabaseObject`) or R2
    bucket (`r2`, `miniflare-R2BucketObject`) named `name` under `--persist-to persist_to`."""
    return persist_to / "v3" / plugin / object_class / f"{durable_object_id(object_class, name)}.sqlite"


def local_database_path(persist_to: Path, database_id: str) -> Path:
    """The file `wrangler dev --persist-to persist_to` uses for the D1 binding with `database_id`."""
    return miniflare_sqlite(persist_to, "d1", _MINIFLARE_D1_KEY, database_id)


class LocalD1Executor:
    """The local D1 database of `wrangler dev`; created (as wrangler would) when it does not exist yet, unless
    `read_only`: then a missing database reads as an empty one and nothing is created on disk (dry runs)."""

    def __init__(self, persist_to: Path, database_id: str, busy_timeout: float = 10.0, read_only: bool = False) -> None:
        self.persist_to = persist_to
        self.database_id = database_id
        self.path = local_database_path(persist_to, database_id)
        self.description = f"local D1 '{database_id}' in {persist_to}"
        self.read_only = read_only
        self._busy_timeout = busy_timeout

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            target = f"{self.path.as_uri()}?mode=ro" if self.path.exists() else ":memory:"
            conn = sqlite3.connect(target, uri=True, isolation_level=None, timeout=self._busy_timeout)
            conn.row_factory = sqlite3.Row
            return conn
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are exactly the ones written below, never implicit ones.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self._busy_timeout)
        conn.row_factory = sqlite3.Row
        if new:
            conn.execute("PRAGMA journal_mode=WAL")  # what workerd uses for the files it creates
        return conn

    def query(self, sql: str, params: Sequence[str] = ()) -> list[Row]:
        conn = self._connect()
        try:
            return [dict(row) for row in conn.execute(sql, tuple(params))]
        except sqlite3.Error as exc:
            raise D1Error(f"{exc} (on {self.description})", sql) from None
        finally:
            conn.close()

    def run_batch(self, sql: str) -> None:
        """One transaction; each statement runs on its own (as SQLite delimits them), so a failure names it."""
        if self.read_only:
            raise D1Error(f"run SQL on {self.description} failed: opened read-only (a dry run)")
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway through
            for statement in split_statements(sql):
                try:
                    conn.execute(statement)
                except sqlite3.Error as exc:
                    if conn.in_transaction:  # some errors (ON CONFLICT ROLLBACK) have rolled back already
                        conn.execute("ROLLBACK")
                    raise D1Error(str(exc), statement, rolled_back=True) from None
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # BEGIN or COMMIT themselves (a lock held too long by another process)
            raise D1Error(f"{exc} (on {self.description})") from None
        finally:
            conn.close()

    def restore_hint(self, before: str) -> str:
        return (f"local databases keep no history: delete {self.path} and run `infra migrate --stack local` "
                "(or `make dev`) to build it again from the migrations")


# -- Cloudflare: the D1 HTTP API -------------------------------------------------------------------


class CloudflareD1Executor:
    """`POST /accounts/{account_id}/d1/database/{database_id}/query` through the `cloudflare` SDK.

    A batch goes as one `sql` string holding the script as written, which is what wrangler's own
    `d1 migrations apply --remote` sends (the file's text, then its `d1_migrations` insert): D1 splits it into
    statements itself, so comments, `;` in strings and trigger bodies mean what they mean in SQLite. D1 runs a
    batch as a transaction. A batch is never retried by the SDK: a retry after a lost response would fail on
    what the first attempt did and hide the real outcome.
    """

    def __init__(self, client: cloudflare.Cloudflare, account_id: str, database_id: str, name: str = "") -> None:
        self._client = client
        self.account_id = account_id
        self.database_id = database_id
        self.name = name or database_id
        self.description = f"D1 '{self.name}'"

    @classmethod
    def for_stack(cls, settings: StackSettings, database_id: str | None = None,
                  client: cloudflare.Cloudflare | None = None) -> CloudflareD1Executor:
        """The stack's database; its id is looked up by its physical name unless given."""
        name = physical_name(settings, Role.METADATA)
        client = client or cloudflare_client(f"open database '{name}'")
        account_id = settings.cloudflare.account_id
        if database_id is None:
            try:
                # The first page only: the name filter leaves at most one database (iterating would page on).
                page = client.d1.database.list(account_id=account_id, name=name)
                found = [db.uuid for db in page.result if db.name == name]
            except cloudflare.APIError as exc:
                raise D1Error(f"look up database '{name}' failed: {api_reason(exc)}") from None
            if len(found) != 1 or not found[0]:
                raise D1Error(f"look up database '{name}' failed: account {account_id} has no D1 database of "
                              "that name; run `pulumi up` for the stack first, or pass --database-id")
            database_id = found[0]
        return cls(client, account_id, database_id, name)

    def query(self, sql: str, params: Sequence[str] = ()) -> list[Row]:
        results = self._post(self._client, sql, list(params))
        return [dict(row) for row in (results[0].results or [])] if results else []

    def run_batch(self, sql: str) -> None:
        self._post(self._client.with_options(max_retries=0), sql, [])

    def restore_hint(self, before: str) -> str:
        return (f"restore it with D1 Time Travel to just before this run: `wrangler d1 time-travel restore "
                f"{self.name} --timestamp {before}` (with CLOUDFLARE_ACCOUNT_ID={self.account_id}; pick an earlier "
                "time if this machine's clock runs ahead)")

    def _post(self, client: cloudflare.Cloudflare, sql: str, params: list[str]) -> list[Any]:
        try:
            page = client.d1.database.query(
                self.database_id, account_id=self.account_id, sql=sql, **({"params": params} if params else {})
            )
        except cloudflare.APIError as exc:
            raise D1Error(f"{api_reason(exc)} (on {self.description})", codes=api_codes(exc)) from None
        results = list(page.result or [])
        if any(result.success is False for result in results):
            raise D1Error(f"D1 reported an unsuccessful statement (on {self.description})")
        return results


def cloudflare_client(action: str) -> cloudflare.Cloudflare:
    """An SDK client with the token the Cloudflare Pulumi provider also reads (`CLOUDFLARE_API_TOKEN`)."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise D1Error(f"{action} failed: {TOKEN_ENV} is not set; export an API token with the "
                      "'D1 Edit' permission for the stack's account")
    return cloudflare.Cloudflare(api_token=token)


def api_reason(exc: cloudflare.APIError) -> str:
    """D1's own error messages from the response envelope (`errors: [{code, message}]`) when there are any."""
    body = exc.body if isinstance(exc.body, dict) else {}
    errors = [f"{e.get('message')} [code {e.get('code')}]" for e in body.get("errors") or [] if isinstance(e, dict)]
    if errors:
        return "; ".join(errors)
    if isinstance(exc, cloudflare.APIStatusError):
        return f"HTTP {exc.status_code} from the Cloudflare API"
    return f"{exc.message} ({exc.request.url.host})"


def api_codes(exc: cloudflare.APIError) -> tuple[int, ...]:
    """The error codes of the response envelope."""
    body = exc.body if isinstance(exc.body, dict) else {}
    return tuple(e["code"] for e in body.get("errors") or [] if isinstance(e, dict) and isinstance(e.get("code"), int))


def executor_for(settings: StackSettings, persist_to: Path | None = None, database_id: str | None = None,
                 read_only: bool = False) -> D1Executor:
    """The local database for the `local` stack (where `make dev` keeps it unless `persist_to` says otherwise),
    the deployed one for every other stack. `read_only` (dry runs) creates nothing locally; the Cloudflare
    executor only writes when told to run a batch."""
    if settings.environment == "local":
        # Locally the D1 binding's database_id is its name (see infra.generate.wrangler).
        persist_to = persist_to or local_state_dir() / PERSIST_SUBDIR
        return LocalD1Executor(persist_to, physical_name(settings, Role.METADATA), read_only=read_only)
    if persist_to is not None:
        raise D1Error(f"open database of stack '{settings.environment}' failed: --persist-to only applies "
                      "to the local stack")
    return CloudflareD1Executor.for_stack(settings, database_id)
