"""The one declaration of each Worker: script name, code, bindings (its `env`) and queue consumers.

Each binding is declared once below (`BACKEND_ENV`, `FRONTEND_ENV`): its name, kind, what it holds, where its
value comes from in the settings, how the Worker checks a text value (`Format`), and the stacks that have it
(`When`). Three things are derived from that: the Pulumi bindings (`infra.components.workers`), the local
wrangler configs (`infra.generate.wrangler`), and each Worker's `Env` typedef and binding check in its
generated `contract.js` (`infra.generate.contract`, as `wrangler types` derives `Env` from a config). So what
`pulumi up` deploys, what `wrangler dev` runs and what the JavaScript reads cannot name different bindings,
and a Worker missing one stops with its name instead of guessing a default.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from infra.errors import DeclarationError
from infra.model.contract import MEDIA_KEY_PREFIX, MODELS
from infra.model.naming import Role, physical_name
from infra.model.settings import (
    HTTP_ORIGIN,
    REPO_ROOT,
    ConsumerSettings,
    Frontend,
    GenerateRateLimit,
    MediaDelivery,
    Observability,
    StackSettings,
)

WORKER_SRC = REPO_ROOT / "worker_src"
MIGRATIONS_DIR = WORKER_SRC / "migrations"
MAIN_MODULE = "index.js"
# The backend's cron: the sweeper of abandoned sync runs (worker_src/backend/sweep.js), then the retention purge
# (worker_src/backend/retention.js), on this schedule.
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
    RATE_LIMIT = "ratelimit"


class Secret(StrEnum):
    """Secret bindings; values come only from Pulumi secret config (`<key>` below) or the local launcher."""

    DASHSCOPE_API_KEY = "DASHSCOPE_API_KEY"
    MEDIA_SIGNING_KEY = "MEDIA_SIGNING_KEY"
    ADMIN_TOKEN = "ADMIN_TOKEN"
    RUN_TOKEN_KEY = "RUN_TOKEN_KEY"

    @property
    def config_key(self) -> str:
        """The Pulumi config key: `dashscopeApiKey`, `mediaSigningKey`, `adminToken`, `runTokenKey`."""
        head, *rest = self.value.lower().split("_")
        return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Format:
    """How a Worker checks a text or secret binding: a pattern the whole value must match (the same in
    Python's `re` and JavaScript's `RegExp`), and what to call a value that does."""

    pattern: str
    says: str


def one_of(values: tuple[str, ...]) -> Format:
    """Exactly one of `values` (names made of letters, digits, `-`, `_` and `.`)."""
    for value in values:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError(f"declare format one_of failed: {value!r} is not a plain name")
    return Format(f"^({'|'.join(v.replace('.', '[.]') for v in values)})$", f"one of {', '.join(values)}")


TEXT = Format(r"^\S+$", "a non-empty text without spaces")
SECRET = Format(r"^[\s\S]+$", "a non-empty secret")
ORIGIN = Format(HTTP_ORIGIN, "an http(s) origin such as https://example.com (no path)")
BOOLEAN = one_of(("true", "false"))
POSITIVE = Format(r"^[1-9][0-9]*$", "a whole number of at least 1")
COUNT = Format(r"^(0|[1-9][0-9]*)$", "a whole number of at least 0")
HOSTS = Format(r"^[^,\s]+(,[^,\s]+)*$", "a comma-separated list of hosts")
DAYS_OR_NEVER = Format(r"^([1-9][0-9]*|never)$", "a whole number of days, or never")


@dataclass(frozen=True)
class When:
    """A binding only some stacks have: present when the text binding `name` (declared before it) is `equals`.
    The Worker requires it under the same condition; its `Env` property is optional."""

    name: str
    equals: str


ASYNC = When("ASYNC_ENABLED", "true")
SIGNED = When("MEDIA_DELIVERY", "signed")
CUSTOM_DOMAIN = When("MEDIA_DELIVERY", "custom-domain")
BY_SERVICE = When("BACKEND_ACCESS", "service-binding")
BY_URL = When("BACKEND_ACCESS", "url")

# A binding's value on one stack (a rate limit's is its settings); None where the settings hold none, which
# `bind` refuses.
Value = Callable[[StackSettings], str | int | bool | GenerateRateLimit | None]


@dataclass(frozen=True)
class Declared:
    """One name in a Worker's `env`: kind, what it is (the `Env` typedef says it), its value for a stack
    (a physical name, a text, or the secret's name), its format when it is text, and its condition."""

    name: str
    kind: Kind
    doc: str
    value: Value
    format: Format | None = None
    when: When | None = None


@dataclass(frozen=True)
class RateLimit:
    """A rate limit binding's counter: the Workers script API's `simple` object (Pulumi `simple`, wrangler
    `ratelimits[].simple`)."""

    limit: int
    period: int


@dataclass(frozen=True)
class Binding:
    """A name in the Worker's `env`. `target` is a physical resource name, a text value, a secret name or a
    rate limit's namespace id; `simple` is a rate limit's counter (rate limits only)."""

    name: str
    kind: Kind
    target: str
    simple: RateLimit | None = None

    def rate_limit(self) -> RateLimit:
        """The counter of a rate limit binding; refused for one that has none."""
        if self.simple is None:
            raise DeclarationError(f"declare binding '{self.name}' failed: a {self.kind} binding has no rate limit "
                                   "(limit and period)")
        return self.simple


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


def sweep_after_seconds(settings: StackSettings) -> int:
    """How long a sync run may stay non-terminal before the sweeper fails it `abandoned`.

    At least a whole provider call plus a whole download (the longest a live request keeps a run in a
    status), plus `SWEEP_MARGIN_SECONDS`.
    """
    upstream = settings.upstream
    return upstream.request_timeout_seconds + upstream.download_timeout_seconds + SWEEP_MARGIN_SECONDS


def _named(role: Role) -> Value:
    return lambda settings: physical_name(settings, role)


def script_name(settings: StackSettings, role: Role) -> str:
    """A Worker's script name: the one an adopted deployment keeps (`<role>.script_name`), else generated."""
    worker = settings.backend if role == Role.BACKEND else settings.frontend
    return worker.script_name or physical_name(settings, role)


def _custom_domain_url(settings: StackSettings) -> str | None:
    domain = settings.media.delivery.custom_domain
    return f"https://{domain}" if domain else None


def days_or_never(days: int | None) -> str:
    """A number of days as a text binding: the number, or `never`."""
    return "never" if days is None else str(days)


def _text(name: str, doc: str, value: Value, format: Format, when: When | None = None) -> Declared:
    return Declared(name, Kind.TEXT, doc, value, format, when)


def _secret(secret: Secret, doc: str, when: When | None = None) -> Declared:
    return Declared(secret.value, Kind.SECRET, doc, lambda _: secret.value, SECRET, when)


def _choices(model: type[MediaDelivery] | type[Frontend], field_name: str) -> tuple[str, ...]:
    """The values a `Literal` settings field allows, so the Worker accepts exactly what settings do."""
    return typing.get_args(model.model_fields[field_name].annotation)


def _periods() -> tuple[str, ...]:
    """The rate limit periods settings allow (Cloudflare's 10 and 60 seconds), as the Worker reads them."""
    return tuple(str(p) for p in typing.get_args(GenerateRateLimit.model_fields["period_seconds"].annotation))


BACKEND_ENV: tuple[Declared, ...] = (
    Declared("MEDIA", Kind.R2, "the media bucket: generated images", _named(Role.MEDIA)),
    Declared("DB", Kind.D1, "the metadata database: runs, assets, events", _named(Role.METADATA)),
    _text("ENVIRONMENT", "the stack's name", lambda s: s.environment, TEXT),
    _text("PUBLIC_BASE_URL", "where users reach the frontend; image URLs are built from it",
          lambda s: s.public_base_url, ORIGIN),
    _text("MEDIA_DELIVERY", "how images are served (media.delivery.mode)", lambda s: s.media.delivery.mode,
          one_of(_choices(MediaDelivery, "mode"))),
    _text("MEDIA_BASE_URL", "the bucket's public domain", _custom_domain_url, ORIGIN,
          CUSTOM_DOMAIN),
    _text("SIGNED_URL_TTL_SECONDS", "lifetime of signed media URLs",
          lambda s: s.media.delivery.signed_url_ttl_seconds, POSITIVE, SIGNED),
    _text("ASYNC_ENABLED", "queue-based processing (queues.enabled)", lambda s: s.queues.enabled, BOOLEAN),
    _text("DASHSCOPE_BASE_URL", "the provider's region base", lambda s: s.upstream.base_url, ORIGIN),
    _text("DASHSCOPE_MODEL", "the model sent upstream", lambda s: s.upstream.model, one_of(tuple(MODELS))),
    _text("ALLOWED_RESULT_HOSTS", "the only hosts results are downloaded from (exact host[:port] or *.suffix)",
          lambda s: ",".join(s.upstream.allowed_result_hosts), HOSTS),
    _text("ALLOW_HTTP_RESULTS", "local only: http result URLs", lambda s: s.upstream.allow_http_results, BOOLEAN),
    _text("UPSTREAM_TIMEOUT_MS", "provider call timeout", lambda s: s.upstream.request_timeout_seconds * 1000,
          POSITIVE),
    _text("DOWNLOAD_TIMEOUT_MS", "result download timeout", lambda s: s.upstream.download_timeout_seconds * 1000,
          POSITIVE),
    _text("MAX_IMAGE_BYTES", "largest result accepted", lambda s: s.upstream.max_image_bytes, POSITIVE),
    _text("SWEEP_AFTER_SECONDS", "seconds a sync run may stay non-terminal before the sweeper fails it",
          sweep_after_seconds, POSITIVE),
    _text("METADATA_RETENTION_DAYS", "days after creation the cron purges an ended run (retention.js), or never",
          lambda s: days_or_never(s.metadata.retention_days), DAYS_OR_NEVER),
    _text("MEDIA_EXPIRE_AFTER_DAYS", "days after upload the media lifecycle deletes an image, or never",
          lambda s: days_or_never(s.media.lifecycle.expiry_days(MEDIA_KEY_PREFIX)), DAYS_OR_NEVER),
    _secret(Secret.DASHSCOPE_API_KEY, "the provider's API key"),
    _secret(Secret.MEDIA_SIGNING_KEY, "HMAC key of signed media URLs", SIGNED),
    _secret(Secret.ADMIN_TOKEN, "bearer token of the admin routes"),
    _secret(Secret.RUN_TOKEN_KEY, "HMAC key of run read tokens (derived per run, never stored)"),
    Declared("GENERATE_RATE_LIMIT", Kind.RATE_LIMIT, "generations one client address may start per period",
             lambda s: s.generate_rate_limit),
    _text("GENERATE_RATE_PERIOD_SECONDS", "that limit's period (the binding does not tell): Retry-After of a 429",
          lambda s: s.generate_rate_limit.period_seconds, one_of(_periods())),
    Declared("JOBS", Kind.QUEUE, "the jobs queue (producer)", _named(Role.JOBS), when=ASYNC),
    _text("JOBS_QUEUE", "the jobs queue's name (`batch.queue` of its deliveries)", _named(Role.JOBS), TEXT, ASYNC),
    _text("DEAD_LETTER_QUEUE", "the dead-letter queue's name", _named(Role.DEAD_LETTER), TEXT, ASYNC),
    _text("JOBS_MAX_RETRIES", "deliveries of a job after the first before it is dead-lettered",
          lambda s: s.queues.jobs.max_retries, COUNT, ASYNC),
    _text("POLL_INITIAL_DELAY_SECONDS", "the delay after the first poll, and the base of the retry backoff",
          lambda s: s.queues.polling.initial_delay_seconds, POSITIVE, ASYNC),
    _text("POLL_MAX_DELAY_SECONDS", "cap of the poll and retry delays", lambda s: s.queues.polling.max_delay_seconds,
          POSITIVE, ASYNC),
    _text("POLL_MAX_POLLS", "task queries before a run fails with task_timeout",
          lambda s: s.queues.polling.max_polls, POSITIVE, ASYNC),
    _text("POLL_EXPECTED_TASK_SECONDS", "how long the model's tasks take: the first poll's hint (backoff.js)",
          lambda s: s.queues.polling.expected_task_seconds, POSITIVE, ASYNC),
    _text("POLL_LEARN_FROM_RECENT_RUNS", "use the recent tasks' mean time for the first poll instead",
          lambda s: s.queues.polling.learn_from_recent_runs, BOOLEAN, ASYNC),
    _text("JOBS_BATCH_WAIT_SECONDS", "how long a due job may wait for its batch (the consumer's max_batch_timeout)",
          lambda s: s.queues.jobs.max_batch_timeout_seconds, COUNT, ASYNC),
)

FRONTEND_ENV: tuple[Declared, ...] = (
    _text("BACKEND_ACCESS", "how the frontend reaches the backend (frontend.backend_access)",
          lambda s: s.frontend.backend_access, one_of(_choices(Frontend, "backend_access"))),
    Declared("BACKEND", Kind.SERVICE, "the backend Worker (service binding)",
             lambda s: script_name(s, Role.BACKEND), when=BY_SERVICE),
    _text("BACKEND_URL", "the backend's public origin", lambda s: s.frontend.backend_url, ORIGIN, BY_URL),
)

ENV: dict[Role, tuple[Declared, ...]] = {Role.BACKEND: BACKEND_ENV, Role.FRONTEND: FRONTEND_ENV}


def bind(declared: tuple[Declared, ...], settings: StackSettings) -> tuple[Binding, ...]:
    """The bindings one stack gives a Worker: every declaration whose condition holds, with its value."""
    texts: dict[str, str] = {}
    bindings = []
    for entry in declared:
        if entry.when is not None:
            if entry.when.name not in texts:
                raise DeclarationError(f"declare binding '{entry.name}' failed: its condition names "
                                       f"{entry.when.name}, which is not a text binding declared before it")
            if texts[entry.when.name] != entry.when.equals:
                continue
        value = entry.value(settings)
        if value is None:
            raise DeclarationError(f"declare binding '{entry.name}' failed: stack '{settings.environment}' gives it "
                                   "no value; its settings field must be set wherever the binding is bound")
        if (entry.kind == Kind.RATE_LIMIT) != isinstance(value, GenerateRateLimit):
            raise DeclarationError(f"declare binding '{entry.name}' failed: a {entry.kind} binding's value must "
                                   f"{'' if entry.kind == Kind.RATE_LIMIT else 'not '}be rate limit settings")
        if isinstance(value, GenerateRateLimit):
            simple = RateLimit(value.limit, value.period_seconds)
            bindings.append(Binding(entry.name, entry.kind, str(value.namespace_id), simple))
            continue
        target = _as_text(value)
        if entry.kind == Kind.TEXT:
            texts[entry.name] = target
        bindings.append(Binding(entry.name, entry.kind, target))
    return tuple(bindings)


def _as_text(value: str | int | bool) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def required_secrets(settings: StackSettings) -> tuple[Secret, ...]:
    """The secrets the stack's backend binds (the signing key only where URLs are signed), so no stack carries
    an unused secret."""
    return tuple(Secret(b.name) for b in bind(BACKEND_ENV, settings) if b.kind == Kind.SECRET)


def declare_workers(settings: StackSettings) -> tuple[WorkerSpec, WorkerSpec]:
    """(backend, frontend) for one stack."""
    return _backend(settings), _frontend(settings)


def _backend(settings: StackSettings) -> WorkerSpec:
    queues = settings.queues
    consumers: tuple[QueueConsumer, ...] = ()
    if queues.enabled:
        jobs, dead_letter = physical_name(settings, Role.JOBS), physical_name(settings, Role.DEAD_LETTER)
        consumers = (
            QueueConsumer(Role.JOBS, jobs, queues.jobs, dead_letter_queue=dead_letter),
            QueueConsumer(Role.DEAD_LETTER, dead_letter, queues.dead_letter),
        )
    return WorkerSpec(
        role=Role.BACKEND,
        script_name=script_name(settings, Role.BACKEND),
        bindings=bind(BACKEND_ENV, settings),
        workers_dev=settings.backend.workers_dev,
        observability=settings.observability,
        custom_domain=settings.backend.custom_domain,
        queue_consumers=consumers,
        crons=(SWEEP_CRON,),
    )


def _frontend(settings: StackSettings) -> WorkerSpec:
    frontend = settings.frontend
    return WorkerSpec(
        role=Role.FRONTEND,
        script_name=script_name(settings, Role.FRONTEND),
        bindings=bind(FRONTEND_ENV, settings),
        workers_dev=frontend.workers_dev,
        observability=settings.observability,
        custom_domain=frontend.custom_domain,
        routes=tuple(frontend.routes),
    )
