"""Stack settings: the committed files are valid, and every kind of bad file fails before any resource
is declared, naming the file, the field and the reason."""

from __future__ import annotations

import pytest

from infra.errors import SettingsError
from infra.model.bindings import declare_workers
from infra.model.contract import ASYNC_MODELS, MODELS
from infra.model.naming import check_names
from infra.model.settings import LifecycleRule, StackSettings, load_settings
from infra.plan import PlanError, placeholder_config, run_plan

from .conftest import STACKS


@pytest.mark.parametrize("environment", STACKS)
def test_committed_stack_files_are_valid(environment: str) -> None:
    settings = load_settings(environment)
    assert isinstance(settings, StackSettings)
    assert settings.environment == environment


def _error(write_stack, environment, mutate) -> str:
    path = write_stack(environment, mutate)
    with pytest.raises(SettingsError) as caught:
        load_settings(environment, path)
    message = str(caught.value)
    assert str(path) in message, "the message must name the file"
    return message


def test_unknown_key_is_rejected(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["media"].update(colour="blue"))
    assert message.endswith("has 1 problem(s):\n  media.colour: Extra inputs are not permitted")


def test_wrong_type_is_rejected_without_coercion(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["queues"].update(enabled="yes"))
    assert "  queues.enabled: Input should be a valid boolean" in message


def test_missing_field_is_rejected(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["upstream"].pop("model"))
    assert "  upstream.model: Field required" in message


def test_transition_after_expiry_is_an_invalid_lifecycle(write_stack) -> None:
    def mutate(d):
        d["media"]["lifecycle"]["rules"][0].update(infrequent_access_after_days=90, expire_after_days=30)

    message = _error(write_stack, "staging", mutate)
    assert ("  media.lifecycle.rules.0: infrequent_access_after_days (90) must be less than "
            "expire_after_days (30): objects would expire before moving") in message


def test_rule_without_action_is_an_invalid_lifecycle(write_stack) -> None:
    def mutate(d):
        d["media"]["lifecycle"]["rules"][0] = {"id": "noop", "prefix": "tmp/"}

    message = _error(write_stack, "staging", mutate)
    assert "a rule needs expire_after_days, infrequent_access_after_days or both" in message


def test_two_rules_for_one_prefix_are_an_invalid_lifecycle(write_stack) -> None:
    def mutate(d):
        rules = d["media"]["lifecycle"]["rules"]
        rules.append({**rules[0], "id": "other"})

    message = _error(write_stack, "staging", mutate)
    assert message.endswith("  media.lifecycle: rule prefixes must be distinct; repeated: 'generated/'")


def test_two_rules_with_one_id_are_an_invalid_lifecycle(write_stack) -> None:
    def mutate(d):
        rules = d["media"]["lifecycle"]["rules"]
        rules.append({**rules[0], "prefix": ""})

    message = _error(write_stack, "staging", mutate)
    assert message.endswith("  media.lifecycle: rule ids must be distinct; repeated: 'generated-retention'")


def test_a_rule_off_the_media_key_prefix_is_refused_so_retention_cannot_switch_off(write_stack) -> None:
    message = _error(write_stack, "production",
                     lambda d: d["media"]["lifecycle"]["rules"][0].update(prefix="images/"))
    assert message.endswith(
        "  media.lifecycle: rule 'generated-retention' has prefix 'images/', but the backend writes every object "
        "under 'generated/' (infra/model/contract.py MEDIA_KEY_PREFIX), so the rule would apply to nothing: set its "
        "prefix to 'generated/' (or '' for the whole bucket)"
    )


def test_a_rule_for_the_whole_bucket_covers_the_media_keys(write_stack) -> None:
    path = write_stack("staging", lambda d: d["media"]["lifecycle"]["rules"][0].update(prefix=""))
    assert load_settings("staging", path).media.lifecycle.rules[0].prefix == ""


@pytest.mark.parametrize("model", [m for m in MODELS if m not in ASYNC_MODELS])
def test_a_sync_only_model_is_refused_with_async_processing(write_stack, model: str) -> None:
    message = _error(write_stack, "staging", lambda d: d["upstream"].update(model=model))
    assert message.endswith(
        f"  (top level): upstream.model '{model}' serves only synchronous calls, so with queues.enabled: true every "
        "run would fail: use one of 'qwen-image', 'qwen-image-plus' or set queues.enabled: false"
    )


def test_a_sync_only_model_is_accepted_without_async_processing() -> None:
    settings = load_settings("local").with_overrides({"upstream.model": "qwen-image-max"})
    assert (settings.upstream.model, settings.queues.enabled) == ("qwen-image-max", False)


def test_settings_accept_exactly_the_contract_models(write_stack) -> None:
    message = _error(write_stack, "local", lambda d: d["upstream"].update(model="qwen-image-2.0"))
    assert "  upstream.model: Input should be 'qwen-image', 'qwen-image-plus', 'qwen-image-plus-2026-01-09', " \
           "'qwen-image-max' or 'qwen-image-max-2025-12-30'" in message


