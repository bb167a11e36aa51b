"""`python -m infra runs list|show` and `migrate`: the admin API client at the HTTP layer, then the whole
CLI against the real local system (`LocalSystem`, what `make dev` starts)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.cli import main
from infra.model.settings import REPO_ROOT
from infra.ops.admin_api import AdminApiError, AdminClient, RunFilters, parse_time
from localdev.system import LocalSystem
from tests.e2e.support import StandInControl

LIST = "list runs of stack 'local'"
NOW = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


# -- arguments --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "sent"), [
    ("24h", "2026-03-03T05:06:07.890Z"),
    ("30m", "2026-03-04T04:36:07.890Z"),
    ("7d", "2026-02-25T05:06:07.890Z"),
    ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000Z"),
    ("2026-01-02T04:04:05+01:00", "2026-01-02T03:04:05.000Z"),
    ("2026-01-02", "2026-01-02T00:00:00.000Z"),
])
def test_times_are_sent_as_the_apis_utc_timestamps(given: str, sent: str) -> None:
    assert parse_time(given, now=NOW) == sent


def test_a_time_that_is_neither_form_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["runs", "list", "--stack", "local", "--since", "yesterday"])
    assert ("argument --since: 'yesterday' is neither a duration like 24h, 30m, 7d nor an ISO 8601 time"
            in capsys.readouterr().err)


def test_limit_is_held_to_the_apis_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["runs", "list", "--stack", "local", "--limit", "101"])
    assert "argument --limit: must be an integer from 1 to 100" in capsys.readouterr().err


def test_without_a_token_the_cli_says_where_to_get_one(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    assert main(["runs", "show", "--stack", "staging", "r1"]) == 2
    assert capsys.readouterr().err == (
        "error: show run 'r1' failed: no admin token; set ADMIN_TOKEN (export ADMIN_TOKEN=$(pulumi config get "
        "--stack staging adminToken)) or pass --token-file\n"
    )


# -- the admin API client, at the HTTP layer -------------------------------------------------------------------


def client(handler: Any, token: str = "tok-123") -> tuple[AdminClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return AdminClient("https://qwen.example.com/", token, transport=httpx.MockTransport(handle)), seen


def test_list_sends_the_filters_and_the_bearer_token() -> None:
    admin, seen = client(lambda r: httpx.Response(200, json={"runs": [], "next_cursor": None}))
    filters = RunFilters(status="failed", since="2026-01-01T00:00:00.000Z", request_id="req-9",
                         client_request_id="mine-3", limit=5)
    assert admin.list_runs(filters, LIST) == {"runs": [], "next_cursor": None}
    (request,) = seen
    assert str(request.url) == ("https://qwen.example.com/api/runs?status=failed&since=2026-01-01T00%3A00%3A00.000Z"
                                "&request_id=req-9&client_request_id=mine-3&limit=5")
    assert request.headers["authorization"] == "Bearer tok-123"


def test_the_token_never_shows_in_the_clients_repr() -> None:
    admin, _ = client(lambda r: httpx.Response(200, json={}), token="s3cret-admin-token")
    assert "s3cret" not in repr(admin) and repr(admin) == (
        "AdminClient(base_url='https://qwen.example.com', token='***')")


def api_error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "request_id": "q1"}})


@pytest.mark.parametrize(("response", "message"), [
    (api_error(401, "unauthorized", "this route needs Authorization: Bearer <admin token>"),
     f"{LIST} failed: https://qwen.example.com answered 401 unauthorized; check the admin token "
     "(ADMIN_TOKEN or --token-file)"),
    (api_error(400, "invalid_request", "since: must be an ISO 8601 timestamp"),
     f"{LIST} failed: https://qwen.example.com answered 400 invalid_request: since: must be an ISO 8601 timestamp"),
    (httpx.Response(404, text="Not Found"),
     f"{LIST} failed: https://qwen.example.com has no /api/runs: is it the frontend URL?"),
    (httpx.Response(502, text="<html>bad gateway</html>"),
     f"{LIST} failed: https://qwen.example.com answered 502 with a non-JSON body; is --base-url this system's "
     "frontend?"),
])
def test_each_failure_is_one_line_with_the_next_step(response: httpx.Response, message: str) -> None:
    admin, _ = client(lambda r: response)
    with pytest.raises(AdminApiError) as failure:
        admin.list_runs(RunFilters(), LIST)
    assert str(failure.value) == message


def test_an_unknown_run_is_named() -> None:
    admin, _ = client(lambda r: api_error(404, "not_found", "run not found"))
    with pytest.raises(AdminApiError) as failure:
        admin.get_run("r-404", "show run 'r-404'")
    assert str(failure.value) == "show run 'r-404' failed: there is no run 'r-404' at https://qwen.example.com"


def test_a_refused_connection_says_to_start_the_system() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(AdminApiError) as failure:
        AdminClient(f"http://127.0.0.1:{port}", "t").list_runs(RunFilters(), LIST)
    assert str(failure.value) == (f"{LIST} failed: cannot connect to http://127.0.0.1:{port} (connection refused); "
                                  "start the system (`make dev` locally) or pass --base-url")


# -- end to end, against the local system ------------------------------------------------------------------


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    running = LocalSystem(port=0, state_dir=tmp_path_factory.mktemp("runs-cli")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def runs(system: LocalSystem) -> dict[str, dict[str, Any]]:
    """One succeeded and one failed run, created through the public API as a client would."""
    assert system.standin is not None
    control = StandInControl(system.standin.base_url, system.standin.api_key)
    auth = {"Authorization": f"Bearer {system.admin_token}"}
    with httpx.Client(base_url=system.url, timeout=60) as api, \
            httpx.Client(base_url=system.url, timeout=60, headers=auth) as admin:
        created = api.post("/api/generate", json={"prompt": "a lighthouse", "seed": 7},
                           headers={"X-Request-Id": "cli-ok"}).json()["run"]
        ok = admin.get(f"/api/runs/{created['id']}").json()["run"]
        control.fault(status=400, code="InvalidParameter", message="size is not supported", endpoint="sync")
        error = api.post("/api/generate", json={"prompt": "a storm"}, headers={"X-Request-Id": "cli-failed"})
        failed = admin.get(f"/api/runs/{error.json()['error']['run_id']}").json()["run"]
    control.reset()
    control.close()
    return {"ok": ok, "failed": failed}


@pytest.fixture
def cli(system: LocalSystem, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`python -m infra <args>` in-process against the system: (exit code, stdout, stderr)."""
    monkeypatch.setenv("ADMIN_TOKEN", system.admin_token)
    monkeypatch.setenv("PORT", str(system.port))  # the local stack's default base URL, as after `make dev`

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_runs_list_answers_against_the_local_system_newest_first(cli, runs: dict[str, dict[str, Any]]) -> None:
    code, out, _ = cli("runs", "list", "--stack", "local", "--json")
    assert code == 0
    ids = [run["id"] for run in json.loads(out)["runs"]]
    assert ids[:2] == [runs["failed"]["id"], runs["ok"]["id"]]


