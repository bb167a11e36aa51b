"""What `pulumi up` leaves in Cloudflare, put into the fake API by hand from a stack's offline plan, so that a drift
test starts from a deployment that matches the code and changes one thing.

The translation is written here on its own, in the API's spelling (snake_case bindings and consumer settings,
R2's camelCase lifecycle rules, modules as bytes, a secret's value that no endpoint returns), not through
`infra.ops.drift`'s comparisons, so that a mistake there cannot cancel itself out. The database gets its
migrations through the migration runner over the fake's D1 HTTP API, as `pulumi up` applies them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import cloudflare

from infra.d1.executors import CloudflareD1Executor
from infra.d1.migrations import MigrationRunner, discover
from infra.model.settings import REPO_ROOT, StackSettings
from infra.plan import Plan, PlannedResource
from tests.fakes.cloudflare_api import Database, FakeCloudflare

from .conftest import API_TOKEN

SECRET_VALUE = "a-deployed-secret-value"
CONSUMER_SETTINGS = {"batch_size": "batchSize", "max_retries": "maxRetries", "max_wait_time_ms": "maxWaitTimeMs",
                     "max_concurrency": "maxConcurrency", "retry_delay": "retryDelay"}


@dataclass(frozen=True)
class Deployment:
    database: Database


def deploy(fake: FakeCloudflare, settings: StackSettings, plan: Plan) -> Deployment:
    account = settings.cloudflare.account_id
    database = fake.add_database(account, str(plan.one("D1Database").inputs["name"]))
    client = cloudflare.Cloudflare(api_token=API_TOKEN, base_url=fake.base_url, max_retries=0)
    MigrationRunner(CloudflareD1Executor(client, account, database.uuid, database.name), discover()).apply()
    lifecycle = plan.one("R2BucketLifecycle").inputs
    fake.add_bucket(account, str(lifecycle["bucketName"]), lifecycle=copy.deepcopy(lifecycle["rules"]))
    for queue in plan.of_type("index/queue:Queue"):
        fake.add_queue(account, queue.inputs["queueName"],
                       message_retention_period=queue.inputs["settings"]["messageRetentionPeriod"])
    for consumer in plan.of_type("QueueConsumer"):
        queue = next(q for q in plan.of_type("index/queue:Queue") if q.name in consumer.depends_on)
        fake.add_consumer(account, queue.inputs["queueName"], consumer.inputs["scriptName"],
                          {api: consumer.inputs["settings"][key] for api, key in CONSUMER_SETTINGS.items()},
                          consumer.inputs.get("deadLetterQueue"))
    for script in plan.of_type("WorkersScript"):
        deploy_script(fake, plan, script, database)
    for domain in plan.of_type("WorkersCustomDomain"):
        fake.add_custom_domain(account, domain.inputs["hostname"], domain.inputs["service"], domain.inputs["zoneId"])
    for route in plan.of_type("WorkersRoute"):
        fake.add_route(route.inputs["zoneId"], route.inputs["pattern"], route.inputs["script"])
    return Deployment(database)


def deploy_script(fake: FakeCloudflare, plan: Plan, script: PlannedResource, database: Database) -> None:
    inputs = script.inputs
    name = inputs["scriptName"]
    modules = {inputs["mainModule"]: (REPO_ROOT / inputs["contentFile"]).read_bytes()}
    modules |= {module: (REPO_ROOT / file["contentFile"]).read_bytes() for module, file in
                (inputs.get("files") or {}).items()}
    switch = next(s.inputs for s in plan.of_type("WorkersScriptSubdomain") if s.inputs["scriptName"] == name)
    crons = [schedule["cron"] for trigger in plan.of_type("WorkersCronTrigger")
             if trigger.inputs["scriptName"] == name for schedule in trigger.inputs["schedules"]]
    fake.add_script(
        fake_account(plan), name,
        handlers=("fetch", "queue", "scheduled") if crons else ("fetch",),
        main_module=inputs["mainModule"],
        modules=modules,
        bindings=[api_binding(binding, database) for binding in inputs["bindings"]],
        compatibility_date=inputs["compatibilityDate"],
        observability={"enabled": inputs["observability"]["enabled"],
                       "head_sampling_rate": inputs["observability"]["headSamplingRate"]},
        schedules=crons,
        workers_dev=switch["enabled"],
        previews_enabled=switch["previewsEnabled"],
    )


def fake_account(plan: Plan) -> str:
    return str(plan.one("D1Database").inputs["accountId"])


def api_binding(binding: dict[str, Any], database: Database) -> dict[str, Any]:
    """A binding as the upload's metadata carries it (the settings endpoint answers the same, secrets' values
    left out)."""
    head = {"name": binding["name"], "type": binding["type"]}
    match binding["type"]:
        case "plain_text":
            return {**head, "text": binding["text"]}
        case "secret_text":
            return {**head, "text": SECRET_VALUE}
        case "r2_bucket":
            return {**head, "bucket_name": binding["bucketName"]}
        case "queue":
            return {**head, "queue_name": binding["queueName"]}
        case "service":
            return {**head, "service": binding["service"], "environment": "production"}
        case "d1":
            return {**head, "database_id": database.uuid}
        case "ratelimit":
            return {**head, "namespace_id": binding["namespaceId"], "simple": dict(binding["simple"])}
    raise ValueError(f"deploy binding '{binding['name']}' failed: no API shape for type {binding['type']!r}")
