"""Resource options for stateful resources whose replacement loses data (R2 buckets, D1 databases).

Renaming or moving either replaces it, and the provider deletes the old one with its contents; on
protected stacks Pulumi refuses that (`protect`) and never deletes it in Cloudflare (`retain_on_delete`).
"""

from __future__ import annotations

import pulumi


def data_options(parent: pulumi.Resource, protect: bool, **extra: object) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect, **extra)
