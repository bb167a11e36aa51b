"""One declaration of each Worker: the generated wrangler config and the Pulumi bindings agree."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from infra.errors import SecretsError
from infra.generate.wrangler import write_wrangler_configs
from infra.model.bindings import declare_workers
from infra.model.naming import Role
from infra.model.settings import load_settings

from .conftest import STACKS

SECRETS = {"DASHSCOPE_API_KEY": "sk-test-key", "MEDIA_SIGNING_KEY": "signing-test", "ADMIN_TOKEN": "admin-test",
           "RUN_TOKEN_KEY": "run-token-test"}


def _read(path: Path) -> dict:
    return json.loads("".join(line for line in path.read_text().splitlines() if not line.startswith("//")))


def wrangler_binding_names(config: dict, dev_vars: Path) -> set[str]:
    names = {b["binding"] for key in ("r2_buckets", "d1_databases", "services") for b in config.get(key, [])}
    names |= {p["binding"] for p in config.get("queues", {}).get("producers", [])}
    names |= {limit["name"] for limit in config.get("ratelimits", [])}
    names |= set(config.get("vars", {}))
    names |= {line.split("=", 1)[0] for line in dev_vars.read_text().splitlines()}
    return names


@pytest.mark.parametrize("stack", STACKS)
def test_wrangler_config_and_pulumi_bindings_list_the_same_names(plan_of, stack: str, tmp_path: Path) -> None:
    paths = write_wrangler_configs(load_settings(stack), SECRETS, tmp_path)
    plan = plan_of(stack)
    for role, path in paths.items():
        pulumi_names = {b["name"] for b in plan.one("WorkersScript", f"{role}-script").inputs["bindings"]}
        assert wrangler_binding_names(_read(path), path.parent / ".dev.vars") == pulumi_names, role


@pytest.mark.parametrize("stack", STACKS)
def test_wrangler_config_uses_the_deployed_names(plan_of, stack: str, tmp_path: Path) -> None:
    paths = write_wrangler_configs(load_settings(stack), SECRETS, tmp_path)
    backend = _read(paths[Role.BACKEND])
    plan = plan_of(stack)
    assert backend["name"] == plan.one("WorkersScript", "backend-script").inputs["scriptName"]
    assert backend["r2_buckets"][0]["bucket_name"] == plan.one("R2Bucket").inputs["name"]
    assert backend["d1_databases"][0]["database_name"] == plan.one("D1Database").inputs["name"]
    assert (paths[Role.BACKEND].parent / backend["main"]).resolve() == Path("worker_src/backend/index.js").resolve()
    migrations = (paths[Role.BACKEND].parent / backend["d1_databases"][0]["migrations_dir"]).resolve()
    assert migrations == Path("worker_src/migrations").resolve()


@pytest.mark.parametrize("stack", STACKS)
def test_wrangler_rate_limits_equal_the_pulumi_ones(plan_of, stack: str, tmp_path: Path) -> None:
    """wrangler dev simulates the binding from the same namespace, limit and period Pulumi deploys."""
    local = _read(write_wrangler_configs(load_settings(stack), SECRETS, tmp_path)[Role.BACKEND])["ratelimits"]
    deployed = [b for b in plan_of(stack).one("WorkersScript", "backend-script").inputs["bindings"]
                if b["type"] == "ratelimit"]
    assert local == [{"name": b["name"], "namespace_id": b["namespaceId"], "simple": b["simple"]} for b in deployed]
    assert len(local) == 1


def test_wrangler_consumers_match_the_pulumi_consumers(plan_of, tmp_path: Path) -> None:
    backend = _read(write_wrangler_configs(load_settings("staging"), SECRETS, tmp_path)[Role.BACKEND])
    plan = plan_of("staging")
    for local in backend["queues"]["consumers"]:
        role = "jobs" if local["queue"].endswith("-jobs") else "jobs-dlq"
        deployed = plan.one("QueueConsumer", f"consumers-{role}").inputs
        assert local.get("dead_letter_queue") == deployed.get("deadLetterQueue")
        assert local["max_batch_size"] == deployed["settings"]["batchSize"]
        assert local["max_retries"] == deployed["settings"]["maxRetries"]
        assert local["retry_delay"] == deployed["settings"]["retryDelay"]
        assert local["max_batch_timeout"] * 1000 == deployed["settings"]["maxWaitTimeMs"]


@pytest.mark.parametrize("stack", STACKS)
def test_wrangler_cron_triggers_equal_the_pulumi_schedules(plan_of, stack: str, tmp_path: Path) -> None:
    paths = write_wrangler_configs(load_settings(stack), SECRETS, tmp_path)
    plan = plan_of(stack)
    for role, path in paths.items():
        local = _read(path).get("triggers", {}).get("crons", [])
        deployed = [t for t in plan.of_type("WorkersCronTrigger") if t.name == f"{role}-crons"]
        assert local == [s["cron"] for t in deployed for s in t.inputs["schedules"]], role
    assert _read(paths[Role.BACKEND])["triggers"] == {"crons": ["*/5 * * * *"]}


@pytest.mark.parametrize("stack", STACKS)
def test_wrangler_observability_equals_the_pulumi_observability(plan_of, stack: str, tmp_path: Path) -> None:
    paths = write_wrangler_configs(load_settings(stack), SECRETS, tmp_path)
    plan = plan_of(stack)
    for role, path in paths.items():
        deployed = plan.one("WorkersScript", f"{role}-script").inputs["observability"]
        local = _read(path)["observability"]
        assert local == {"enabled": deployed["enabled"], "head_sampling_rate": deployed["headSamplingRate"]}, role
        assert local == load_settings(stack).observability.model_dump(), role


def test_wrangler_sampling_rate_comes_from_the_stack_file(write_stack, tmp_path: Path) -> None:
    path = write_stack("staging", lambda d: d["observability"].update(enabled=False, head_sampling_rate=0.25))
    for role, config in write_wrangler_configs(load_settings("staging", path), SECRETS, tmp_path / "cfg").items():
        assert _read(config)["observability"] == {"enabled": False, "head_sampling_rate": 0.25}, role


def test_secrets_go_to_dev_vars_only(tmp_path: Path) -> None:
    paths = write_wrangler_configs(load_settings("staging"), SECRETS, tmp_path)
    for path in paths.values():
        assert not any(value in path.read_text() for value in SECRETS.values())
    dev_vars = paths[Role.BACKEND].parent / ".dev.vars"
    assert dev_vars.read_text() == (
        'DASHSCOPE_API_KEY="sk-test-key"\nMEDIA_SIGNING_KEY="signing-test"\nADMIN_TOKEN="admin-test"\n'
        'RUN_TOKEN_KEY="run-token-test"\n'
    )
    assert stat.S_IMODE(dev_vars.stat().st_mode) == 0o600


def test_a_missing_local_secret_is_refused(tmp_path: Path) -> None:
    expected = "write wrangler config 'qwen-image-local-backend' failed: no value for ADMIN_TOKEN"
    with pytest.raises(SecretsError, match=expected):
        write_wrangler_configs(load_settings("local"), {"DASHSCOPE_API_KEY": "k"}, tmp_path)


def test_signing_key_is_bound_only_where_urls_are_signed() -> None:
    def secret_names(stack: str) -> set[str]:
        backend, _ = declare_workers(load_settings(stack))
        return {b.name for b in backend.bindings if b.kind == "secret_text"}

    assert "MEDIA_SIGNING_KEY" in secret_names("staging")
    assert "MEDIA_SIGNING_KEY" not in secret_names("production")
    assert "MEDIA_SIGNING_KEY" not in secret_names("local")
