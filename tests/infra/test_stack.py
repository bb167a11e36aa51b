"""The whole stack: what each environment declares, its names, protection and outputs."""

from __future__ import annotations

import re

import pytest
from pulumi.runtime import MockResourceArgs

from infra.model.naming import Role
from infra.model.settings import load_settings
from infra.plan import KNOWN_AFTER_APPLY
from infra.plan.monitor import COMPUTED, PlanMocks, UnknownResourceType

from .conftest import STACKS

EXPECTED_TYPES = {
    "local": ["D1Database", "Migrations", "R2Bucket", "R2BucketLifecycle", "WorkersCronTrigger", "WorkersScript",
              "WorkersScript", "WorkersScriptSubdomain", "WorkersScriptSubdomain"],
    "staging": ["D1Database", "Migrations", "Queue", "Queue", "QueueConsumer", "QueueConsumer", "R2Bucket",
                "R2BucketLifecycle", "WorkersCronTrigger", "WorkersCustomDomain", "WorkersScript", "WorkersScript",
                "WorkersScriptSubdomain", "WorkersScriptSubdomain"],
    "production": ["D1Database", "Migrations", "Queue", "Queue", "QueueConsumer", "QueueConsumer", "R2Bucket",
                   "R2BucketLifecycle", "R2CustomDomain", "WorkersCronTrigger", "WorkersCustomDomain",
                   "WorkersScript", "WorkersScript", "WorkersScriptSubdomain", "WorkersScriptSubdomain"],
}
NAME_INPUTS = {"R2Bucket": "name", "D1Database": "name", "Queue": "queueName", "WorkersScript": "scriptName"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_of_the_stack_is_declared(plan_of, stack: str) -> None:
    types = sorted(r.type.rsplit(":", 1)[-1] for r in plan_of(stack).of_type(""))
    assert types == EXPECTED_TYPES[stack]


@pytest.mark.parametrize("stack", STACKS)
def test_names_follow_the_app_env_role_convention(plan_of, stack: str) -> None:
    roles = "|".join(re.escape(str(role)) for role in Role)
    pattern = re.compile(rf"^qwen-image-{stack}-({roles})$")
    for kind, field in NAME_INPUTS.items():
        for resource in plan_of(stack).of_type(kind):
            name = resource.inputs[field]
            assert pattern.match(name), f"{resource.name}: {field} {name!r} breaks <app>-<env>-<role>"


def test_every_resource_is_declared_in_the_stack_account(plan_of) -> None:
    for stack in STACKS:
        account = load_settings(stack).cloudflare.account_id
        for resource in plan_of(stack).of_type(""):
            if resource.type.endswith("WorkersRoute"):
                continue
            assert resource.inputs["accountId"] == account, f"{stack}/{resource.name}: wrong account"


@pytest.mark.parametrize("kind", ["R2Bucket", "D1Database"])
def test_production_data_is_protected_and_retained(plan_of, kind: str) -> None:
    resource = plan_of("production").one(kind)
    assert resource.protect, f"production {resource.name} must be protected"
    assert resource.retain_on_delete, f"production {resource.name} must be retained on delete"


# What the Cloudflare provider replaces each data resource for (see infra/components/protection.py).
REPLACED_BY = {"R2Bucket": ["accountId", "name"],
               "D1Database": ["accountId", "name", "jurisdiction", "primaryLocationHint"]}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("kind", REPLACED_BY)
def test_each_data_resource_names_the_inputs_that_replace_it(plan_of, stack: str, kind: str) -> None:
    assert plan_of(stack).one(kind).options["replace_on_changes"] == REPLACED_BY[kind]


@pytest.mark.parametrize("stack", ["local", "staging"])
@pytest.mark.parametrize("kind", REPLACED_BY)
def test_unprotected_data_resources_are_replaced_by_deleting_first(plan_of, stack: str, kind: str) -> None:
    """Create-before-delete would fail on the name the old one still holds; the runbook says how to copy first."""
    resource = plan_of(stack).one(kind)
    assert resource.options.get("delete_before_replace") is True, f"{stack} {resource.name}"


@pytest.mark.parametrize("kind", REPLACED_BY)
def test_protected_data_resources_refuse_replacement_instead(plan_of, kind: str) -> None:
    resource = plan_of("production").one(kind)
    assert resource.protect and "delete_before_replace" not in resource.options


@pytest.mark.parametrize("stack", ["local", "staging"])
def test_non_production_data_can_be_torn_down(plan_of, stack: str) -> None:
    assert not any(r.protect or r.retain_on_delete for r in plan_of(stack).of_type(""))


def test_only_data_resources_are_protected_in_production(plan_of) -> None:
    protected = sorted(r.name for r in plan_of("production").of_type("") if r.protect)
    assert protected == ["media-bucket", "metadata-database"]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_outputs_name_what_operators_need(plan_of, stack: str) -> None:
    outputs = plan_of(stack).outputs
    settings = load_settings(stack)
    assert outputs["bucket"] == f"qwen-image-{stack}-media"
    assert outputs["database_name"] == f"qwen-image-{stack}-metadata"
    assert outputs["backend_worker"] == f"qwen-image-{stack}-backend"
    assert outputs["frontend_worker"] == f"qwen-image-{stack}-frontend"
    assert outputs["public_api_base_url"] == f"{settings.public_base_url}/api"
    assert "database_id" in outputs
    queues = (f"qwen-image-{stack}-jobs", f"qwen-image-{stack}-jobs-dlq") if settings.async_enabled else (None, None)
    assert (outputs["jobs_queue"], outputs["dead_letter_queue"]) == queues


def test_the_mocks_know_every_resource_type_the_stacks_declare(plan_of) -> None:
    declared = {r.type for stack in STACKS for r in plan_of(stack).of_type("")}
    assert declared - set(COMPUTED) == set()


def test_the_mocks_refuse_a_resource_type_they_do_not_know() -> None:
    args = MockResourceArgs(typ="cloudflare:index/r2BucketCors:R2BucketCors", name="media-cors", inputs={},
                            provider=None, resource_id=None, custom=True)
    with pytest.raises(UnknownResourceType) as caught:
        PlanMocks().new_resource(args)
    assert str(caught.value) == (
        "plan resource 'media-cors' failed: the mocks do not know the type cloudflare:index/r2BucketCors:R2BucketCors; "
        "add it to COMPUTED in infra/plan/monitor.py with the fields its provider computes"
    )


def test_the_mocks_fill_only_what_the_provider_computes() -> None:
    args = MockResourceArgs(typ="cloudflare:index/d1Database:D1Database", name="metadata-database",
                            inputs={"name": "qwen-image-staging-metadata"}, provider=None, resource_id=None,
                            custom=True)
    _, state = PlanMocks().new_resource(args)
    assert state == {"name": "qwen-image-staging-metadata", "uuid": KNOWN_AFTER_APPLY}
