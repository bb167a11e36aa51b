"""Durable media: the R2 bucket, its complete lifecycle document and an optional public custom domain."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from infra.components.protection import R2_BUCKET_REPLACED_BY, data_options
from infra.model.settings import Lifecycle, Media

SECONDS_PER_DAY = 86_400
# Cloudflare gives every new bucket this rule under this id. Declaring it under the same id keeps it when
# the lifecycle document (which replaces all rules on write) is applied, and makes the first apply a no-op.
ABORT_MULTIPART_RULE_ID = "Default Multipart Abort Rule"


@dataclass(frozen=True)
class MediaStoreArgs:
    account_id: str
    bucket_name: str
    media: Media
    protect: bool
    zone_id: str | None = None


def _age(days: int) -> dict[str, object]:
    return {"type": "Age", "max_age": days * SECONDS_PER_DAY}


def lifecycle_rules(lifecycle: Lifecycle) -> list[cloudflare.R2BucketLifecycleRuleArgs]:
    """Every rule of the bucket, the abort-incomplete-multipart rule first (it covers the whole bucket)."""
    rules = [
        cloudflare.R2BucketLifecycleRuleArgs(
            id=ABORT_MULTIPART_RULE_ID,
            enabled=True,
            conditions=cloudflare.R2BucketLifecycleRuleConditionsArgs(prefix=""),
            abort_multipart_uploads_transition=cloudflare.R2BucketLifecycleRuleAbortMultipartUploadsTransitionArgs(
                condition=cloudflare.R2BucketLifecycleRuleAbortMultipartUploadsTransitionConditionArgs(
                    **_age(lifecycle.abort_incomplete_multipart_after_days)
                ),
            ),
        )
    ]
    for rule in lifecycle.rules:
        expire = transitions = None
        if rule.expire_after_days is not None:
            expire = cloudflare.R2BucketLifecycleRuleDeleteObjectsTransitionArgs(
                condition=cloudflare.R2BucketLifecycleRuleDeleteObjectsTransitionConditionArgs(
                    **_age(rule.expire_after_days)
                ),
            )
        if rule.infrequent_access_after_days is not None:
            transitions = [
                cloudflare.R2BucketLifecycleRuleStorageClassTransitionArgs(
                    storage_class="InfrequentAccess",
                    condition=cloudflare.R2BucketLifecycleRuleStorageClassTransitionConditionArgs(
                        **_age(rule.infrequent_access_after_days)
                    ),
                )
            ]
        rules.append(
            cloudflare.R2BucketLifecycleRuleArgs(
                id=rule.id,
                enabled=True,
                conditions=cloudflare.R2BucketLifecycleRuleConditionsArgs(prefix=rule.prefix),
                delete_objects_transition=expire,
                storage_class_transitions=transitions,
            )
        )
    return rules


class MediaStore(pulumi.ComponentResource):
    """R2 bucket for generated images. Deleting this component leaves lifecycle rules in Cloudflare (the
    API has no delete for them), so the bucket itself is what protection guards."""

    bucket: cloudflare.R2Bucket
    lifecycle: cloudflare.R2BucketLifecycle
    custom_domain: cloudflare.R2CustomDomain | None

    def __init__(self, name: str, args: MediaStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("qwen-image:media:MediaStore", name, None, opts)
        self.bucket = cloudflare.R2Bucket(
            f"{name}-bucket",
            account_id=args.account_id,
            name=args.bucket_name,
            location=args.media.location_hint,
            storage_class="Standard",
            opts=data_options(self, args.protect, R2_BUCKET_REPLACED_BY),
        )
        self.lifecycle = cloudflare.R2BucketLifecycle(
            f"{name}-lifecycle",
            account_id=args.account_id,
            bucket_name=self.bucket.name,
            rules=lifecycle_rules(args.media.lifecycle),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.bucket]),
        )
        self.custom_domain = None
        if args.media.delivery.custom_domain:
            self.custom_domain = cloudflare.R2CustomDomain(
                f"{name}-domain",
                account_id=args.account_id,
                bucket_name=self.bucket.name,
                domain=args.media.delivery.custom_domain,
                zone_id=args.zone_id,
                enabled=True,
                min_tls="1.2",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.bucket]),
            )
        self.register_outputs({"bucket_name": self.bucket.name})
