"""`infra report` against the local system, sync and async, each with a database of its own: first what a run
costs is measured again (`bench.footprint`) and held to the committed infra/ops/footprint.json; then the
stand-in fails one run of every failure cause, and the report (JSON and tables) and the /ops "sync health" view
(headless Chromium) show each under its cause, split into what async would absorb and what it would not, with
the rule's recommendation and the cost estimate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench import footprint
from infra.cli import main
from infra.model.contract import FAILURE_CAUSES, FailureCause
from infra.ops.cost import FOOTPRINT_FILE, KINDS
from localdev.system import LocalSystem
from tests.e2e.conftest import FAST_FAILURES, JOBS_MAX_RETRIES, UPSTREAM_TIMEOUT_SECONDS, client
from tests.e2e.support import SCREENSHOTS, LocalState, StandInControl, fail_async_runs, run_browser, write_run

MEASURED_RUNS = 4
REPORT_ASYNC = {**FAST_FAILURES, **footprint.ASYNC, "queues.jobs.max_retries": JOBS_MAX_RETRIES}
# One sync run per cause, as the stand-in fails it: (fault, run error code). Timeouts, refused results and
# abandoned runs are made otherwise (below).
FAULTS = {
    FailureCause.THROTTLED: ({"status": 429, "code": "Throttling.RateQuota"}, "Throttling.RateQuota"),
    FailureCause.UPSTREAM_ERROR: ({"status": 500, "code": "InternalError.Algo"}, "InternalError.Algo"),
    FailureCause.INVALID_INPUT: ({"status": 400, "code": "InvalidParameter"}, "InvalidParameter"),
    FailureCause.CONTENT_INSPECTION: ({"status": 400, "code": "DataInspectionFailed"}, "DataInspectionFailed"),
    FailureCause.KEY_OR_QUOTA: ({"status": 401, "code": "InvalidApiKey"}, "InvalidApiKey"),
    FailureCause.UNCLASSIFIED: ({"status": 418, "code": "Teapot"}, "Teapot"),
}
CODES = {cause: code for cause, (_, code) in FAULTS.items()} | {
    FailureCause.TIMEOUT: "upstream_timeout", FailureCause.RESULT_REJECTED: "result_host_not_allowed",
    FailureCause.ABANDONED: "abandoned",
}


def _start(tmp: Path, overrides: dict[str, Any]) -> LocalSystem:
    return LocalSystem(port=0, state_dir=tmp, overrides=overrides).start()


@pytest.fixture(scope="module")
def sync_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    running = _start(tmp_path_factory.mktemp("report-sync"), FAST_FAILURES)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def async_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    running = _start(tmp_path_factory.mktemp("report-async"), REPORT_ASYNC)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sync_measured(sync_system: LocalSystem) -> footprint.Measured:
    """A run's footprint measured on the fresh system, before anything else runs there (each system is started
    only by the workers whose tests need it: `make test` runs pytest on two)."""
    return footprint.measure_system(sync_system, MEASURED_RUNS)


@pytest.fixture(scope="module")
def async_measured(async_system: LocalSystem) -> footprint.Measured:
    return footprint.measure_system(async_system, MEASURED_RUNS, retried_run=True)


@pytest.fixture(scope="module")
def measured(sync_measured: footprint.Measured, async_measured: footprint.Measured) -> dict[str, Any]:
    return footprint.footprint(sync_measured, async_measured, "the report test")


def _control(system: LocalSystem) -> StandInControl:
    assert system.standin is not None
    return StandInControl(system.standin.base_url, system.standin.api_key)


@pytest.fixture(scope="module")
def sync_failures(sync_system: LocalSystem, sync_measured: footprint.Measured) -> dict[FailureCause, str]:
    """One failed sync run per cause: its run id."""
    made = {}
    with _control(sync_system) as control, client(sync_system) as api:
        def failed(expected_code: str) -> str:
            response = api.post("/api/generate", json={"prompt": f"fails with {expected_code}"})
            assert response.status_code >= 400, response.text
            run_id = response.json()["error"]["run_id"]
            assert api.get(f"/api/runs/{run_id}").json()["run"]["error"]["code"] == expected_code
            return run_id

        for cause, (fault, code) in FAULTS.items():
            control.fault(**fault, message="scripted", endpoint="sync")
            made[cause] = failed(code)
        control.latency(UPSTREAM_TIMEOUT_SECONDS + 1, endpoint="sync")
        made[FailureCause.TIMEOUT] = failed("upstream_timeout")
        control.latency(0, endpoint="sync")
        control.result_url("http://127.0.0.1:1/elsewhere.png")  # not the stand-in's host: off the allowlist
        made[FailureCause.RESULT_REJECTED] = failed("result_host_not_allowed")
    left = write_run(sync_system, status="running", path=["running"], since=datetime.now(UTC) - timedelta(minutes=10))
    sync_system.run_cron("*/5 * * * *").raise_for_status()
    with client(sync_system) as api:
        assert api.get(f"/api/runs/{left}").json()["run"]["error"]["code"] == "abandoned"
    made[FailureCause.ABANDONED] = left
    return made


@pytest.fixture(scope="module")
def async_failures(async_system: LocalSystem, async_measured: footprint.Measured) -> dict[str, str]:
    """An async run refused at submit (invalid input) and one dead-lettered by upstream 5xx on every delivery."""
    with _control(async_system) as control, client(async_system) as api, client(async_system, admin=True) as admin:
        invalid, dead = fail_async_runs(api, admin, control, JOBS_MAX_RETRIES + 1)
    return {"invalid": invalid, "dead": dead}


def report(system: LocalSystem, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
           *extra: str) -> str:
    monkeypatch.setenv("ADMIN_TOKEN", system.admin_token)
    capsys.readouterr()
    assert main(["report", "--stack", "local", "--base-url", system.url, *extra]) == 0
    return capsys.readouterr().out


# -- what a run costs --------------------------------------------------------------------------------------


def test_the_committed_footprint_is_what_a_run_costs_now(measured: dict[str, Any]) -> None:
    """Run again `python -m bench.footprint` (docs/runbook.md "Cost per stack") when this fails after a change."""
    committed = json.loads(FOOTPRINT_FILE.read_text())
    now = measured
    for kind in KINDS:
        for field in ("d1_queries", "d1_rows_read", "d1_rows_written"):
            was, seen = committed["invocations"][kind][field], now["invocations"][kind][field]
            assert abs(seen - was) <= max(2, 0.15 * was), (kind, field, was, seen)
    for mode in ("sync", "async"):
        was, seen = committed["d1_bytes_per_run"][mode], now["d1_bytes_per_run"][mode]
        assert abs(seen - was) <= 0.2 * was, (mode, was, seen)
    assert all(ms > 0 for ms in now["cpu_ms_per_invocation"].values())


def test_a_run_writes_the_rows_of_each_status_change_and_reads_its_cells(measured: dict[str, Any]) -> None:
    """A sync run is created `running` and moves twice (persisting, succeeded): three changes, each writing the
    run, its event and its cells; an async run's request writes one (queued)."""
    calls = measured["invocations"]
    assert calls["generate_sync"]["d1_rows_written"] > 2 * calls["generate_async"]["d1_rows_written"] > 0
    assert calls["read_media"]["d1_queries"] == 0 and calls["read_run"]["d1_rows_written"] == 0


