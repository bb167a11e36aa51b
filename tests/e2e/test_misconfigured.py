"""A wiring mistake fails loudly: a Worker started (in the real runtime) with a binding removed or malformed in
its generated config answers every request 503 `misconfigured` naming the bindings, and never guesses a default;
the launcher refuses to call such a system started."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from infra.model.bindings import Binding, Kind, WorkerSpec
from infra.model.naming import Role
from localdev.system import LocalSystem, LocalSystemError
from tests.e2e.conftest import ASYNC
from tests.e2e.support import error_of, log_problems, wait_for_lines

FIX = ("they are declared in infra/model/bindings.py: redeploy the stack with pulumi up (locally: restart make dev)")


def rewire(role: Role, drop: tuple[str, ...] = (), set_text: dict[str, str] | None = None
           ) -> Callable[[WorkerSpec], WorkerSpec]:
    """Remove bindings from one Worker's declaration and give text bindings other values."""
    def edit(spec: WorkerSpec) -> WorkerSpec:
        if spec.role != role:
            return spec
        kept = [b for b in spec.bindings if b.name not in drop]
        changed = [Binding(b.name, Kind.TEXT, (set_text or {}).get(b.name, b.target)) if b.kind == Kind.TEXT else b
                   for b in kept]
        return dataclasses.replace(spec, bindings=tuple(changed))
    return edit


@pytest.fixture(scope="module")
def broken_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    """Async, without its database, queue and admin token, with a timeout that is not a number."""
    edit = rewire(Role.BACKEND, drop=("DB", "JOBS", "ADMIN_TOKEN"), set_text={"UPSTREAM_TIMEOUT_MS": "soon"})
    system = LocalSystem(port=0, state_dir=tmp_path_factory.mktemp("broken-backend"), overrides=ASYNC,
                         edit_workers=edit, ready_status=503).start()
    yield system
    system.stop()


def test_a_backend_missing_bindings_answers_health_with_503_naming_them(broken_backend: LocalSystem) -> None:
    health = httpx.get(f"{broken_backend.url}/api/health", headers={"X-Request-Id": "health-1"}, timeout=30)
    assert health.status_code == 503
    body = health.json()
    assert uuid.UUID(body["error"].pop("request_id")) and health.headers["x-client-request-id"] == "health-1"
    assert body == {"error": {
        "code": "misconfigured",
        "message": "read bindings of the backend Worker failed: DB is missing (a d1 binding); UPSTREAM_TIMEOUT_MS "
                   "must be a whole number of at least 1; ADMIN_TOKEN is missing (a secret_text binding); JOBS is "
                   f"missing (a queue binding); {FIX}",
        "bindings": ["DB", "UPSTREAM_TIMEOUT_MS", "ADMIN_TOKEN", "JOBS"],
    }}


def test_a_misconfigured_backend_refuses_every_route_and_reveals_no_value(broken_backend: LocalSystem) -> None:
    with httpx.Client(base_url=broken_backend.url, timeout=30) as api:
        answers = [api.post("/api/generate", json={"prompt": "never generated"}), api.get("/api/runs"),
                   api.get("/api/nothing")]
    assert [(a.status_code, error_of(a)["code"]) for a in answers] == [(503, "misconfigured")] * 3
    assert "soon" not in answers[0].text and "sk-local-" not in answers[0].text
    (logged,) = wait_for_lines(broken_backend, lambda line: line["request_id"] == answers[0].headers["x-request-id"]
                               and line["outcome"] != "proxied")
    assert (logged["route"], logged["status"], logged["outcome"]) == ("POST /api/generate", 503, "misconfigured")
    assert log_problems(broken_backend, ["soon", broken_backend.admin_token]) == []


def test_an_async_backend_with_a_sync_only_model_refuses_to_run(tmp_path: Path) -> None:
    edit = rewire(Role.BACKEND, set_text={"DASHSCOPE_MODEL": "qwen-image-max"})
    with pytest.raises(LocalSystemError) as caught:
        LocalSystem(port=0, state_dir=tmp_path, overrides=ASYNC, edit_workers=edit).start()
    assert ('answered HTTP 503: {"error":{"code":"misconfigured","message":"read bindings of the backend Worker '
            'failed: DASHSCOPE_MODEL is qwen-image-max, which has no async API, but ASYNC_ENABLED is true; '
            f'{FIX}"') in str(caught.value)


def test_a_frontend_without_its_backend_binding_fails_the_start_at_once(tmp_path: Path) -> None:
    """`make dev` says what is wrong instead of waiting out its start-up deadline."""
    with pytest.raises(LocalSystemError) as caught:
        LocalSystem(port=0, state_dir=tmp_path, edit_workers=rewire(Role.FRONTEND, drop=("BACKEND",))).start()
    message = str(caught.value)
    assert "not healthy after" not in message
    assert ('/api/health answered HTTP 503: {"error":{"code":"misconfigured","message":"read bindings of the '
            f'frontend Worker failed: BACKEND is missing (a service binding); {FIX}","request_id":') in message
    assert '"bindings":["BACKEND"]}}' in message
