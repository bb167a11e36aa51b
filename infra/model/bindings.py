"""The one declaration of each Worker: script name, code, bindings and queue consumers.

Both the Pulumi program (`infra.components.workers`) and the local wrangler configuration (`infra.generate.wrangler`)
are derived from `declare_workers`, so what runs under `wrangler dev` and what `pulumi up` deploys cannot
name different bindings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from infra.model.naming import Role, physical_name
from infra.model.settings import REPO_ROOT, ConsumerSettings, Observability, StackSettings

WORKER_SRC = REPO_ROOT / "worker_src"
MIGRATIONS_DIR = WORKER_SRC / "migrations"
# Pinned so a deploy never changes runtime semantics by itself; must not be newer than the local workerd.
COMPATIBILITY_DATE = "2026-04-20"
MAIN_MODULE = "index.js"
# The backend's sweeper of abandoned sync runs (worker_src/backend/sweep.js) runs on this schedule.
SWEEP_CRON = "*/5 * * * *"
# A sync run may legitimately sit in one status for a provider call or a download (each bounded by its
# timeout); the sweeper waits that long plus this margin (clock skew, D1 latency, retries within a step).
SWEEP_MARGIN_SECONDS = 300


class Kind(StrEnum):
    """Binding kinds, spelled as the Workers script API spells them."""

    R2 = "r2_bucket"
    D1 = "d1"
    QUEUE = "queue"
    SERVICE = "service"
    TEXT = "plain_text"
    SECRET = "secret_text"


class Secret(StrEnum):
    """Secret bindings; values come only from Pulumi secret config (`<key>` below) or the local launcher."""

    DASHSCOPE_API_KEY = "DASHSCOPE_API_KEY"
    MEDIA_SIGNING_KEY = "MEDIA_SIGNING_KEY"
    ADMIN_TOKEN = "ADMIN_TOKEN"

    @property
    def config_key(self) -> str:
        """The Pulumi config key: `dashscopeApiKey`, `mediaSigningKey`, `adminToken`."""
        head, *rest = self.value.lower().split("_")
        return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Binding:
    """A name in the Worker's `env`. `target` is a physical resource name, a text value or a secret name."""

    name: str
    kind: Kind
    target: str


@dataclass(frozen=True)
class QueueConsumer:
    role: Role
    queue: str
    settings: ConsumerSettings
    dead_letter_queue: str | None = None


@dataclass(frozen=True)
class WorkerSpec:
    role: Role
    script_name: str
    bindings: tuple[Binding, ...]
    workers_dev: bool
    # Workers Logs: Pulumi `WorkersScript.observability`, wrangler `observability`.
    observability: Observability
    custom_domain: str | None = None
    routes: tuple[str, ...] = ()
    queue_consumers: tuple[QueueConsumer, ...] = field(default_factory=tuple)
    # Cron expressions of the Worker's `scheduled()` handler: wrangler `triggers.crons`, Pulumi WorkersCronTrigger.
    crons: tuple[str, ...] = ()

    @property
    def source_dir(self) -> Path:
        return WORKER_SRC / str(self.role)

    def binding(self, name: str) -> Binding:
        return next(b for b in self.bindings if b.name == name)


def required_secrets(settings: StackSettings) -> tuple[Secret, ...]:
    """The signing key is asked for only where URLs are signed, so no stack carries an unused secret."""
    return tuple(s for s in Secret if s != Secret.MEDIA_SIGNING_KEY or settings.media.delivery.mode == "signed")


def declare_workers(settings: StackSettings) -> tuple[WorkerSpec, WorkerSpec]:
    """(backend, frontend) for one stack."""
    return _backend(settings), _frontend(settings)


def sweep_after_seconds(settings: StackSettings) -> int:
    """How long a sync run may stay non-terminal before the sweeper fails it `abandoned`.

    At least a whole provider call plus a whole download (the longest a live request keeps a run in a
    status), plus `SWEEP_MARGIN_SECONDS`.
    """
    upstream = settings.upstream
    return upstream.request_timeout_seconds + upstream.download_timeout_seconds + SWEEP_MARGIN_SECONDS


