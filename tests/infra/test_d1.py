"""The two D1 executors: the local one on the very file wrangler uses, the Cloudflare one at the HTTP layer.

HTTP tests answer with the D1 API's documented request/response shapes (see `d1_support`): the SDK
request is checked for its path, headers and body, and the documented envelopes are answered back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import pytest

from infra.d1.executors import (
    CloudflareD1Executor,
    D1Error,
    LocalD1Executor,
    cloudflare_client,
    durable_object_id,
    executor_for,
    local_database_path,
)
from infra.model.settings import REPO_ROOT, load_settings

from .conftest import ACCOUNT_ID
from .d1_support import DATABASE_ID, LOCAL_DATABASE, wrangler_d1, write_d1_config

QUERY_PATH = f"/client/v4/accounts/{ACCOUNT_ID}/d1/database/{DATABASE_ID}/query"
TOKEN = "test-token-d1"


# -- local -------------------------------------------------------------------------------------------------


def test_local_database_file_is_named_like_miniflare_names_it() -> None:
    # The id wrangler's local D1 of this project lives under (checked against a wrangler-created file below).
    assert durable_object_id("miniflare-D1DatabaseObject", LOCAL_DATABASE) == (
        "236b9eecdda48b244694673641aa2f2515cd71311048e23062dd15be6756bd49"
    )


def test_local_executor_reads_what_wrangler_wrote_and_wrangler_reads_what_it_wrote(tmp_path: Path) -> None:
    config = write_d1_config(tmp_path / "config", tmp_path / "migrations")
    persist = tmp_path / "state"
    wrangler_d1(config, persist, "execute", "--command", "CREATE TABLE probe (v TEXT); INSERT INTO probe VALUES ('w')")
    executor = LocalD1Executor(persist, LOCAL_DATABASE)
    assert executor.path == local_database_path(persist, LOCAL_DATABASE) and executor.path.exists()
    executor.run_batch("INSERT INTO probe VALUES ('py');")
    assert executor.query("SELECT v FROM probe ORDER BY v") == [{"v": "py"}, {"v": "w"}]
    out = wrangler_d1(config, persist, "execute", "--json", "--command", "SELECT v FROM probe ORDER BY v")
    assert json.loads(out.stdout)[0]["results"] == [{"v": "py"}, {"v": "w"}]


def test_local_batch_is_all_or_nothing_and_names_the_failing_statement(tmp_path: Path) -> None:
    executor = LocalD1Executor(tmp_path, LOCAL_DATABASE)
    executor.run_batch("CREATE TABLE t (v TEXT NOT NULL);")
    with pytest.raises(D1Error) as failure:
        executor.run_batch("INSERT INTO t VALUES ('a');\nCREATE TABLE u (x);\nINSERT INTO t VALUES (NULL);\n")
    assert str(failure.value) == "NOT NULL constraint failed: t.v"
    assert failure.value.statement == "INSERT INTO t VALUES (NULL)"
    assert executor.query("SELECT count(*) AS n FROM t") == [{"n": 0}]
    assert executor.query("SELECT name FROM sqlite_master WHERE name = 'u'") == []


def test_local_query_binds_parameters(tmp_path: Path) -> None:
    executor = LocalD1Executor(tmp_path, LOCAL_DATABASE)
    executor.run_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x''y');")
    assert executor.query("SELECT v FROM t WHERE v = ?", ["x'y"]) == [{"v": "x'y"}]


def test_a_read_only_local_executor_creates_nothing_and_reads_a_missing_database_as_empty(tmp_path: Path) -> None:
    executor = LocalD1Executor(tmp_path / "state", LOCAL_DATABASE, read_only=True)
    assert executor.query("SELECT name FROM sqlite_master") == []
    with pytest.raises(D1Error) as failure:
        executor.run_batch("CREATE TABLE t (v TEXT);")
    assert str(failure.value) == (f"run SQL on local D1 '{LOCAL_DATABASE}' in {tmp_path / 'state'} failed: opened "
                                  "read-only (a dry run)")
    assert not (tmp_path / "state").exists()


def test_the_local_stack_uses_the_folder_make_dev_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "dev-state"))
    assert executor_for(load_settings("local")).persist_to == tmp_path / "dev-state" / "state"
    monkeypatch.setenv("LOCAL_STATE_DIR", "relative/state-dir")
    assert executor_for(load_settings("local")).persist_to == REPO_ROOT / "relative" / "state-dir" / "state"
    monkeypatch.delenv("LOCAL_STATE_DIR")
    assert executor_for(load_settings("local")).persist_to == REPO_ROOT / ".local" / "state"


def test_the_local_stack_uses_the_local_database_and_the_others_the_api(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    local = executor_for(load_settings("local"), tmp_path)
    assert isinstance(local, LocalD1Executor) and local.database_id == LOCAL_DATABASE
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(D1Error) as failure:
        executor_for(load_settings("staging"), tmp_path)
    assert str(failure.value) == ("open database of stack 'staging' failed: --persist-to only applies to the "
                                  "local stack")


# -- Cloudflare D1 HTTP API ------------------------------------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


def envelope(result: Any, errors: list[dict[str, Any]] | None = None, status: int = 200, **extra: Any
             ) -> httpx.Response:
    return httpx.Response(status, json={"result": result, "success": not errors, "errors": errors or [],
                                        "messages": [], **extra})


def query_result(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"results": rows, "success": True,
            "meta": {"changed_db": False, "changes": 0, "duration": 0.2, "last_row_id": 0, "rows_read": len(rows),
                     "rows_written": 0, "size_after": 16384, "served_by_primary": True}}


class Wire:
    """An httpx transport that records each request and answers with `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self._handler = handler

    def client(self) -> cloudflare.Cloudflare:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self._handler(request)

        return cloudflare.Cloudflare(api_token=TOKEN, http_client=httpx.Client(transport=httpx.MockTransport(handle)))


def test_query_posts_sql_and_params_and_returns_the_rows() -> None:
    seen = Wire(lambda request: envelope([query_result([{"name": "0001_create_runs.sql"}])]))
    executor = CloudflareD1Executor(seen.client(), ACCOUNT_ID, DATABASE_ID)
    rows = executor.query("SELECT name FROM d1_migrations WHERE name = ?", ["0001_create_runs.sql"])
    assert rows == [{"name": "0001_create_runs.sql"}]
    (request,) = seen.requests
    assert (request.method, request.url.path) == ("POST", QUERY_PATH)
    assert request.url.host == "api.cloudflare.com"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"sql": "SELECT name FROM d1_migrations WHERE name = ?",
                                           "params": ["0001_create_runs.sql"]}


def test_a_batch_is_one_query_call_with_the_script_as_written() -> None:
    seen = Wire(lambda request: envelope([query_result([]), query_result([])]))
    script = "CREATE TABLE t (v TEXT) -- a note\n;\nINSERT INTO t VALUES ('a;b');\n"
    CloudflareD1Executor(seen.client(), ACCOUNT_ID, DATABASE_ID).run_batch(script)
    (request,) = seen.requests
    assert json.loads(request.content) == {"sql": script}


def test_a_failed_batch_is_not_retried_and_reports_d1s_error() -> None:
    seen = Wire(lambda request: envelope(None, [{"code": 7500, "message": "no such table: nope: SQLITE_ERROR"}], 400))
    executor = CloudflareD1Executor(seen.client(), ACCOUNT_ID, DATABASE_ID, "qwen-image-staging-metadata")
    with pytest.raises(D1Error) as failure:
        executor.run_batch("INSERT INTO nope VALUES (1);")
    assert str(failure.value) == ("no such table: nope: SQLITE_ERROR [code 7500] "
                                  "(on D1 'qwen-image-staging-metadata')")
    assert failure.value.statement is None
    assert len(seen.requests) == 1


def test_a_server_error_on_the_atomic_call_is_not_retried() -> None:
    seen = Wire(lambda request: envelope(None, [{"code": 7000, "message": "internal error"}], 500))
    with pytest.raises(D1Error, match=r"^internal error \[code 7000\]"):
        CloudflareD1Executor(seen.client(), ACCOUNT_ID, DATABASE_ID).run_batch("SELECT 1;")
    assert len(seen.requests) == 1


def test_an_authentication_error_is_reported_with_cloudflares_message() -> None:
    seen = Wire(lambda request: envelope(None, [{"code": 10000, "message": "Authentication error"}], 403))
    with pytest.raises(D1Error) as failure:
        CloudflareD1Executor(seen.client(), ACCOUNT_ID, DATABASE_ID).query("SELECT 1")
    assert str(failure.value) == f"Authentication error [code 10000] (on D1 '{DATABASE_ID}')"


def test_an_unsuccessful_statement_in_a_200_answer_is_an_error() -> None:
    seen = Wire(lambda request: envelope([{**query_result([]), "success": False}]))
    with pytest.raises(D1Error, match="D1 reported an unsuccessful statement"):
        CloudflareD1Executor(seen.client(), ACCOUNT_ID, DATABASE_ID).query("SELECT 1")


def test_the_stack_database_is_looked_up_by_its_physical_name() -> None:
    listing = {"uuid": DATABASE_ID, "name": "qwen-image-staging-metadata", "version": "production",
               "created_at": "2026-01-01T00:00:00.000Z"}
    info = {"page": 1, "per_page": 20, "count": 1, "total_count": 1}
    seen = Wire(lambda request: envelope([listing], result_info=info))
    executor = CloudflareD1Executor.for_stack(load_settings("staging"), client=seen.client())
    assert executor.database_id == DATABASE_ID
    (request,) = seen.requests
    assert (request.method, request.url.path) == ("GET", f"/client/v4/accounts/{ACCOUNT_ID}/d1/database")
    assert request.url.params["name"] == "qwen-image-staging-metadata"


def test_a_stack_whose_database_does_not_exist_yet_says_what_to_do() -> None:
    info = {"page": 1, "per_page": 20, "count": 0, "total_count": 0}
    seen = Wire(lambda request: envelope([], result_info=info))
    with pytest.raises(D1Error) as failure:
        CloudflareD1Executor.for_stack(load_settings("production"), client=seen.client())
    assert str(failure.value) == (
        f"look up database 'qwen-image-production-metadata' failed: account {ACCOUNT_ID} has no D1 database of "
        "that name; run `pulumi up` for the stack first, or pass --database-id"
    )


def test_a_given_database_id_needs_no_lookup() -> None:
    seen = Wire(lambda request: envelope([]))
    executor = CloudflareD1Executor.for_stack(load_settings("staging"), DATABASE_ID, client=seen.client())
    assert executor.database_id == DATABASE_ID and seen.requests == []


def test_the_api_token_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(D1Error) as failure:
        cloudflare_client("apply migrations to 'qwen-image-staging-metadata'")
    assert str(failure.value) == (
        "apply migrations to 'qwen-image-staging-metadata' failed: CLOUDFLARE_API_TOKEN is not set; export an API "
        "token with the 'D1 Edit' permission for the stack's account"
    )
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "from-env")
    assert cloudflare_client("x").api_token == "from-env"
