"""Async processing resources: queues exist only when async is on, consumers wait for their script."""

from __future__ import annotations

import pytest

from infra.model.settings import load_settings
from infra.plan import Plan, placeholder_config, run_plan

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


ASYNC_VARS = ("JOBS_QUEUE", "DEAD_LETTER_QUEUE", "JOBS_MAX_RETRIES", "JOBS_BATCH_WAIT_SECONDS",
              "POLL_INITIAL_DELAY_SECONDS", "POLL_MAX_DELAY_SECONDS", "POLL_MAX_POLLS", "POLL_EXPECTED_TASK_SECONDS",
              "POLL_LEARN_FROM_RECENT_RUNS")


def _flipped(write_stack, stack: str, enabled: bool) -> Plan:
    """The plan of `stack` with only `queues.enabled` changed (the program reads another stack file)."""

    def flip(data: dict) -> None:
        data["queues"]["enabled"] = enabled

    path = write_stack(stack, flip)
    return run_plan(stack, config={**placeholder_config(), "qwen-image:settings": str(path)})


def _texts(plan: Plan) -> dict[str, str]:
    bindings = plan.one("WorkersScript", "backend-script").inputs["bindings"]
    return {b["name"]: b["text"] for b in bindings if b["type"] == "plain_text"}


@pytest.mark.parametrize("stack", DEPLOYED)
def test_the_consumer_is_told_its_queues_retries_and_polling_by_the_settings(plan_of, stack: str) -> None:
    """queue.js tells the two queues apart by these names, so they must be the queues' own."""
    plan, queues = plan_of(stack), load_settings(stack).queues
    texts = _texts(plan)
    assert {name: texts[name] for name in ASYNC_VARS} == {
        "JOBS_QUEUE": plan.one("Queue", "queues-jobs").inputs["queueName"],
        "DEAD_LETTER_QUEUE": plan.one("Queue", "queues-dead-letter").inputs["queueName"],
        "JOBS_MAX_RETRIES": str(queues.jobs.max_retries),
        "JOBS_BATCH_WAIT_SECONDS": str(queues.jobs.max_batch_timeout_seconds),
        "POLL_INITIAL_DELAY_SECONDS": str(queues.polling.initial_delay_seconds),
        "POLL_MAX_DELAY_SECONDS": str(queues.polling.max_delay_seconds),
        "POLL_MAX_POLLS": str(queues.polling.max_polls),
        "POLL_EXPECTED_TASK_SECONDS": str(queues.polling.expected_task_seconds),
        "POLL_LEARN_FROM_RECENT_RUNS": "true" if queues.polling.learn_from_recent_runs else "false",
    }
    assert texts["ASYNC_ENABLED"] == "true"


def test_switching_async_off_on_a_deployed_stack_removes_queues_consumers_and_their_bindings(write_stack) -> None:
    plan = _flipped(write_stack, "staging", enabled=False)
    assert plan.of_type("Queue") == [] and plan.of_type("QueueConsumer") == [], "async off declares no queue"
    bindings = plan.one("WorkersScript", "backend-script").inputs["bindings"]
    assert not [b for b in bindings if b["type"] == "queue"]
    texts = _texts(plan)
    assert texts["ASYNC_ENABLED"] == "false" and not set(ASYNC_VARS) & set(texts)
    assert (plan.outputs["jobs_queue"], plan.outputs["dead_letter_queue"]) == (None, None)


def test_switching_async_on_for_the_local_stack_declares_everything_the_consumer_needs(write_stack) -> None:
    plan = _flipped(write_stack, "local", enabled=True)
    assert sorted(q.inputs["queueName"] for q in plan.of_type("Queue")) == [
        "qwen-image-local-jobs", "qwen-image-local-jobs-dlq"]
    consumers = plan.of_type("QueueConsumer")
    assert len(consumers) == 2 and all("backend-script" in c.depends_on for c in consumers)
    bindings = plan.one("WorkersScript", "backend-script").inputs["bindings"]
    assert {"name": "JOBS", "type": "queue", "queueName": "qwen-image-local-jobs"} in bindings
    assert _texts(plan)["ASYNC_ENABLED"] == "true" and set(ASYNC_VARS) <= set(_texts(plan))