def test_lifecycle_requires_the_abort_multipart_setting(write_stack) -> None:
    message = _error(write_stack, "staging",
                     lambda d: d["media"]["lifecycle"].pop("abort_incomplete_multipart_after_days"))
    assert "  media.lifecycle.abort_incomplete_multipart_after_days: Field required" in message


def test_signed_delivery_needs_a_ttl(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["media"]["delivery"].pop("signed_url_ttl_seconds"))
    assert "  media.delivery: mode 'signed' needs signed_url_ttl_seconds" in message


def test_service_binding_forbids_a_public_backend(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["backend"].update(workers_dev=True))
    assert ("backend must not be public (workers_dev false, no custom_domain) when the frontend uses "
            "backend_access 'service-binding'") in message


def test_url_access_needs_a_backend_url(write_stack) -> None:
    def mutate(d):
        d["frontend"]["backend_access"] = "url"
        d["backend"]["workers_dev"] = True

    message = _error(write_stack, "staging", mutate)
    assert "frontend.backend_url is required with backend_access 'url'" in message


def test_url_access_needs_a_public_backend(write_stack) -> None:
    def mutate(d):
        d["frontend"].update(backend_access="url", backend_url="https://api.example.com")

    message = _error(write_stack, "staging", mutate)
    assert "backend_access 'url' needs a public backend (workers_dev or custom_domain)" in message


def test_production_data_must_be_protected(write_stack) -> None:
    message = _error(write_stack, "production", lambda d: d.update(protect_data=False))
    assert "production must set protect_data: true" in message


def test_plain_http_upstream_is_local_only(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["upstream"].update(base_url="http://dashscope.example"))
    assert "upstream.base_url must use https outside the local environment" in message


def test_http_result_downloads_are_local_only(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["upstream"].update(allow_http_results=True))
    assert "upstream.allow_http_results is only allowed in the local environment" in message


def test_custom_domains_need_a_zone(write_stack) -> None:
    message = _error(write_stack, "production", lambda d: d["cloudflare"].pop("zone_id"))
    assert "cloudflare.zone_id is required when a custom_domain or route is set" in message


def test_file_must_be_for_its_environment(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d.update(environment="local"))
    assert message.endswith("environment: is 'local' but the file is for 'staging'")


def test_names_beyond_cloudflare_limits_are_rejected(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d.update(app="a-very-long-application-name-xyz"))
    assert "  app: String should have at most 30 characters" in message


def test_worker_names_are_held_to_54_characters() -> None:
    settings = load_settings("staging").with_overrides({
        "app": "qwen-image-generation-platform", "environment": "preview-pr-1234",
    })
    assert check_names(settings) == [
        "  app/environment: frontend name 'qwen-image-generation-platform-preview-pr-1234-frontend' is 55 "
        "characters; Cloudflare allows 3 to 54: shorten app",
    ]


