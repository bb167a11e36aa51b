"""The Worker scripts: code, modules, bindings, secrets and public exposure."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from infra.components.workers import WorkerArgs, binding_args
from infra.errors import DeclarationError
from infra.model.bindings import SWEEP_MARGIN_SECONDS, Binding, Kind, declare_workers
from infra.model.contract import COMPATIBILITY_DATE
from infra.model.settings import REPO_ROOT, load_settings
from infra.plan import PLACEHOLDER_SECRET, SECRET_MASK, PlanError, placeholder_config, run_plan

from .conftest import STACKS


def _sha(repo_path: str) -> str:
    return hashlib.sha256((REPO_ROOT / repo_path).read_bytes()).hexdigest()


@pytest.mark.parametrize("role", ["backend", "frontend"])
def test_scripts_are_es_modules_whose_hash_tracks_the_code(plan_of, role: str) -> None:
    script = plan_of("staging").one("WorkersScript", f"{role}-script").inputs
    assert script["mainModule"] == "index.js"
    assert script["contentFile"] == f"worker_src/{role}/index.js"
    assert script["contentSha256"] == _sha(script["contentFile"])
    assert script["compatibilityDate"] == COMPATIBILITY_DATE
    source = REPO_ROOT / "worker_src" / role
    modules = {p.relative_to(source).as_posix() for p in source.rglob("*.js")} - {"index.js"}
    assert set(script.get("files", {})) == modules, "every module of the Worker must be uploaded"
    for name, module in script.get("files", {}).items():
        assert module["contentType"] == "application/javascript+module"
        assert module["contentSha256"] == _sha(module["contentFile"]), name


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("role", ["backend", "frontend"])
def test_both_scripts_send_workers_logs_at_the_stack_sampling_rate(plan_of, stack: str, role: str) -> None:
    observability = load_settings(stack).observability
    script = plan_of(stack).one("WorkersScript", f"{role}-script").inputs
    assert script["observability"] == {"enabled": observability.enabled,
                                       "headSamplingRate": observability.head_sampling_rate}


def test_the_sampling_rate_comes_from_the_stack_file(write_stack) -> None:
    path = write_stack("production", lambda d: d["observability"].update(head_sampling_rate=0.25))
    plan = run_plan("production", {**placeholder_config(), "qwen-image:settings": str(path)})
    for role in ("backend", "frontend"):
        assert plan.one("WorkersScript", f"{role}-script").inputs["observability"] == {
            "enabled": True, "headSamplingRate": 0.25}, role


@pytest.mark.parametrize("stack", STACKS)
def test_backend_binds_storage_by_physical_name(plan_of, stack: str) -> None:
    bindings = {b["name"]: b for b in plan_of(stack).one("WorkersScript", "backend-script").inputs["bindings"]}
    assert bindings["MEDIA"] == {"name": "MEDIA", "type": "r2_bucket", "bucketName": f"qwen-image-{stack}-media"}
    assert bindings["DB"]["type"] == "d1" and bindings["DB"]["id"] == "(known after apply)"


@pytest.mark.parametrize("stack", STACKS)
def test_backend_binds_the_generate_rate_limit_of_its_stack_file(plan_of, stack: str) -> None:
    limit = load_settings(stack).generate_rate_limit
    bindings = {b["name"]: b for b in plan_of(stack).one("WorkersScript", "backend-script").inputs["bindings"]}
    assert bindings["GENERATE_RATE_LIMIT"] == {
        "name": "GENERATE_RATE_LIMIT", "type": "ratelimit", "namespaceId": str(limit.namespace_id),
        "simple": {"limit": limit.limit, "period": limit.period_seconds}}
    assert bindings["GENERATE_RATE_PERIOD_SECONDS"]["text"] == str(limit.period_seconds)


@pytest.mark.parametrize("stack", STACKS)
def test_backend_waits_for_what_it_binds(plan_of, stack: str) -> None:
    depends = plan_of(stack).one("WorkersScript", "backend-script").depends_on
    assert {"media-bucket", "metadata-database"} <= set(depends)


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_are_secret_text_bindings_masked_in_the_plan(plan_of, stack: str) -> None:
    plan = plan_of(stack)
    secrets = [b for b in plan.one("WorkersScript", "backend-script").inputs["bindings"] if b["type"] == "secret_text"]
    expected = ["ADMIN_TOKEN", "DASHSCOPE_API_KEY", "RUN_TOKEN_KEY"]
    if load_settings(stack).media.delivery.mode == "signed":
        expected.append("MEDIA_SIGNING_KEY")
    assert sorted(b["name"] for b in secrets) == sorted(expected)
    assert all(b["text"] == SECRET_MASK for b in secrets)
    assert PLACEHOLDER_SECRET not in json.dumps(plan.to_json())


def test_secret_values_never_reach_the_plan() -> None:
    config = {key: f"sk-real-looking-{i}" for i, key in enumerate(placeholder_config())}
    text = json.dumps(run_plan("staging", config).to_json())
    assert not any(value in text for value in config.values())


def test_missing_secrets_fail_before_any_resource_with_the_command_to_fix() -> None:
    with pytest.raises(PlanError) as caught:
        run_plan("production", config={"qwen-image:adminToken": "x"})
    assert str(caught.value) == (
        "read secrets of stack 'production' failed: missing dashscopeApiKey, runTokenKey; set them with:\n"
        "  pulumi config set --secret --stack production dashscopeApiKey\n"
        "  pulumi config set --secret --stack production runTokenKey"
    )
    assert caught.value.declared == []


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_service_binding_mode_means_no_public_backend(plan_of, stack: str) -> None:
    plan = plan_of(stack)
    assert plan.one("WorkersScriptSubdomain", "backend-workers-dev").inputs["enabled"] is False
    assert [d.inputs["service"] for d in plan.of_type("WorkersCustomDomain")] == [f"qwen-image-{stack}-frontend"]
    frontend = plan.one("WorkersScript", "frontend-script")
    service = {"name": "BACKEND", "type": "service", "service": f"qwen-image-{stack}-backend"}
    assert service in frontend.inputs["bindings"]
    assert "backend-script" in frontend.depends_on


@pytest.mark.parametrize("stack", STACKS)
def test_previews_are_off_for_every_worker(plan_of, stack: str) -> None:
    for subdomain in plan_of(stack).of_type("WorkersScriptSubdomain"):
        assert subdomain.inputs["previewsEnabled"] is False


def test_url_mode_points_the_frontend_at_a_public_backend(write_stack, tmp_path: Path) -> None:
    def mutate(d):
        d["frontend"].update(backend_access="url", backend_url="https://api.staging.example.com")
        d["backend"].update(workers_dev=True)

    path = write_stack("staging", mutate)
    plan = run_plan("staging", {**placeholder_config(), "qwen-image:settings": str(path)})
    assert plan.one("WorkersScriptSubdomain", "backend-workers-dev").inputs["enabled"] is True
    bindings = plan.one("WorkersScript", "frontend-script").inputs["bindings"]
    assert {"name": "BACKEND_URL", "type": "plain_text", "text": "https://api.staging.example.com"} in bindings
    assert not [b for b in bindings if b["type"] == "service"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_backend_goes_private_only_after_the_frontend_uses_the_binding(plan_of, stack: str) -> None:
    plan = plan_of(stack)
    assert "frontend-script" in plan.one("WorkersScriptSubdomain", "backend-workers-dev").depends_on


def test_backend_is_public_before_a_frontend_calls_it_by_url(write_stack) -> None:
    def mutate(d):
        d["frontend"].update(backend_access="url", backend_url="https://api.staging.example.com")
        d["backend"].update(workers_dev=True)

    plan = run_plan("staging", {**placeholder_config(), "qwen-image:settings": str(write_stack("staging", mutate))})
    assert "backend-workers-dev" in plan.one("WorkersScript", "frontend-script").depends_on
    assert "frontend-script" not in plan.one("WorkersScriptSubdomain", "backend-workers-dev").depends_on


def test_routes_send_zone_traffic_to_the_frontend(write_stack) -> None:
    path = write_stack("staging", lambda d: d["frontend"].update(routes=["www.qwen-image.example.com/*"]))
    plan = run_plan("staging", {**placeholder_config(), "qwen-image:settings": str(path)})
    route = plan.one("WorkersRoute")
    assert route.inputs == {"zoneId": load_settings("staging").cloudflare.zone_id,
                            "pattern": "www.qwen-image.example.com/*", "script": "qwen-image-staging-frontend"}
    assert "frontend-script" in route.depends_on


@pytest.mark.parametrize("stack", STACKS)
def test_backend_runs_the_sweeper_every_five_minutes_once_its_script_exists(plan_of, stack: str) -> None:
    plan = plan_of(stack)
    trigger = plan.one("WorkersCronTrigger", "backend-crons")
    assert trigger.inputs["schedules"] == [{"cron": "*/5 * * * *"}]
    assert trigger.inputs["scriptName"] == plan.one("WorkersScript", "backend-script").inputs["scriptName"]
    assert "backend-script" in trigger.depends_on, "a cron trigger on a script that does not exist yet fails"
    assert [t.name for t in plan.of_type("WorkersCronTrigger")] == ["backend-crons"], "the frontend has no cron"


@pytest.mark.parametrize("stack", STACKS)
def test_backend_sweeps_after_a_provider_call_and_a_download_plus_a_margin(plan_of, stack: str) -> None:
    upstream = load_settings(stack).upstream
    bindings = {b["name"]: b for b in plan_of(stack).one("WorkersScript", "backend-script").inputs["bindings"]}
    threshold = upstream.request_timeout_seconds + upstream.download_timeout_seconds + SWEEP_MARGIN_SECONDS
    assert bindings["SWEEP_AFTER_SECONDS"] == {"name": "SWEEP_AFTER_SECONDS", "type": "plain_text",
                                               "text": str(threshold)}
    assert SWEEP_MARGIN_SECONDS >= 60


def _backend_args(**fields) -> WorkerArgs:
    backend, _ = declare_workers(load_settings("staging"))
    return WorkerArgs(account_id="0" * 32, spec=backend, secrets={}, **fields)


def test_a_d1_binding_without_a_database_id_is_refused_naming_it() -> None:
    with pytest.raises(DeclarationError) as caught:
        binding_args(Binding("DB", Kind.D1, "qwen-image-staging-metadata"), _backend_args())
    assert str(caught.value) == (
        "declare binding 'DB' of worker 'qwen-image-staging-backend' failed: no id for database "
        "'qwen-image-staging-metadata'; pass the MetadataStore's database_id in WorkerArgs.database_ids"
    )


def test_a_secret_binding_without_a_value_is_refused_naming_it() -> None:
    with pytest.raises(DeclarationError) as caught:
        binding_args(Binding("ADMIN_TOKEN", Kind.SECRET, "ADMIN_TOKEN"), _backend_args())
    assert str(caught.value) == (
        "declare binding 'ADMIN_TOKEN' of worker 'qwen-image-staging-backend' failed: no value for secret "
        "ADMIN_TOKEN; set it with pulumi config set --secret adminToken"
    )


@pytest.mark.parametrize(("stack", "kept", "expire"), [("local", "8", "7"), ("staging", "91", "90"),
                                                       ("production", "731", "730")])
def test_backend_purges_runs_after_their_images_expire(plan_of, stack: str, kept: str, expire: str) -> None:
    bindings = {b["name"]: b for b in plan_of(stack).one("WorkersScript", "backend-script").inputs["bindings"]}
    assert bindings["METADATA_RETENTION_DAYS"]["text"] == kept
    assert bindings["MEDIA_EXPIRE_AFTER_DAYS"]["text"] == expire


def test_runs_kept_forever_and_images_that_never_expire_are_spelled_never(write_stack) -> None:
    def mutate(d):
        d["metadata"]["retention_days"] = None
        d["media"]["lifecycle"]["rules"][0].pop("expire_after_days")

    path = write_stack("staging", mutate)
    plan = run_plan("staging", {**placeholder_config(), "qwen-image:settings": str(path)})
    bindings = {b["name"]: b["text"] for b in plan.one("WorkersScript", "backend-script").inputs["bindings"]
                if b["type"] == "plain_text"}
    assert (bindings["METADATA_RETENTION_DAYS"], bindings["MEDIA_EXPIRE_AFTER_DAYS"]) == ("never", "never")


def test_a_rate_limit_binding_without_its_counter_is_refused_naming_it() -> None:
    with pytest.raises(DeclarationError) as caught:
        binding_args(Binding("GENERATE_RATE_LIMIT", Kind.RATE_LIMIT, "1001"), _backend_args())
    assert str(caught.value) == (
        "declare binding 'GENERATE_RATE_LIMIT' failed: a ratelimit binding has no rate limit (limit and period)"
    )
