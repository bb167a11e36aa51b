"""The benchmark's own machinery in the real runtime: the local stack without wrangler's inspector, the probe
Worker measured apart from wrangler's proxy, the instrumented backend's D1 tally, and a probe that does not start
showing why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.persist import MIB, probe_call
from bench.processes import instrumented_backend, standin_process, started_probe
from infra.d1.executors import LocalD1Executor
from infra.d1.migrations import MigrationRunner, discover
from infra.model.bindings import SWEEP_CRON
from infra.model.naming import Role
from localdev.system import LocalSystem, Upstream


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    with standin_process(tmp_path_factory.mktemp("standin") / "standin.log") as running:
        yield running


@pytest.fixture(scope="module")
def quiet_system(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[LocalSystem]:
    with LocalSystem(port=0, state_dir=tmp_path_factory.mktemp("quiet"), upstream=upstream, inspector=False) as system:
        yield system


def test_without_the_inspector_the_stack_still_serves_generate_through_the_service_binding(
    quiet_system: LocalSystem,
) -> None:
    answer = httpx.post(f"{quiet_system.url}/api/generate", json={"prompt": "quiet"}, timeout=60)
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-backend-via"] == "service-binding"
    assert quiet_system.run_cron(SWEEP_CRON).status_code == 200  # --test-scheduled reaches the backend


def test_the_probe_is_measured_in_its_own_runtime_not_in_wranglers_proxy(tmp_path: Path, upstream: Upstream) -> None:
    with started_probe(tmp_path, "bench-drain") as wait, httpx.Client(timeout=60) as client:
        probe = wait()
        assert probe.proxy not in probe.pids and probe.pids
        answer = probe_call(client, upstream, probe, "drain", 1)()
        assert answer["bytes"] == MIB and answer["ms"] >= 0


def test_the_instrumented_backend_answers_as_the_backend_and_counts_what_d1_did(
    quiet_system: LocalSystem, tmp_path: Path
) -> None:
    persist = tmp_path / "state"
    MigrationRunner(LocalD1Executor(persist, quiet_system.database_name), discover()).apply()
    with instrumented_backend(quiet_system.config_paths[Role.BACKEND], persist, tmp_path) as metered:
        made = httpx.post(f"{metered.url}/api/generate", json={"prompt": "metered"}, timeout=60)
        assert made.status_code == 201, made.text
        wrote = json.loads(made.headers["x-bench-d1"])
        assert wrote["calls"] >= 2 and wrote["statements"] > wrote["calls"] and wrote["rows_written"] > 0
        listed = httpx.get(f"{metered.url}/api/runs", timeout=30,
                           headers={"Authorization": f"Bearer {quiet_system.admin_token}"})
        assert [run["id"] for run in listed.json()["runs"]] == [made.json()["run"]["id"]]
        read = json.loads(listed.headers["x-bench-d1"])
        assert read["rows_read"] >= 1 and read["rows_written"] == 0
        assert json.loads(httpx.get(f"{metered.url}/api/health", timeout=30).headers["x-bench-d1"])["calls"] == 0
    assert LocalD1Executor(persist, quiet_system.database_name).query("SELECT COUNT(*) AS n FROM runs") == [{"n": 1}]


def test_a_probe_that_does_not_start_shows_wranglers_reason(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as caught, started_probe(tmp_path, "bench-missing",
                                                                  main=tmp_path / "missing.js") as wait:
        wait()
    message = str(caught.value)
    assert message.startswith(f"start bench worker 'bench-missing' failed: exited with 1; its output "
                              f"({tmp_path / 'bench-missing.log'}):\nstart worker '{tmp_path / 'bench-missing.jsonc'}' "
                              'failed: The entry-point file at "missing.js" was not found.')
