"""The R2 bucket and its lifecycle document."""

from __future__ import annotations

import pytest

from infra.components.media import ABORT_MULTIPART_RULE_ID, SECONDS_PER_DAY
from infra.model.settings import load_settings

from .conftest import STACKS

DAY = SECONDS_PER_DAY


@pytest.mark.parametrize("stack", STACKS)
def test_bucket_is_named_and_placed_by_the_stack(plan_of, stack: str) -> None:
    bucket = plan_of(stack).one("R2Bucket").inputs
    settings = load_settings(stack)
    assert bucket["name"] == f"qwen-image-{stack}-media"
    assert bucket["location"] == settings.media.location_hint
    assert bucket["storageClass"] == "Standard"
    assert bucket["accountId"] == settings.cloudflare.account_id


@pytest.mark.parametrize("stack", STACKS)
def test_lifecycle_keeps_abort_multipart_rule(plan_of, stack: str) -> None:
    rules = plan_of(stack).one("R2BucketLifecycle").inputs["rules"]
    days = load_settings(stack).media.lifecycle.abort_incomplete_multipart_after_days
    abort = rules[0]
    assert abort == {
        "id": ABORT_MULTIPART_RULE_ID,
        "enabled": True,
        "conditions": {"prefix": ""},
        "abortMultipartUploadsTransition": {"condition": {"type": "Age", "maxAge": days * DAY}},
    }, f"{stack}: the lifecycle document must declare the bucket's default abort-multipart rule first"


@pytest.mark.parametrize("stack", STACKS)
def test_lifecycle_declares_every_configured_rule(plan_of, stack: str) -> None:
    declared = {rule["id"]: rule for rule in plan_of(stack).one("R2BucketLifecycle").inputs["rules"][1:]}
    configured = load_settings(stack).media.lifecycle.rules
    assert sorted(declared) == sorted(rule.id for rule in configured)
    for rule in configured:
        got = declared[rule.id]
        assert got["conditions"] == {"prefix": rule.prefix}
        assert got["enabled"] is True
        if rule.expire_after_days:
            assert got["deleteObjectsTransition"] == {"condition": {"type": "Age",
                                                                     "maxAge": rule.expire_after_days * DAY}}
        if rule.infrequent_access_after_days:
            assert got["storageClassTransitions"] == [{
                "storageClass": "InfrequentAccess",
                "condition": {"type": "Age", "maxAge": rule.infrequent_access_after_days * DAY},
            }]
        else:
            assert "storageClassTransitions" not in got


def test_staging_moves_generated_media_to_infrequent_access_before_expiry(plan_of) -> None:
    rule = plan_of("staging").one("R2BucketLifecycle").inputs["rules"][1]
    assert rule["storageClassTransitions"][0]["condition"]["maxAge"] == 30 * DAY
    assert rule["deleteObjectsTransition"]["condition"]["maxAge"] == 90 * DAY


def test_lifecycle_is_applied_after_the_bucket_exists(plan_of) -> None:
    assert plan_of("staging").one("R2BucketLifecycle").depends_on == ["media-bucket"]


def test_custom_domain_delivery_declares_the_bucket_domain(plan_of) -> None:
    domain = plan_of("production").one("R2CustomDomain").inputs
    settings = load_settings("production")
    assert domain["domain"] == "media.qwen-image.example.com"
    assert domain["zoneId"] == settings.cloudflare.zone_id
    assert domain["bucketName"] == "qwen-image-production-media"
    assert domain["enabled"] is True


@pytest.mark.parametrize("stack", ["local", "staging"])
def test_worker_delivery_declares_no_bucket_domain(plan_of, stack: str) -> None:
    assert plan_of(stack).of_type("R2CustomDomain") == []
