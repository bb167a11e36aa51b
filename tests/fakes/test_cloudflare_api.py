"""The fake Cloudflare API is as strict as its docstring says, seen through the official `cloudflare` SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudflare
import pytest

from tests.fakes.cloudflare_api import (
    D1,
    DEFAULT_ENDPOINTS,
    R2_STORAGE,
    WORKERS_SCRIPTS,
    ApiFailure,
    Call,
    FakeCloudflare,
    Result,
    Router,
)

ACCOUNT = "0123456789abcdef0123456789abcdef"
OTHER_ACCOUNT = "fedcba9876543210fedcba9876543210"
TOKEN = "fake-api-test-token-000000000000"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeCloudflare]:
    with FakeCloudflare(tmp_path) as fake:
        fake.add_account(ACCOUNT)
        fake.add_account(OTHER_ACCOUNT)
        fake.add_token(TOKEN, accounts=[ACCOUNT])
        yield fake


def client(api: FakeCloudflare, token: str = TOKEN) -> cloudflare.Cloudflare:
    return cloudflare.Cloudflare(api_token=token, base_url=api.base_url, max_retries=0)


def error_of(call: Any) -> tuple[int, list[dict[str, Any]]]:
    with pytest.raises(cloudflare.APIStatusError) as failure:
        call()
    return failure.value.status_code, failure.value.body["errors"]


def test_tokens_verify_where_their_kind_verifies(api: FakeCloudflare) -> None:
    assert client(api).user.tokens.verify().status == "active"
    api.add_token("account-owned-token-000000000000", owner=ACCOUNT)
    owned = client(api, "account-owned-token-000000000000")
    assert owned.accounts.tokens.verify(account_id=ACCOUNT).status == "active"
    assert error_of(owned.user.tokens.verify) == (401, [{"code": 1000, "message": "Invalid API Token"}])
    assert error_of(client(api, "not-a-token-of-this-api-000000").user.tokens.verify)[1][0]["code"] == 1000


def test_authentication_errors_have_cloudflares_codes(api: FakeCloudflare) -> None:
    listing = lambda c: lambda: c.workers.scripts.list(account_id=ACCOUNT)  # noqa: E731
    assert error_of(listing(client(api, "short"))) == (400, [{
        "code": 6003, "message": "Invalid request headers",
        "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}]}])
    assert error_of(listing(client(api, "unknown-token-00000000000000000"))) == (
        403, [{"code": 9109, "message": "Invalid access token"}])
    api.add_token("disabled-token-0000000000000000", accounts=[ACCOUNT], status="disabled")
    assert error_of(listing(client(api, "disabled-token-0000000000000000")))[1][0]["code"] == 9109
    assert error_of(lambda: client(api).workers.scripts.list(account_id=OTHER_ACCOUNT)) == (
        403, [{"code": 9109, "message": "Unauthorized to access requested resource"}])


def test_a_permission_is_needed_for_each_endpoint_and_edit_implies_read(api: FakeCloudflare) -> None:
    database = api.add_database(ACCOUNT, "db")
    api.add_token("d1-read-only-token-0000000000000", accounts=[ACCOUNT], permissions=[f"{D1}:Read"])
    reader = client(api, "d1-read-only-token-0000000000000")
    assert [d.name for d in reader.d1.database.list(account_id=ACCOUNT)] == ["db"]
    denied = (403, [{"code": 10000, "message": "Authentication error"}])
    assert error_of(lambda: reader.d1.database.query(database.uuid, account_id=ACCOUNT, sql="SELECT 1")) == denied
    assert error_of(lambda: reader.r2.buckets.list(account_id=ACCOUNT)) == denied


def test_unknown_paths_and_missing_resources_are_404_with_their_codes(api: FakeCloudflare) -> None:
    sdk = client(api)
    assert error_of(lambda: sdk.get("/nothing/here", cast_to=object))[1][0]["code"] == 7003
    assert error_of(lambda: sdk.r2.buckets.get("nope", account_id=ACCOUNT)) == (
        404, [{"code": 10006, "message": "The specified bucket does not exist."}])
    assert error_of(lambda: sdk.workers.scripts.settings.get("nope", account_id=ACCOUNT))[1][0]["code"] == 10007
    assert error_of(lambda: sdk.workers.subdomains.get(account_id=ACCOUNT))[1][0]["code"] == 10007
    api.state.accounts[ACCOUNT].r2_enabled = False
    assert error_of(lambda: sdk.r2.buckets.list(account_id=ACCOUNT)) == (
        403, [{"code": 10042, "message": "Please enable R2 through the Cloudflare Dashboard."}])


def test_r2_lists_page_by_cursor_and_d1_by_page(api: FakeCloudflare) -> None:
    for index in range(25):
        api.add_bucket(ACCOUNT, f"bucket-{index:02d}")
        api.add_database(ACCOUNT, f"db-{index:02d}")
    sdk, names, cursor = client(api), [], None
    while True:
        raw = sdk.r2.buckets.with_raw_response.list(account_id=ACCOUNT, per_page=10,
                                                    **({"cursor": cursor} if cursor else {})).json()
        names += [b["name"] for b in raw["result"]["buckets"]]
        cursor = raw["result_info"]["cursor"]
        if not cursor:
            break
    assert names == [f"bucket-{i:02d}" for i in range(25)]
    assert [d.name for d in sdk.d1.database.list(account_id=ACCOUNT, per_page=10)] == [f"db-{i:02d}" for i in range(25)]
    assert [d.name for d in sdk.d1.database.list(account_id=ACCOUNT, name="db-1").result] == [
        f"db-1{i}" for i in range(10)], "the name filter narrows, it does not match exactly"
    assert error_of(lambda: sdk.d1.database.list(account_id=ACCOUNT, per_page=5))[0] == 400


def test_a_d1_batch_answers_per_statement_and_rolls_back_on_failure(api: FakeCloudflare) -> None:
    database, sdk = api.add_database(ACCOUNT, "db"), client(api)
    query = lambda sql, **kw: sdk.d1.database.query(database.uuid, account_id=ACCOUNT, sql=sql, **kw)  # noqa: E731
    results = query("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('a;b'); SELECT v FROM t; -- done").result
    assert [r.results for r in results] == [[], [], [{"v": "a;b"}]]
    status, errors = error_of(lambda: query("INSERT INTO t VALUES ('c'); INSERT INTO nope VALUES (1);"))
    assert (status, errors) == (400, [{"code": 7500, "message": "no such table: nope: SQLITE_ERROR"}])
    assert api.rows(database, "SELECT v FROM t") == [("a;b",)], "the batch was rolled back"
    assert "To execute a transaction" in error_of(lambda: query("BEGIN; INSERT INTO t VALUES ('d'); COMMIT;"))[1][0][
        "message"]
    assert error_of(lambda: query("SELECT ?; SELECT 2;", params=["1"]))[0] == 400
    assert query("SELECT v FROM t WHERE v = ?", params=["a;b"]).result[0].results == [{"v": "a;b"}]


def test_an_autocommit_database_keeps_the_statements_before_a_failure(api: FakeCloudflare) -> None:
    database = api.add_database(ACCOUNT, "db", autocommit=True)
    sdk = client(api)
    sdk.d1.database.query(database.uuid, account_id=ACCOUNT, sql="CREATE TABLE t (v TEXT);")
    error_of(lambda: sdk.d1.database.query(database.uuid, account_id=ACCOUNT,
                                           sql="INSERT INTO t VALUES ('kept'); INSERT INTO nope VALUES (1);"))
    assert api.rows(database, "SELECT v FROM t") == [("kept",)]


def test_faults_answer_errors_or_drop_the_connection_as_often_as_asked(api: FakeCloudflare) -> None:
    sdk = client(api)
    api.fail_next("GET", r"/accounts/\w+/queues", 500, 10001, "queues are down")
    assert error_of(lambda: sdk.queues.list(account_id=ACCOUNT)) == (500, [{"code": 10001, "message":
                                                                          "queues are down"}])
    assert list(sdk.queues.list(account_id=ACCOUNT)) == []
    api.drop_next("GET", r"/accounts/\w+/queues", times=None)
    for _ in range(2):
        with pytest.raises(cloudflare.APIConnectionError):
            sdk.queues.list(account_id=ACCOUNT)


def test_more_endpoints_plug_in_as_groups_with_the_same_checks(tmp_path: Path) -> None:
    def script_versions(router: Router) -> None:
        def versions(call: Call) -> Result:
            if call.params["script_name"] not in call.state.scripts.get(call.params["account_id"], {}):
                raise ApiFailure(404, 10007, "This Worker does not exist on your account.")
            return Result({"etag": "abc"})

        router.add("GET", "/accounts/{account_id}/workers/scripts/{script_name}/versions", versions,
                   (WORKERS_SCRIPTS, "Read"))

    with FakeCloudflare(tmp_path, endpoints=[*DEFAULT_ENDPOINTS, script_versions]) as fake:
        fake.add_account(ACCOUNT)
        fake.add_script(ACCOUNT, "worker")
        fake.add_token(TOKEN, accounts=[ACCOUNT])
        fake.add_token("r2-only-token-000000000000000000", accounts=[ACCOUNT], permissions=[f"{R2_STORAGE}:Edit"])
        path = f"/accounts/{ACCOUNT}/workers/scripts/worker/versions"
        assert client(fake).get(path, cast_to=object) == {"success": True, "errors": [], "messages": [],
                                                          "result": {"etag": "abc"}}
        assert error_of(lambda: client(fake, "r2-only-token-000000000000000000").get(path, cast_to=object))[1][0][
            "code"] == 10000
    assert [r.path for r in fake.requests] == [path, path]


def test_a_scripts_content_comes_back_as_its_modules_and_its_secrets_never_do(api: FakeCloudflare) -> None:
    api.add_script(ACCOUNT, "worker", main_module="index.js", modules={"index.js": b"a\r\n", "lib.js": b"b"},
                   bindings=[{"name": "KEY", "type": "secret_text", "text": "s3cr3t-value"},
                             {"name": "MODE", "type": "plain_text", "text": "on"}])
    content = client(api).workers.scripts.content.get("worker", account_id=ACCOUNT)
    assert content.headers["cf-entrypoint"] == "index.js"
    assert content.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = content.read()
    assert body.index(b'name="index.js"') < body.index(b'name="lib.js"'), "the main module is the first part"
    assert b"\r\n\r\na\r\n\r\n--" in body, "a module's bytes are sent as they are"
    settings = client(api).workers.scripts.script_and_version_settings.get("worker", account_id=ACCOUNT)
    assert [b.model_dump(exclude_none=True) for b in settings.bindings or []] == [
        {"name": "KEY", "type": "secret_text"}, {"name": "MODE", "text": "on", "type": "plain_text"}]
    assert all(b"s3cr3t-value" not in r for r in (body, settings.to_json().encode()))


def test_lifecycle_consumers_and_schedules_need_their_resource(api: FakeCloudflare) -> None:
    api.add_bucket(ACCOUNT, "media")
    assert client(api).r2.buckets.lifecycle.get("media", account_id=ACCOUNT).rules[0].id == (
        "Default Multipart Abort Rule"), "a new bucket carries Cloudflare's default rule"
    assert error_of(lambda: client(api).r2.buckets.lifecycle.get("gone", account_id=ACCOUNT)) == (
        404, [{"code": 10006, "message": "The specified bucket does not exist."}])
    assert error_of(lambda: client(api).queues.consumers.list("0" * 32, account_id=ACCOUNT)) == (
        404, [{"code": 11000, "message": "Queue does not exist"}])
    assert error_of(lambda: client(api).workers.scripts.schedules.get("gone", account_id=ACCOUNT))[1][0]["code"] == (
        10007)
