"""`infra smoke` against the local system, as CI runs it against staging and production: it passes in both proxy
modes and in async mode, and fails, naming the check, for a backend that is down, a frontend that reaches the
backend another way than the stack says, an image whose bytes are not the recorded ones, a failed run and a
backend that answers on an address of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.cli import main
from infra.d1.executors import LocalD1Executor
from infra.model.naming import Role
from infra.ops.checks import Check
from infra.ops.smoke import Smoke, async_bound_seconds
from localdev.system import LocalSystem
from tests.e2e.support import StandInControl, log_problems, wait_for_lines


def checks(system: LocalSystem, url: str | None = None, **options: object) -> dict[str, Check]:
    """The smoke test of `system`'s own settings against `url` (default: the system), by check name."""
    assert system.settings is not None
    found = list(Smoke(system.settings, url or system.url, poll_seconds=0.5, **options).run())  # type: ignore[arg-type]
    return {check.name: check for check in found}


def failed(found: dict[str, Check]) -> dict[str, str]:
    return {name: check.detail for name, check in found.items() if check.status == "fail"}


def test_the_command_passes_against_the_service_binding_system(system: LocalSystem,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke", "--stack", "local", "--base-url", system.url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Smoke test of stack 'local' at {system.url}"
    assert lines[1:3] == ["  ok    health                   environment 'local'",
                          "  ok    backend access           X-Backend-Via: service-binding"]
    assert lines[3].startswith("  ok    generate                 201, run ")
    assert lines[4].startswith("  ok    run readable             ")
    assert lines[-3].startswith("  ok    image                    ") and lines[-3].endswith(
        " bytes from its stable URL, sha256 as recorded")
    assert lines[-2] == ("  skip  backend private          local: the backend has no public address (its wrangler dev "
                         "port serves only this machine); --backend-url probes one")
    assert lines[-1].startswith("Passed: ") and lines[-1].endswith(" checks, 1 skipped.")


def test_without_a_generation_only_health_and_the_proxy_are_checked(system: LocalSystem,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke", "--stack", "local", "--base-url", system.url, "--no-generate"]) == 0
    assert "  skip  generate                 --no-generate: no run, image or read-back checked" in (
        capsys.readouterr().out.splitlines())


def test_smoke_passes_when_the_frontend_reaches_the_backend_by_url(url_system: LocalSystem) -> None:
    found = checks(url_system)
    assert failed(found) == {}
    assert found["backend access"].detail == "X-Backend-Via: url"
    assert found["backend private"] == Check("backend private", "skip", "the stack reaches the backend by URL: it "
                                                                        "is public by design")


def test_smoke_follows_an_async_run_to_succeeded_within_the_stacks_bound(async_system: LocalSystem) -> None:
    found = checks(async_system)
    assert failed(found) == {}
    assert found["generate"].detail.startswith("202, run ") and found["generate"].detail.endswith(" queued")
    assert async_system.settings is not None
    assert found["run finished"].detail.startswith("succeeded after ")
    assert found["run finished"].detail.endswith(f" s (bound {async_bound_seconds(async_system.settings)} s)")
    assert found["run private"] == Check("run private", "ok", "without the read token: 200, status only")
    assert found["image"].status == "ok"


def test_a_signed_image_url_is_fetched_and_checked_too(signed_system: LocalSystem) -> None:
    assert failed(checks(signed_system)) == {}


def test_a_frontend_that_reaches_the_backend_another_way_fails(system: LocalSystem, url_system: LocalSystem,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The local stack says service-binding; the url-mode system's frontend answers `X-Backend-Via: url`."""
    assert main(["smoke", "--stack", "local", "--base-url", url_system.url, "--no-generate"]) == 1
    out = capsys.readouterr().out
    assert ("  FAIL  backend access           X-Backend-Via is 'url', but the stack says 'service-binding' "
            "(frontend.backend_access): the deployed frontend is not the stack's") in out.splitlines()
    assert out.splitlines()[-1] == "Failed: 1 of 4 checks (2 skipped)."


@pytest.fixture
def corrupted_records(system: LocalSystem) -> Iterator[None]:
    """Every asset recorded from now on carries another sha256 than its bytes (a trigger in the local D1), so
    what the stable URL serves no longer matches the record."""
    database = LocalD1Executor(system.persist_dir, system.database_name)
    database.run_batch("CREATE TRIGGER smoke_corrupt AFTER INSERT ON run_assets BEGIN "
                       "UPDATE run_assets SET sha256 = 'f00d' || substr(NEW.sha256, 5) "
                       "WHERE run_id = NEW.run_id AND idx = NEW.idx; END;")
    yield
    database.run_batch("DROP TRIGGER smoke_corrupt;")


def test_an_image_that_is_not_the_recorded_one_fails(system: LocalSystem, corrupted_records: None) -> None:
    found = failed(checks(system))
    assert list(found) == ["image"]
    assert "serves " in found["image"] and ", but the run recorded " in found["image"]
    assert "with sha256 f00d" in found["image"]


def test_a_run_that_fails_fails_the_smoke_test_with_its_error(async_system: LocalSystem,
                                                              async_standin: StandInControl) -> None:
    async_standin.tasks(outcome="FAILED", code="InternalError", message="the model is down", count=1)
    found = failed(checks(async_system))
    assert list(found) == ["run finished"]
    assert found["run finished"].startswith("failed after ")
    assert found["run finished"].endswith(": InternalError: the model is down")


def test_a_backend_answering_on_an_address_of_its_own_fails(system: LocalSystem) -> None:
    found = checks(system, backend_urls=[system.backend_url], generate=False)
    assert failed(found) == {"backend private": f"{system.backend_url} serves /api/*: the backend is public, "
                                                "bypassing the frontend (backend.workers_dev, a custom domain or "
                                                "route)"}


def test_an_address_that_does_not_serve_the_api_passes(system: LocalSystem) -> None:
    found = checks(system, backend_urls=[f"{system.url}/nothing"], generate=False)
    assert found["backend private"] == Check("backend private", "ok", f"{system.url}/nothing does not serve /api/* "
                                                                      "(HTTP 404)")


def test_a_backend_that_is_down_fails_at_health_and_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with LocalSystem(port=0, state_dir=tmp_path) as down:
        down.stop_worker(Role.BACKEND)
        assert main(["smoke", "--stack", "local", "--base-url", down.url]) == 1
        # The frontend's line of the failed health check names it like any other (wrangler answers 503 for the
        # binding now; Cloudflare's edge may answer otherwise, the line is the same shape).
        assert wait_for_lines(down, lambda line: line["route"] == "GET /api/health" and line["status"] >= 500)
        assert log_problems(down, [down.admin_token]) == []
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("  FAIL  health                   GET /api/health answered 5")
    assert lines[-2] == "  skip  the other checks         they need a healthy deployment"
