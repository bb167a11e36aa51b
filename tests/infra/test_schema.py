"""The migrations resource: in every stack, triggered by the folder hash, ahead of the backend Worker and its
queue consumers; and its provider doing its job after Pulumi has serialized it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from infra.components.schema import MigrationsProvider
from infra.d1.executors import D1Error
from infra.d1.migrations import MigrationError, discover, folder_hash
from infra.model.bindings import MIGRATIONS_DIR
from infra.model.settings import REPO_ROOT
from infra.plan import KNOWN_AFTER_APPLY, SECRET_MASK, Plan, run_plan
from tests.fakes.cloudflare_api import FakeCloudflare

from .conftest import ACCOUNT_ID, API_TOKEN, STACKS
from .d1_support import DATABASE_ID

MIGRATIONS_TYPE = "pulumi-python:dynamic/schema:Migrations"


def ancestors(plan: Plan, name: str) -> set[str]:
    """Everything `name` waits for during `pulumi up`, directly or through other resources."""
    direct = {r.name: r.depends_on for r in plan.resources}
    seen: set[str] = set()
    todo = list(direct[name])
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += direct.get(current, [])
    return seen


# -- the plan, under Pulumi's mocks -------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_declares_its_migrations_in_the_metadata_store(plan_of, stack: str) -> None:
    resource = plan_of(stack).one("Migrations")
    assert (resource.type, resource.name, resource.parent) == (MIGRATIONS_TYPE, "metadata-migrations", "metadata")
    assert resource.inputs["databaseName"] == f"qwen-image-{stack}-metadata"
    assert resource.inputs["databaseId"] == KNOWN_AFTER_APPLY


@pytest.mark.parametrize("stack", STACKS)
def test_the_trigger_is_the_hash_of_the_migrations_folder(plan_of, stack: str) -> None:
    inputs = plan_of(stack).one("Migrations").inputs
    migrations = discover()
    assert inputs["migrationsHash"] == folder_hash(migrations)
    assert inputs["migrations"] == [m.name for m in migrations]
    assert inputs["migrationsDir"] == "worker_src/migrations"


@pytest.mark.parametrize("stack", STACKS)
def test_migrations_wait_for_the_database_and_the_backend_waits_for_the_migrations(plan_of, stack: str) -> None:
    plan = plan_of(stack)
    assert plan.one("Migrations").depends_on == ["metadata-database"]
    assert "metadata-migrations" in plan.one("WorkersScript", "backend-script").depends_on


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_pulumi_up_order_is_migrations_then_backend_then_queue_consumers(plan_of, stack: str) -> None:
    plan = plan_of(stack)
    for consumer in ("consumers-jobs", "consumers-jobs-dlq"):
        assert {"metadata-migrations", "backend-script"} <= ancestors(plan, consumer), consumer
    assert "metadata-migrations" in ancestors(plan, "frontend-script")
    assert not {"backend-script", "consumers-jobs"} & ancestors(plan, "metadata-migrations")


def test_the_api_token_is_never_an_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "token-that-must-not-reach-the-state")
    plan = run_plan("production")
    assert "token-that-must-not-reach-the-state" not in json.dumps(plan.to_json())
    assert plan.one("Migrations").inputs["__provider"] == SECRET_MASK


# -- the trigger -------------------------------------------------------------------------------------------


def test_the_folder_hash_changes_with_any_migration_and_only_with_migrations(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    base = folder_hash(discover(folder))
    (folder / "README.md").write_text("notes are not migrations")
    assert folder_hash(discover(folder)) == base
    first = sorted(folder.glob("*.sql"))[0]
    first.write_bytes(first.read_bytes().replace(b"\n", b"\r\n"))
    assert folder_hash(discover(folder)) == base, "a CRLF checkout is the same migration"
    (folder / "0099_create_notes.sql").write_text("CREATE TABLE notes (a TEXT);\n")
    added = folder_hash(discover(folder))
    assert added != base
    (folder / "0099_create_notes.sql").write_text("CREATE TABLE notes (a TEXT, b TEXT);\n")
    assert folder_hash(discover(folder)) not in (base, added)


def test_only_a_new_folder_hash_or_another_database_updates_the_schema() -> None:
    provider = MigrationsProvider()
    old = {"migrationsHash": "aaa", "databaseId": DATABASE_ID, "accountId": "x", "migrations": ["0001_a.sql"]}
    assert provider.diff(DATABASE_ID, old, {**old, "accountId": "y"}).changes is False
    for key, value in (("migrationsHash", "bbb"), ("databaseId", "another")):
        diff = provider.diff(DATABASE_ID, old, {**old, key: value})
        assert (diff.changes, diff.replaces) == (True, []), key


# -- the provider at `pulumi up` ------------------------------------------------------------------------------

# What the engine's provider process does with the state's `__provider`: decode it, then call it.
RUN_PROVIDER = """
import base64, json, sys
import dill
provider = dill.loads(base64.b64decode(sys.argv[1]))
props = json.loads(sys.argv[2])
created = provider.create(props)
updated = provider.update(created.id, created.outs, props)
print(json.dumps({"id": created.id, "created": created.outs, "updated": updated.outs}))
"""


def planned_props(plan_of) -> dict[str, Any]:
    inputs = dict(plan_of("staging").one("Migrations").inputs)
    inputs.pop("__provider")
    return {**inputs, "databaseId": DATABASE_ID}


def test_the_serialized_provider_applies_pending_migrations_through_the_d1_api(
        plan_of, cloudflare_api: FakeCloudflare) -> None:
    database = cloudflare_api.add_database(ACCOUNT_ID, "qwen-image-staging-metadata", database_id=DATABASE_ID)
    blob = serialize_provider(MigrationsProvider())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"CLOUDFLARE_API_TOKEN": API_TOKEN, "CLOUDFLARE_BASE_URL": cloudflare_api.base_url}
    # As the engine launches it: a fresh interpreter in the project directory, no PYTHONPATH.
    result = subprocess.run([sys.executable, "-c", RUN_PROVIDER, blob, json.dumps(planned_props(plan_of))],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    names = [m.name for m in discover()]
    assert outcome["id"] == DATABASE_ID
    assert (outcome["created"]["applied"], outcome["updated"]["applied"]) == (names, [])
    assert cloudflare_api.rows(database, "SELECT name FROM d1_migrations ORDER BY id") == [(n,) for n in names]
    assert cloudflare_api.rows(database, "SELECT count(*) FROM sqlite_master WHERE name = 'runs'") == [(1,)]
    assert {r.headers["authorization"] for r in cloudflare_api.requests} == {f"Bearer {API_TOKEN}"}


# The provider as stacks deployed before the package layout recorded it: a pickle naming `infra.schema`.
LEGACY_PROVIDER_BLOB = "gASVKgAAAAAAAACMDGluZnJhLnNjaGVtYZSMEk1pZ3JhdGlvbnNQcm92aWRlcpSTlCmBlC4="


def test_new_states_record_the_provider_in_its_package() -> None:
    assert b"infra.components.schema" in base64.b64decode(serialize_provider(MigrationsProvider()))


def test_states_recorded_before_the_package_layout_still_find_the_provider() -> None:
    """As the engine loads it for refresh or destroy: a fresh interpreter in the project directory."""
    assert b"infra.schema" in base64.b64decode(LEGACY_PROVIDER_BLOB)
    load = ("import base64, sys, dill; p = dill.loads(base64.b64decode(sys.argv[1])); "
            "print(type(p).__module__, type(p).__name__)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", load, LEGACY_PROVIDER_BLOB], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["infra.components.schema", "MigrationsProvider"]


def test_the_provider_needs_the_token_in_the_environment(plan_of, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(D1Error) as failure:
        MigrationsProvider().create(planned_props(plan_of))
    assert str(failure.value) == (
        "apply migrations to 'qwen-image-staging-metadata' failed: CLOUDFLARE_API_TOKEN is not set; export an API "
        "token with the 'D1 Edit' permission for the stack's account"
    )


def test_the_provider_refuses_a_folder_changed_since_the_plan(plan_of) -> None:
    props = {**planned_props(plan_of), "migrationsHash": "0" * 64}
    with pytest.raises(MigrationError) as failure:
        MigrationsProvider().update(DATABASE_ID, props, props)
    assert str(failure.value) == ("apply migrations to 'qwen-image-staging-metadata' failed: worker_src/migrations "
                                  "changed after this update was planned; run `pulumi up` again")


def test_deleting_the_resource_leaves_the_schema_alone(plan_of, cloudflare_env: FakeCloudflare) -> None:
    MigrationsProvider().delete(DATABASE_ID, planned_props(plan_of))
    assert cloudflare_env.requests == []
