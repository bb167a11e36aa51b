"""Where stacks deployed before the package layout find the migrations provider. Do not remove.

Pulumi stores a dynamic resource's provider in each stack's state as a pickle that names its class by
module path. Stacks last updated before `infra/` was split into packages recorded
`infra.schema.MigrationsProvider`; refresh, update and destroy of those stacks unpickle that path. New
deployments record `infra.components.schema.MigrationsProvider` (the class's home). This alias keeps both
working: tests/infra/test_schema.py unpickles a provider recorded under the old path.
"""

from infra.components.schema import MigrationsProvider, SchemaMigrations, SchemaMigrationsArgs

__all__ = ["MigrationsProvider", "SchemaMigrations", "SchemaMigrationsArgs"]