def test_a_missing_stack_file_names_the_known_stacks(tmp_path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings("qa", tmp_path / "qa.yaml")
    assert str(caught.value) == (
        f"load settings 'qa' failed: {tmp_path / 'qa.yaml'} does not exist; known stacks: local, production, staging"
    )


def test_overrides_are_validated_like_the_file() -> None:
    settings = load_settings("local")
    assert settings.with_overrides({"queues.enabled": True}).queues.enabled is True
    with pytest.raises(SettingsError, match=r"queues\.enabled: Input should be a valid boolean"):
        settings.with_overrides({"queues.enabled": "yes"})
    with pytest.raises(SettingsError, match=r"unknown field 'queues\.enable'"):
        settings.with_overrides({"queues.enable": True})


def test_an_invalid_file_fails_the_program_before_any_resource_is_declared(write_stack) -> None:
    path = write_stack("staging", lambda d: d["queues"].update(enabled="yes"))
    with pytest.raises(PlanError) as caught:
        run_plan("staging", {**placeholder_config(), "qwen-image:settings": str(path)})
    assert str(caught.value) == (
        f"load settings 'staging' failed: {path} has 1 problem(s):\n  queues.enabled: Input should be a valid boolean"
    )
    assert caught.value.declared == []


def test_a_route_must_name_a_host_and_a_path(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["frontend"].update(routes=["example.com"]))
    assert "  frontend.routes.0: String should match pattern" in message


@pytest.mark.parametrize(("rate", "reason"), [(0, "Input should be greater than 0"),
                                            (1.5, "Input should be less than or equal to 1"),
                                            ("1", "Input should be a valid number")])
def test_head_sampling_rate_is_a_fraction_of_invocations(write_stack, rate: object, reason: str) -> None:
    message = _error(write_stack, "staging", lambda d: d["observability"].update(head_sampling_rate=rate))
    assert message.endswith(f"has 1 problem(s):\n  observability.head_sampling_rate: {reason}")


def test_production_keeps_workers_logs_on(write_stack) -> None:
    message = _error(write_stack, "production", lambda d: d["observability"].update(enabled=False))
    assert "production must set observability.enabled: true (the runbook reads Workers Logs)" in message


@pytest.mark.parametrize(("name", "problem"), [
    ("Qwen_Backend", "String should match pattern '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'"),
    ("qb", "String should have at least 3 characters"),
    ("b" * 55, "String should have at most 54 characters"),
])
def test_a_kept_script_name_is_held_to_the_limits_of_generated_ones(write_stack, name: str, problem: str) -> None:
    message = _error(write_stack, "production", lambda d: d["backend"].update(script_name=name))
    assert f"  backend.script_name: {problem}" in message


@pytest.mark.parametrize(("worker", "fields", "problem"), [
    ("backend", {"adopt": ["custom_domain"]}, "adopt lists 'custom_domain' but custom_domain is not set"),
    ("frontend", {"adopt": ["routes"]}, "adopt lists 'routes' but there are no routes"),
    ("frontend", {"adopt": ["script", "script"]}, "adopt lists an item twice"),
    ("frontend", {"adopt": ["scripts"]}, "Input should be 'script', 'custom_domain' or 'routes'"),
])
def test_adoption_lists_only_what_the_worker_has(write_stack, worker: str, fields: dict, problem: str) -> None:
    message = _error(write_stack, "production", lambda d: d[worker].update(fields))
    assert problem in message


def test_an_adopted_worker_keeps_its_script_name_and_the_binding_follows_it(write_stack) -> None:
    def adopt(d):
        d["backend"].update(script_name="qwen-api", adopt=["script"])
        d["frontend"].update(script_name="qwen-web", adopt=["script", "custom_domain"])

    backend, frontend = declare_workers(load_settings("production", write_stack("production", adopt)))
    assert (backend.script_name, frontend.script_name) == ("qwen-api", "qwen-web")
    assert next(b for b in frontend.bindings if b.name == "BACKEND").target == "qwen-api"


def test_runs_purged_before_their_images_expire_are_refused(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["metadata"].update(retention_days=90))
    assert message.endswith(
        "  (top level): metadata.retention_days (90) would purge runs whose images are still stored "
        "(media.lifecycle expires generated/ after 90 days and R2 removes objects within 1 day of that): set "
        "retention_days to at least 91, or set metadata.images_outlive_runs: true to keep images nobody can find "
        "through a run")


def test_runs_purged_while_images_never_expire_are_refused(write_stack) -> None:
    message = _error(write_stack, "staging",
                     lambda d: d["media"]["lifecycle"]["rules"][0].pop("expire_after_days"))
    assert ("metadata.retention_days (91) would purge runs whose images are still stored (media.lifecycle never "
            "expires generated/): set retention_days: null, or set metadata.images_outlive_runs: true") in message


def test_images_may_outlive_their_runs_when_the_settings_say_so(write_stack) -> None:
    def mutate(d):
        d["metadata"].update(retention_days=30, images_outlive_runs=True)

    settings = load_settings("staging", write_stack("staging", mutate))
    assert settings.metadata.retention_days == 30


def test_saying_images_outlive_runs_when_none_do_is_refused(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["metadata"].update(images_outlive_runs=True))
    assert ("metadata.images_outlive_runs is true but no image outlives its run's record here: remove it"
            in message)


def test_runs_may_outlive_their_images_and_be_kept_forever(write_stack) -> None:
    for days in (400, None):
        settings = load_settings("staging", write_stack("staging", lambda d, v=days: d["metadata"].update(
            retention_days=v)))
        assert settings.metadata.retention_days == days


def test_retention_days_must_be_written_even_to_keep_runs_forever(write_stack) -> None:
    message = _error(write_stack, "staging", lambda d: d["metadata"].pop("retention_days"))
    assert "  metadata.retention_days: Field required" in message


def test_the_earliest_expiry_of_the_rules_covering_a_prefix_counts() -> None:
    lifecycle = load_settings("staging").media.lifecycle.model_copy(update={"rules": [
        LifecycleRule(id="all", prefix="", expire_after_days=400),
        LifecycleRule(id="images", prefix="generated/", expire_after_days=90),
        LifecycleRule(id="other", prefix="tmp/", expire_after_days=1),
    ]})
    assert lifecycle.expiry_days("generated/") == 90 and lifecycle.expiry_days("logs/") == 400


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("period_seconds", 30, "Input should be 10 or 60"),
    ("limit", 0, "Input should be greater than or equal to 1"),
    ("namespace_id", "1001", "Input should be a valid integer"),
])
def test_the_generate_rate_limit_is_what_cloudflare_accepts(write_stack, field: str, value: object,
                                                             reason: str) -> None:
    message = _error(write_stack, "staging", lambda d: d["generate_rate_limit"].update({field: value}))
    assert message.endswith(f"has 1 problem(s):\n  generate_rate_limit.{field}: {reason}")


def test_stacks_of_one_account_count_in_namespaces_of_their_own() -> None:
    """A namespace is per account: two stacks sharing one would share their clients' counts."""
    by_account: dict[tuple[str, int], list[str]] = {}
    for environment in STACKS:
        settings = load_settings(environment)
        key = (settings.cloudflare.account_id, settings.generate_rate_limit.namespace_id)
        by_account.setdefault(key, []).append(environment)
    assert [names for names in by_account.values() if len(names) > 1] == []
