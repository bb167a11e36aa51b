"""The D1 schema as a Pulumi resource: pending migrations are applied during `pulumi up`.

No Cloudflare resource manages a D1 schema, so a dynamic provider runs `infra.d1.migrations` against the
stack's database. Its trigger is one hash over the migrations folder: a new or changed file makes an
update, which applies what is pending (an edited applied file is refused by the runner). The backend
Worker script `depends_on` this resource, so a new schema is in place before the code that needs it.

Credentials: the provider reads `CLOUDFLARE_API_TOKEN` from the environment of `pulumi up` at apply time,
the same variable the Cloudflare provider reads. The token is never an input, so it never reaches the
state (dynamic provider inputs and outputs are stored there in plain text unless secret).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from infra.d1.executors import CloudflareD1Executor, cloudflare_client
from infra.d1.migrations import MigrationError, MigrationRunner, discover, folder_hash
from infra.model.bindings import MIGRATIONS_DIR
from infra.model.settings import REPO_ROOT

# The inputs whose change re-runs the migrations: the folder's content and the database it goes to.
TRIGGERS = ("migrationsHash", "databaseId")


class MigrationsProvider(dynamic.ResourceProvider):
    """Create and update apply every pending migration; delete leaves the schema to its database.

    Pulumi pickles this object into the state (its class by reference) and runs it in the engine's
    provider process, which is launched in the project directory: `infra` is imported there from the
    checkout being deployed, so the runner that applies is the one that planned.
    """

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        return dynamic.CreateResult(id_=str(props["databaseId"]), outs=self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [key for key in TRIGGERS if olds.get(key) != news.get(key)]
        return dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs=self._apply(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: tables go with the database, and migrations only move forward."""

    @staticmethod
    def _apply(props: dict[str, Any]) -> dict[str, Any]:
        name = props["databaseName"]
        migrations = discover(REPO_ROOT / props["migrationsDir"])
        if folder_hash(migrations) != props["migrationsHash"]:
            raise MigrationError(
                f"apply migrations to '{name}' failed: {props['migrationsDir']} changed after this update was "
                "planned; run `pulumi up` again"
            )
        client = cloudflare_client(f"apply migrations to '{name}'")
        executor = CloudflareD1Executor(client, props["accountId"], props["databaseId"], name)
        outcome = MigrationRunner(executor, migrations).apply()
        return {**props, "applied": list(outcome.applied), "adopted": list(outcome.adopted)}


@dataclass(frozen=True)
class SchemaMigrationsArgs:
    account_id: str
    database_id: pulumi.Input[str]
    database_name: str
    migrations_dir: Path = MIGRATIONS_DIR


class SchemaMigrations(dynamic.Resource, module="schema", name="Migrations"):
    """Type `pulumi-python:dynamic/schema:Migrations`. Outputs `applied` and `adopted`: what the last
    create or update applied, and which wrangler-applied migrations it recorded checksums for."""

    def __init__(self, name: str, args: SchemaMigrationsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        migrations = discover(args.migrations_dir)
        # camelCase keys, as every other resource's inputs are spelled on the wire (plans and diffs read alike).
        super().__init__(MigrationsProvider(), name, {
            "accountId": args.account_id,
            "databaseId": args.database_id,
            "databaseName": args.database_name,
            # Repo-relative, so the state does not depend on where the repository is checked out.
            "migrationsDir": _repo_relative(args.migrations_dir),
            "migrations": [m.name for m in migrations],
            "migrationsHash": folder_hash(migrations),
            "applied": None,
            "adopted": None,
        }, opts)


def _repo_relative(path: Path) -> str:
    resolved = path.resolve()
    return resolved.relative_to(REPO_ROOT).as_posix() if resolved.is_relative_to(REPO_ROOT) else os.fspath(resolved)
