"""Composition: the one place where the capabilities of a stack are wired together."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from infra.components.media import MediaStore, MediaStoreArgs
from infra.components.metadata import MetadataStore, MetadataStoreArgs
from infra.components.queues import JobQueues, JobQueuesArgs, QueueConsumers, QueueConsumersArgs
from infra.components.workers import Worker, WorkerArgs
from infra.model.bindings import declare_workers
from infra.model.naming import Role, physical_name
from infra.model.settings import StackSettings


def deploy(settings: StackSettings, secrets: Mapping[str, pulumi.Output[str]]) -> dict[str, pulumi.Input]:
    """Declare every resource of the stack; returns the stack outputs."""
    account_id, zone_id = settings.cloudflare.account_id, settings.cloudflare.zone_id
    name = lambda role: physical_name(settings, role)  # noqa: E731
    backend_spec, frontend_spec = declare_workers(settings)

    media = MediaStore("media", MediaStoreArgs(
        account_id=account_id, bucket_name=name(Role.MEDIA), media=settings.media,
        protect=settings.protect_data, zone_id=zone_id,
    ))
    metadata = MetadataStore("metadata", MetadataStoreArgs(
        account_id=account_id, database_name=name(Role.METADATA), metadata=settings.metadata,
        protect=settings.protect_data,
    ))
    targets: dict[str, pulumi.Resource] = {name(Role.MEDIA): media.bucket, name(Role.METADATA): metadata.database}
    queues = None
    if settings.async_enabled:
        queues = JobQueues("queues", JobQueuesArgs(
            account_id=account_id, jobs_queue_name=name(Role.JOBS),
            dead_letter_queue_name=name(Role.DEAD_LETTER), settings=settings.queues,
        ))
        targets.update(queues.by_name)

    backend = Worker("backend", WorkerArgs(
        account_id=account_id, spec=backend_spec, secrets=secrets, targets=targets,
        database_ids={name(Role.METADATA): metadata.database_id},
        depends_on=metadata.schema_ready, zone_id=zone_id,
    ))
    if queues is not None:
        QueueConsumers("consumers", QueueConsumersArgs(
            account_id=account_id, queues=queues.by_name, script=backend.script,
            consumers=backend_spec.queue_consumers,
        ))
    # Rollout order between the Workers (see docs/runbook.md, "Service binding rollout"): with the service
    # binding the backend loses its public address only after the frontend uses the binding; by URL the
    # backend is public before the frontend starts calling it.
    by_binding = settings.frontend.backend_access == "service-binding"
    backend_public = [] if by_binding else backend.expose()
    frontend = Worker("frontend", WorkerArgs(
        account_id=account_id, spec=frontend_spec, secrets=secrets,
        targets={backend_spec.script_name: backend.script}, depends_on=backend_public, zone_id=zone_id,
    ))
    frontend.expose()
    if by_binding:
        backend.expose(after=[frontend.script])

    return {
        "environment": settings.environment,
        "bucket": media.bucket.name,
        "database_id": metadata.database_id,
        "database_name": metadata.database.name,
        "jobs_queue": queues.jobs.queue_name if queues else None,
        "dead_letter_queue": queues.dead_letter.queue_name if queues else None,
        "backend_worker": backend.script.script_name,
        "frontend_worker": frontend.script.script_name,
        "public_api_base_url": f"{settings.public_base_url}/api",
    }