def test_every_async_run_sends_one_message_per_wake_up_and_is_delivered_once_more_per_retry(
        async_measured: footprint.Measured, async_system: LocalSystem) -> None:
    """What the queue bills: 1 + polls messages written, read and deleted, and one more read per retry."""
    deliveries: dict[str, list[dict[str, Any]]] = {}
    for line in async_measured.lines:
        if line["route"].startswith("queue ") and not line["route"].endswith("-dlq"):
            deliveries.setdefault(line["run_id"], []).append(line)
    state = LocalState(async_system)
    for run in async_measured.runs:
        [row] = state.query("SELECT polls, retries FROM runs WHERE id = ?", run["id"])
        lines = deliveries[run["id"]]
        assert len({line["request_id"] for line in lines}) == 1 + row["polls"], run["id"]
        assert len(lines) == 1 + row["polls"] + row["retries"], run["id"]
    assert sum(state.query("SELECT retries FROM runs WHERE id = ?", r["id"])[0]["retries"]
               for r in async_measured.runs) == 1  # the one retried run


# -- the report ---------------------------------------------------------------------------------------------


def test_the_sync_report_sorts_every_failure_under_its_cause(sync_system: LocalSystem, sync_failures: dict,
                                                             capsys, monkeypatch) -> None:
    body = json.loads(report(sync_system, capsys, monkeypatch, "--json"))
    failures = body["evidence"]["failures"]
    assert {(f["cause"], f["mode"], f["runs"]) for f in failures} == {(str(c), "sync", 1) for c in CODES}
    for f in failures:
        cause = FailureCause(f["cause"])
        assert f["codes"] == [{"status": "failed", "code": CODES[cause], "runs": 1}]
        assert f["absorbed_by_async"] is FAILURE_CAUSES[cause].absorbed and f["label"] == FAILURE_CAUSES[cause].label
    sync = body["evidence"]["by_mode"]["sync"]
    assert (sync["ended"], sync["succeeded"]) == (MEASURED_RUNS + len(CODES), MEASURED_RUNS)
    absorbed = [c for c in CODES if FAILURE_CAUSES[c].absorbed]
    assert sorted(absorbed) == sorted([FailureCause.THROTTLED, FailureCause.UPSTREAM_ERROR, FailureCause.TIMEOUT,
                                       FailureCause.ABANDONED])
    assert (sync["failures_absorbed_by_async"], sync["failures_not_absorbed"]) == (4, len(CODES) - 4)
    assert sync["absorbable_share"] == {"part": 4, "whole": sync["ended"], "value": 4 / sync["ended"]}


