"""Resource options for stateful resources whose replacement loses data (R2 buckets, D1 databases).

A change of an input the provider cannot update in place (its name, account, location or jurisdiction)
replaces the resource. By default Pulumi creates the new one before deleting the old, which Cloudflare
refuses for a name already taken, and the old one's data goes when it is deleted anyway. So a replacement is
never a surprise: protected stacks refuse it (`protect`) and never delete the resource in Cloudflare
(`retain_on_delete`); unprotected stacks replace by deleting first (`delete_before_replace`), after the data
has been copied as docs/runbook.md ("Replacing a data resource") says. Each resource also lists the inputs
that force its replacement (`replace_on_changes`), which is what the offline plan shows for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

# The inputs the Cloudflare provider replaces the resource for, as RequiresReplace plan modifiers declare them
# in terraform-provider-cloudflare v5.22.0 (what pulumi-cloudflare 6.x wraps; v5.19.1 has the same), files
# internal/services/d1_database/schema.go and internal/services/r2_bucket/schema.go. An R2 bucket's `location`
# is RequiresReplaceIfConfigured there, but its locationIgnorePlanModifier keeps the created value in the plan,
# so a changed location hint replaces nothing (the bucket stays where it was created).
D1_DATABASE_REPLACED_BY = ("account_id", "name", "jurisdiction", "primary_location_hint")
R2_BUCKET_REPLACED_BY = ("account_id", "name")


def data_options(parent: pulumi.Resource, protect: bool, replaced_by: Sequence[str],
                 **extra: object) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect,
                                  delete_before_replace=not protect, replace_on_changes=list(replaced_by), **extra)