def test_runs_list_prints_a_table(cli, runs: dict[str, dict[str, Any]]) -> None:
    code, out, _ = cli("runs", "list", "--stack", "local")
    assert code == 0
    assert "run(s), newest first" in out
    failed = runs["failed"]
    row = next(line for line in out.splitlines() if failed["id"] in line)
    assert "failed" in row and failed["request_id"] in row and "cli-failed" in row
    assert "InvalidParameter: size is not supported" in row


@pytest.mark.parametrize(("flags", "expected"), [
    (["--status", "failed"], ["failed"]),
    (["--status", "succeeded"], ["ok"]),
    (["--request-id", "cli-ok"], []),
    (["--client-request-id", "cli-ok"], ["ok"]),
    (["--since", "1h"], ["failed", "ok"]),
    (["--until", "2020-01-01"], []),
    (["--limit", "1"], ["failed"]),
])
def test_runs_list_filters_reach_the_api(cli, runs: dict[str, dict[str, Any]], flags: list[str],
                                         expected: list[str]) -> None:
    code, out, _ = cli("runs", "list", "--stack", "local", "--json", *flags)
    assert code == 0
    assert [run["id"] for run in json.loads(out)["runs"]] == [runs[name]["id"] for name in expected]


def test_runs_list_finds_a_run_by_the_request_id_the_backend_answered(cli, runs: dict[str, dict[str, Any]]) -> None:
    ok = runs["ok"]
    code, out, _ = cli("runs", "list", "--stack", "local", "--json", "--request-id", ok["request_id"])
    assert code == 0
    assert [run["id"] for run in json.loads(out)["runs"]] == [ok["id"]]
    assert ok["request_id"] != "cli-ok" and ok["client_request_id"] == "cli-ok"


def test_runs_show_prints_the_run_its_images_and_events(cli, runs: dict[str, dict[str, Any]]) -> None:
    ok = runs["ok"]
    code, out, _ = cli("runs", "show", "--stack", "local", ok["id"])
    assert code == 0
    assert f"Run {ok['id']}" in out and "a lighthouse" in out and ok["images"][0]["url"] in out
    assert "Events" in out and "persisting -> succeeded" in out and '"images": 1' in out
    code, out, _ = cli("runs", "show", "--stack", "local", ok["id"], "--json")
    assert json.loads(out)["run"] == ok


def test_a_wrong_token_and_an_unknown_run_are_one_line_errors(cli, system: LocalSystem, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("not-the-token\n")
    code, _, err = cli("runs", "list", "--stack", "local", "--token-file", str(token_file))
    assert (code, err) == (2, f"error: {LIST} failed: {system.url} answered 401 unauthorized; check the admin "
                              "token (ADMIN_TOKEN or --token-file)\n")
    code, _, err = cli("runs", "show", "--stack", "local", "r-missing")
    assert (code, err) == (2, f"error: show run 'r-missing' failed: there is no run 'r-missing' at {system.url}\n")


def test_migrate_finds_the_running_system_up_to_date(cli, system: LocalSystem, runs: dict[str, Any]) -> None:
    """The launcher migrated with the same runner: `migrate` finds nothing pending and no checksum missing,
    and the Workers keep serving from the same database."""
    code, out, _ = cli("migrate", "--stack", "local", "--persist-to", str(system.persist_dir), "--dry-run")
    assert code == 0 and "0 pending; dry run: nothing applied" in out
    code, out, _ = cli("migrate", "--stack", "local", "--persist-to", str(system.persist_dir))
    assert code == 0
    assert "recorded the checksum" not in out, "the launcher records checksums as it applies"
    assert "is up to date: 0 applied now" in out
    code, out, _ = cli("runs", "list", "--stack", "local", "--json", "--status", "succeeded")
    assert [run["id"] for run in json.loads(out)["runs"]] == [runs["ok"]["id"]]


def test_the_cli_entry_point_runs_as_a_module(system: LocalSystem, runs: dict[str, Any]) -> None:
    env = {"ADMIN_TOKEN": system.admin_token, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "infra", "runs", "list", "--stack", "local", "--base-url",
                             system.url, "--json"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert runs["ok"]["id"] in {run["id"] for run in json.loads(result.stdout)["runs"]}