def test_the_sync_report_gives_durations_against_the_budgets_and_the_rule(sync_system: LocalSystem,
                                                                         sync_failures: dict, capsys,
                                                                         monkeypatch) -> None:
    body = json.loads(report(sync_system, capsys, monkeypatch, "--json"))
    assert body["async_enabled"] is False and body["window"]["text"] == "30d"
    assert body["budgets"] == {"upstream_request_ms": UPSTREAM_TIMEOUT_SECONDS * 1000,
                               "download_ms": FAST_FAILURES["upstream.download_timeout_seconds"] * 1000,
                               "near_budget_margin": 0.2}
    sync = body["evidence"]["by_mode"]["sync"]
    state = LocalState(sync_system)
    timed = state.query("SELECT task_ms, task_near_budget FROM runs WHERE task_near_budget IS NOT NULL")
    assert sync["provider"]["runs"] == len(timed) == MEASURED_RUNS + 1  # the refused result had its call timed
    assert sync["provider"]["near_budget"]["part"] == sum(r["task_near_budget"] for r in timed)
    assert all(r["task_near_budget"] == int(r["task_ms"] >= 0.8 * UPSTREAM_TIMEOUT_SECONDS * 1000) for r in timed)
    assert sync["download"]["runs"] == MEASURED_RUNS and sync["download"]["mean_ms"] is not None
    assert sync["request"]["p50_ms"] is not None and sync["request"]["runs"] == sync["ended"]
    assert sum(d["runs"] for d in body["evidence"]["per_day"]) == body["evidence"]["total"]
    rec = body["recommendation"]
    assert (rec["current"], rec["verdict"]) == ("sync", "not enough data yet")
    assert rec["because"] == f"{sync['ended']} ended sync runs in the window; the rule needs 200"
    assert [s["name"] for s in rec["signals"]] == [
        "failures async would absorb, of ended sync runs", "provider calls within the margin of the upstream timeout",
        "downloads within the margin of the download timeout"]
    assert rec["signals"][0]["met"] is True  # 4 of 13 is far above 2 %, but 13 runs decide nothing


def test_the_report_estimates_the_month_and_what_async_or_retention_would_change(
        sync_system: LocalSystem, sync_failures: dict, capsys, monkeypatch) -> None:
    body = json.loads(report(sync_system, capsys, monkeypatch, "--json"))
    cost = body["cost"]
    assert cost["subscription"] == 5.0 and cost["total"] >= 5.0
    assert sorted(cost["by_product"]) == ["D1", "Queues", "R2", "Workers", "Workers Logs"]
    assert cost["by_product"]["Queues"] == 0  # a sync stack queues nothing
    assert [s["name"] for s in body["scenarios"]] == ["async on", "images kept 3 d (runs 4 d)",
                                                      "images kept 14 d (runs 15 d)"]
    on = body["scenarios"][0]
    queued = {line["item"]: line for line in on["lines"]}["operations"]
    runs = body["workload"]["runs_per_day"] * 30
    assert queued["quantity"] == pytest.approx(runs * 3 * (1 + 2))  # 2 polls assumed: no async run to show
    assert on["difference"] == pytest.approx(on["total"] - cost["total"], abs=1e-3)


