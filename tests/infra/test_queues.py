"""Async processing resources: queues exist only when async is on, consumers wait for their script."""

from __future__ import annotations

import pytest

from infra.settings import load_settings

from .conftest import DEPLOYED


@pytest.mark.parametrize("stack", DEPLOYED)
def test_consumers_depend_on_the_script_that_exports_queue(plan_of, stack: str) -> None:
    plan = plan_of(stack)
    consumers = plan.of_type("QueueConsumer")
    assert len(consumers) == 2
    for consumer in consumers:
        assert "backend-script" in consumer.depends_on, f"{consumer.name} must depend on the backend script"
        assert consumer.inputs["scriptName"] == f"qwen-image-{stack}-backend"
        assert consumer.inputs["type"] == "worker"


@pytest.mark.parametrize("stack", DEPLOYED)
def test_consumer_settings_are_in_the_units_the_api_takes(plan_of, stack: str) -> None:
    queues = load_settings(stack).queues
    plan = plan_of(stack)
    for name, configured in (("consumers-jobs", queues.jobs), ("consumers-jobs-dlq", queues.dead_letter)):
        assert plan.one("QueueConsumer", name).inputs["settings"] == {
            "batchSize": configured.max_batch_size,
            "maxConcurrency": configured.max_concurrency,
            "maxRetries": configured.max_retries,
            "maxWaitTimeMs": configured.max_batch_timeout_seconds * 1000,
            "retryDelay": configured.retry_delay_seconds,
        }


@pytest.mark.parametrize("stack", DEPLOYED)
def test_failed_jobs_go_to_the_dead_letter_queue(plan_of, stack: str) -> None:
    plan = plan_of(stack)
    assert plan.one("QueueConsumer", "consumers-jobs").inputs["deadLetterQueue"] == f"qwen-image-{stack}-jobs-dlq"
    assert "deadLetterQueue" not in plan.one("QueueConsumer", "consumers-jobs-dlq").inputs


@pytest.mark.parametrize("stack", DEPLOYED)
def test_changing_the_consumer_script_replaces_it_old_one_first(plan_of, stack: str) -> None:
    for consumer in plan_of(stack).of_type("QueueConsumer"):
        assert consumer.options == {"delete_before_replace": True, "replace_on_changes": ["scriptName"]}


@pytest.mark.parametrize("stack", DEPLOYED)
def test_queue_retention_comes_from_settings(plan_of, stack: str) -> None:
    queues = load_settings(stack).queues
    plan = plan_of(stack)
    assert plan.one("Queue", "queues-jobs").inputs == {
        "accountId": load_settings(stack).cloudflare.account_id,
        "queueName": f"qwen-image-{stack}-jobs",
        "settings": {"messageRetentionPeriod": queues.jobs.message_retention_seconds},
    }
    assert plan.one("Queue", "queues-dead-letter").inputs["settings"] == {
        "messageRetentionPeriod": queues.dead_letter.message_retention_seconds}


def test_async_off_declares_no_queue_resources_and_no_queue_binding(plan_of) -> None:
    plan = plan_of("local")
    assert load_settings("local").async_enabled is False
    assert plan.of_type("Queue") == [] and plan.of_type("QueueConsumer") == []
    bindings = plan.one("WorkersScript", "backend-script").inputs["bindings"]
    assert not [b for b in bindings if b["type"] == "queue"]
    assert {b["name"]: b["text"] for b in bindings if b["type"] == "plain_text"}["ASYNC_ENABLED"] == "false"


def test_async_on_binds_the_jobs_queue_as_producer(plan_of) -> None:
    bindings = plan_of("staging").one("WorkersScript", "backend-script").inputs["bindings"]
    assert {"name": "JOBS", "type": "queue", "queueName": "qwen-image-staging-jobs"} in bindings