def _text(**values: str | int | bool) -> list[Binding]:
    return [Binding(name, Kind.TEXT, _as_text(value)) for name, value in values.items()]


def _as_text(value: str | int | bool) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _backend(settings: StackSettings) -> WorkerSpec:
    name = lambda role: physical_name(settings, role)  # noqa: E731
    media, upstream, queues = settings.media, settings.upstream, settings.queues
    bindings = [
        Binding("MEDIA", Kind.R2, name(Role.MEDIA)),
        Binding("DB", Kind.D1, name(Role.METADATA)),
        *_text(
            ENVIRONMENT=settings.environment,
            PUBLIC_BASE_URL=settings.public_base_url,
            MEDIA_DELIVERY=media.delivery.mode,
            MEDIA_BASE_URL=f"https://{media.delivery.custom_domain}" if media.delivery.custom_domain else "",
            SIGNED_URL_TTL_SECONDS=media.delivery.signed_url_ttl_seconds or 0,
            ASYNC_ENABLED=queues.enabled,
            DASHSCOPE_BASE_URL=upstream.base_url,
            DASHSCOPE_MODEL=upstream.model,
            ALLOWED_RESULT_HOSTS=",".join(upstream.allowed_result_hosts),
            ALLOW_HTTP_RESULTS=upstream.allow_http_results,
            UPSTREAM_TIMEOUT_MS=upstream.request_timeout_seconds * 1000,
            DOWNLOAD_TIMEOUT_MS=upstream.download_timeout_seconds * 1000,
            MAX_IMAGE_BYTES=upstream.max_image_bytes,
            SWEEP_AFTER_SECONDS=sweep_after_seconds(settings),
        ),
        *(Binding(secret.value, Kind.SECRET, secret.value) for secret in required_secrets(settings)),
    ]
    consumers: tuple[QueueConsumer, ...] = ()
    if queues.enabled:
        jobs, dead_letter = name(Role.JOBS), name(Role.DEAD_LETTER)
        bindings += [
            Binding("JOBS", Kind.QUEUE, jobs),
            *_text(
                JOBS_QUEUE=jobs,
                DEAD_LETTER_QUEUE=dead_letter,
                JOBS_MAX_RETRIES=queues.jobs.max_retries,
                POLL_INITIAL_DELAY_SECONDS=queues.polling.initial_delay_seconds,
                POLL_MAX_DELAY_SECONDS=queues.polling.max_delay_seconds,
                POLL_MAX_POLLS=queues.polling.max_polls,
            ),
        ]
        consumers = (
            QueueConsumer(Role.JOBS, jobs, queues.jobs, dead_letter_queue=dead_letter),
            QueueConsumer(Role.DEAD_LETTER, dead_letter, queues.dead_letter),
        )
    return WorkerSpec(
        role=Role.BACKEND,
        script_name=name(Role.BACKEND),
        bindings=tuple(bindings),
        workers_dev=settings.backend.workers_dev,
        observability=settings.observability,
        custom_domain=settings.backend.custom_domain,
        queue_consumers=consumers,
        crons=(SWEEP_CRON,),
    )


def _frontend(settings: StackSettings) -> WorkerSpec:
    frontend = settings.frontend
    if frontend.backend_access == "service-binding":
        reach = Binding("BACKEND", Kind.SERVICE, physical_name(settings, Role.BACKEND))
    else:
        reach = Binding("BACKEND_URL", Kind.TEXT, frontend.backend_url or "")
    return WorkerSpec(
        role=Role.FRONTEND,
        script_name=physical_name(settings, Role.FRONTEND),
        bindings=(
            reach,
            *_text(ENVIRONMENT=settings.environment, BACKEND_ACCESS=frontend.backend_access),
        ),
        workers_dev=frontend.workers_dev,
        observability=settings.observability,
        custom_domain=frontend.custom_domain,
        routes=tuple(frontend.routes),
    )