def test_the_sync_report_reads_as_tables(sync_system: LocalSystem, sync_failures: dict, capsys,
                                         monkeypatch) -> None:
    text = report(sync_system, capsys, monkeypatch)
    assert text.startswith("Stack local: runs created ")
    for expected in ("Runs created per day (UTC)", "Failures by cause", "upstream throttling (429)",
                     "content inspection", "abandoned by a dying request", "unclassified codes",
                     "Teapot (failed): 1", "Recommendation (sync now): not enough data yet because",
                     "Watch first: failures by cause", "Estimated monthly cost: $", "What if", "async on",
                     "Assuming: a month is 30 days"):
        assert expected in text, expected


def test_the_async_report_shows_the_queue_retries_and_dead_letters(async_system: LocalSystem,
                                                                   async_failures: dict, capsys,
                                                                   monkeypatch) -> None:
    body = json.loads(report(async_system, capsys, monkeypatch, "--json"))
    assert body["async_enabled"] is True
    asyn = body["evidence"]["by_mode"]["async"]
    state = LocalState(async_system)
    [d1] = state.query("SELECT COUNT(*) AS ended, SUM(retries) AS retries, SUM(polls) AS polls FROM runs "
                       "WHERE status IN ('succeeded', 'failed', 'dead_lettered')")
    assert (asyn["ended"], asyn["dead_lettered"]) == (d1["ended"], 1) == (MEASURED_RUNS + 3, 1)
    assert asyn["retried_share"]["part"] == d1["retries"] and asyn["polls_per_run"] == d1["polls"] / d1["ended"]
    assert asyn["dead_letter_share"]["part"] == 1 and asyn["queue_wait_mean_ms"] is not None
    causes = {(f["cause"], f["absorbed_by_async"]): f["codes"] for f in body["evidence"]["failures"]}
    assert causes == {
        ("invalid_input", False): [{"status": "failed", "code": "InvalidParameter", "runs": 1}],
        ("upstream_error", True): [{"status": "dead_lettered", "code": "InternalError", "runs": 1}],
    }
    rec = body["recommendation"]
    assert (rec["current"], rec["verdict"]) == ("async", "not enough data yet")
    assert rec["watch"][0].startswith("retried deliveries per run")
    assert body["cost"]["by_product"]["Queues"] == 0  # far inside the million included operations
    assert {line["item"]: line for line in body["cost"]["lines"]}["operations"]["quantity"] > 0
    assert body["scenarios"][0]["name"] == "async off"
    text = report(async_system, capsys, monkeypatch)
    assert "Async path" in text and "dead-letter rate" in text and "Recommendation (async now)" in text


def test_a_window_the_api_refuses_is_one_line(sync_system: LocalSystem, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ADMIN_TOKEN", sync_system.admin_token)
    assert main(["report", "--stack", "local", "--base-url", sync_system.url, "--since", "31d"]) == 2
    assert capsys.readouterr().err.replace("\n", "") == (
        f"error: report on stack 'local' failed: {sync_system.url} answered 400 invalid_request: window: must be a "
        "duration such as 30m, 24h or 7d, from 1m to 30d")


# -- the same signals on /ops -------------------------------------------------------------------------------


def test_the_ops_page_shows_sync_health_with_every_cause(sync_system: LocalSystem, sync_failures: dict) -> None:
    screenshot = SCREENSHOTS / "ops-sync-health.png"
    seen = run_browser("ops_page.mjs", sync_system.url, sync_system.admin_token, str(screenshot))
    first = seen["first"]
    ended = MEASURED_RUNS + len(CODES)
    assert first["health"]["ended"]["sync"] == str(ended) and first["health"]["ended"]["async"] == "no runs"
    absorbable = first["health"]["absorbable"]
    assert absorbable["sync"] == f"{100 * 4 / ended:.1f} % (4 of {ended})" and absorbable["syncAlert"]
    assert absorbable["rule"] == "sync: async on at ≥ 2.0 %"
    assert "Async processing is off here" in first["healthNote"] and "infra report --stack <env>" in first["healthNote"]
    assert sorted(first["causeKeys"]) == sorted(str(c) for c in CODES)
    rows = {row[0]: row[1:] for row in first["causes"]}
    for cause, code in CODES.items():
        info = FAILURE_CAUSES[cause]
        assert rows[info.label] == ["yes" if info.absorbed else "no", "1", "0", f"{code} (1)"], cause
    assert seen["problems"] == [] and seen["offsite"] == []
    assert seen["errors"] == ["401 /api/ops/summary"]
    assert screenshot.stat().st_size > 10_000
