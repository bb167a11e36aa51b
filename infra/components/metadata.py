"""Workflow metadata: the D1 database holding runs, assets and events.

No Cloudflare resource manages a D1 schema; the schema is applied by the project's migration step
(`infra.components.schema`), which the backend Worker must wait for (the seam is `MetadataStore.schema_ready`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from infra.components.protection import D1_DATABASE_REPLACED_BY, data_options
from infra.components.schema import SchemaMigrations, SchemaMigrationsArgs
from infra.model.settings import Metadata


@dataclass(frozen=True)
class MetadataStoreArgs:
    account_id: str
    database_name: str
    metadata: Metadata
    protect: bool


class MetadataStore(pulumi.ComponentResource):
    database: cloudflare.D1Database
    migrations: SchemaMigrations

    def __init__(self, name: str, args: MetadataStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("qwen-image:metadata:MetadataStore", name, None, opts)
        self.database = cloudflare.D1Database(
            f"{name}-database",
            account_id=args.account_id,
            name=args.database_name,
            primary_location_hint=args.metadata.location_hint,
            opts=data_options(self, args.protect, D1_DATABASE_REPLACED_BY),
        )
        self.migrations = SchemaMigrations(f"{name}-migrations", SchemaMigrationsArgs(
            account_id=args.account_id, database_id=self.database.uuid, database_name=args.database_name,
        ), opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"database_id": self.database.uuid})

    @property
    def database_id(self) -> pulumi.Output[str]:
        return self.database.uuid

    @property
    def schema_ready(self) -> list[pulumi.Resource]:
        """What a Worker using this database must depend on: its migrations (which depend on the database)."""
        return [self.migrations]
