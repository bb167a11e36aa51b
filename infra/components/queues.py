"""Async processing: the jobs queue, its dead-letter queue, and the consumers that attach Workers to them.

Settings are written in seconds; the consumer API takes `max_wait_time_ms` in milliseconds and
`retry_delay` in seconds, which `consumer_settings` is the one place to convert.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from infra.model.bindings import QueueConsumer
from infra.model.settings import AsyncProcessing, ConsumerSettings


@dataclass(frozen=True)
class JobQueuesArgs:
    account_id: str
    jobs_queue_name: str
    dead_letter_queue_name: str
    settings: AsyncProcessing


class JobQueues(pulumi.ComponentResource):
    jobs: cloudflare.Queue
    dead_letter: cloudflare.Queue
    by_name: dict[str, cloudflare.Queue]

    def __init__(self, name: str, args: JobQueuesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("qwen-image:queues:JobQueues", name, None, opts)

        def queue(suffix: str, queue_name: str, settings: ConsumerSettings) -> cloudflare.Queue:
            return cloudflare.Queue(
                f"{name}-{suffix}",
                account_id=args.account_id,
                queue_name=queue_name,
                settings=cloudflare.QueueSettingsArgs(message_retention_period=settings.message_retention_seconds),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.jobs = queue("jobs", args.jobs_queue_name, args.settings.jobs)
        self.dead_letter = queue("dead-letter", args.dead_letter_queue_name, args.settings.dead_letter)
        self.by_name = {args.jobs_queue_name: self.jobs, args.dead_letter_queue_name: self.dead_letter}
        self.register_outputs({"jobs": self.jobs.queue_name, "dead_letter": self.dead_letter.queue_name})


def consumer_settings(settings: ConsumerSettings) -> cloudflare.QueueConsumerSettingsArgs:
    return cloudflare.QueueConsumerSettingsArgs(
        batch_size=settings.max_batch_size,
        max_concurrency=settings.max_concurrency,
        max_retries=settings.max_retries,
        max_wait_time_ms=settings.max_batch_timeout_seconds * 1000,
        retry_delay=settings.retry_delay_seconds,
    )


@dataclass(frozen=True)
class QueueConsumersArgs:
    account_id: str
    queues: dict[str, cloudflare.Queue]
    script: cloudflare.WorkersScript
    consumers: tuple[QueueConsumer, ...]


class QueueConsumers(pulumi.ComponentResource):
    """Attaches a Worker to its queues. The API refuses a consumer until the script exporting `queue()`
    exists (error 11001), so each consumer depends on the script; it ignores a changed `script_name`, so a
    change replaces the consumer, deleting the old one first (a queue has only one Worker consumer)."""

    consumers: list[cloudflare.QueueConsumer]

    def __init__(self, name: str, args: QueueConsumersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("qwen-image:queues:QueueConsumers", name, None, opts)
        self.consumers = [
            cloudflare.QueueConsumer(
                f"{name}-{consumer.role}",
                account_id=args.account_id,
                queue_id=args.queues[consumer.queue].queue_id,
                script_name=args.script.script_name,
                type="worker",
                dead_letter_queue=consumer.dead_letter_queue,
                settings=consumer_settings(consumer.settings),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[args.script],
                    replace_on_changes=["script_name"],
                    delete_before_replace=True,
                ),
            )
            for consumer in args.consumers
        ]
        self.register_outputs({})
