"""Per-environment settings: one validated model per `stacks/<env>.yaml`.

Everything non-secret that differs between environments lives in the stack file and is checked here,
strictly and before any resource is declared, so a typo fails with the file, the field and the reason
instead of surfacing halfway through `pulumi up`. Secrets never live here (see `infra.components.secrets`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from infra.errors import SettingsError
from infra.model.contract import ASYNC_MODELS, MEDIA_KEY_PREFIX, MODELS
from infra.model.naming import MAX_LENGTH, NAME_PATTERN, Role, check_names

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS_DIR = REPO_ROOT / "stacks"
# R2 removes an expired object within a day of its expiry (Cloudflare's object lifecycle documentation).
LIFECYCLE_LAG_DAYS = 1

LocationHint = Literal["apac", "eeur", "enam", "weur", "wnam", "oc"]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$", max_length=30)]
Hostname = Annotated[str, Field(pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$", max_length=253)]
# A result host is an exact host[:port] or a `*.` suffix pattern (`*.oss-ap-southeast-1.aliyuncs.com`).
HostPattern = Annotated[str, Field(pattern=r"^(\*\.)?[a-z0-9.-]+(:[0-9]{1,5})?$")]
# An origin without a path; the Workers check their URL bindings with the same pattern (infra.model.bindings).
HTTP_ORIGIN = r"^https?://[^/\s?#]+$"
HttpUrl = Annotated[str, Field(pattern=HTTP_ORIGIN)]
# Any model of the contract; whether it serves the async API is checked with `queues.enabled`.
Model = Literal[tuple(MODELS)]  # type: ignore[valid-type]
RoutePattern = Annotated[str, Field(pattern=r"^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}/\S*$")]
CloudflareId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
# A Worker script name kept from an existing deployment, held to the limits of the generated ones.
WorkerName = Annotated[str, Field(pattern=NAME_PATTERN.pattern, min_length=3, max_length=MAX_LENGTH[Role.BACKEND])]
Days = Annotated[int, Field(ge=1, le=36500)]


class Strict(BaseModel):
    """Base for every settings model: unknown keys and type coercion are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LifecycleRule(Strict):
    """Retention for one key prefix; at least one action, and objects move to IA before they expire."""

    id: Slug
    prefix: str = Field(pattern=r"^([a-z0-9_-]+/)*$")
    expire_after_days: Days | None = None
    infrequent_access_after_days: Days | None = None

    @model_validator(mode="after")
    def _one_action_in_order(self) -> Self:
        if self.expire_after_days is None and self.infrequent_access_after_days is None:
            raise ValueError("a rule needs expire_after_days, infrequent_access_after_days or both")
        if (
            self.expire_after_days is not None
            and self.infrequent_access_after_days is not None
            and self.infrequent_access_after_days >= self.expire_after_days
        ):
            raise ValueError(
                f"infrequent_access_after_days ({self.infrequent_access_after_days}) must be less than "
                f"expire_after_days ({self.expire_after_days}): objects would expire before moving"
            )
        return self


class Lifecycle(Strict):
    """The whole R2 lifecycle document: Cloudflare replaces every rule on write, so all are declared.

    Every rule must cover the key prefix the backend writes (`MEDIA_KEY_PREFIX`): a rule on another prefix
    applies to nothing, so renaming the prefix would otherwise switch retention off without a word.
    """

    abort_incomplete_multipart_after_days: Days
    rules: list[LifecycleRule] = Field(default_factory=list)

    def expiry_days(self, key_prefix: str) -> int | None:
        """Days after which objects under `key_prefix` expire: the earliest expiry of the rules covering it
        (R2 applies every rule whose prefix matches), None when no rule expires them."""
        days = [r.expire_after_days for r in self.rules
                if key_prefix.startswith(r.prefix) and r.expire_after_days is not None]
        return min(days, default=None)

    def infrequent_access_days(self, key_prefix: str) -> int | None:
        """Days after which objects under `key_prefix` move to Infrequent Access (the earliest such rule), None
        when none moves them."""
        days = [r.infrequent_access_after_days for r in self.rules
                if key_prefix.startswith(r.prefix) and r.infrequent_access_after_days is not None]
        return min(days, default=None)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        for attr, plural in (("id", "ids"), ("prefix", "prefixes")):
            seen = [getattr(rule, attr) for rule in self.rules]
            dupes = sorted({value for value in seen if seen.count(value) > 1})
            if dupes:
                raise ValueError(f"rule {plural} must be distinct; repeated: {', '.join(map(repr, dupes))}")
        return self

    @model_validator(mode="after")
    def _cover_the_media_keys(self) -> Self:
        for rule in self.rules:
            if not MEDIA_KEY_PREFIX.startswith(rule.prefix):
                raise ValueError(
                    f"rule {rule.id!r} has prefix {rule.prefix!r}, but the backend writes every object under "
                    f"{MEDIA_KEY_PREFIX!r} (infra/model/contract.py MEDIA_KEY_PREFIX), so the rule would apply to "
                    f"nothing: set its prefix to {MEDIA_KEY_PREFIX!r} (or '' for the whole bucket)"
                )
        return self


class MediaDelivery(Strict):
    """How clients fetch stored images: the backend's own `/api/media/` route, signed, or a bucket domain."""

    mode: Literal["worker", "signed", "custom-domain"]
    signed_url_ttl_seconds: Annotated[int, Field(ge=60, le=604800)] | None = None
    custom_domain: Hostname | None = None

    @model_validator(mode="after")
    def _mode_fields(self) -> Self:
        if self.mode == "signed" and self.signed_url_ttl_seconds is None:
            raise ValueError("mode 'signed' needs signed_url_ttl_seconds")
        if self.mode != "signed" and self.signed_url_ttl_seconds is not None:
            raise ValueError(f"signed_url_ttl_seconds only applies to mode 'signed', not {self.mode!r}")
        if (self.mode == "custom-domain") != (self.custom_domain is not None):
            raise ValueError("custom_domain is required with mode 'custom-domain' and only allowed there")
        return self


class Media(Strict):
    """R2 bucket for generated images."""

    location_hint: LocationHint
    delivery: MediaDelivery
    lifecycle: Lifecycle


class Metadata(Strict):
    """D1 database for runs, assets and events.

    `retention_days` (required; null keeps runs forever): the backend's cron purges ended runs with their
    events and asset rows that many days after they were created. `images_outlive_runs` (default false) must
    be set to purge run records while their images are still in R2.
    """

    location_hint: LocationHint
    retention_days: Days | None
    images_outlive_runs: bool = False


class ConsumerSettings(Strict):
    """One queue consumer, in the units humans write; `infra.components.queues` converts to the API's units."""

    max_batch_size: Annotated[int, Field(ge=1, le=100)]
    max_batch_timeout_seconds: Annotated[int, Field(ge=0, le=60)]
    max_retries: Annotated[int, Field(ge=0, le=100)]
    retry_delay_seconds: Annotated[int, Field(ge=0, le=43200)]
    max_concurrency: Annotated[int, Field(ge=1, le=250)]
    message_retention_seconds: Annotated[int, Field(ge=60, le=1209600)]


class Polling(Strict):
    """How the consumer re-delivers itself while the upstream task runs: the first query when the task should be
    done (`expected_task_seconds`, or the recent tasks' mean with `learn_from_recent_runs`), then a bounded
    exponential delay."""

    initial_delay_seconds: Annotated[int, Field(ge=1, le=900)]
    max_delay_seconds: Annotated[int, Field(ge=1, le=43200)]
    max_polls: Annotated[int, Field(ge=1, le=500)]
    expected_task_seconds: Annotated[int, Field(ge=1, le=3600)]
    learn_from_recent_runs: bool

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_delay_seconds < self.initial_delay_seconds:
            raise ValueError("max_delay_seconds must be at least initial_delay_seconds")
        return self


class AsyncProcessing(Strict):
    """Queue-based generation. Off means the system is synchronous and declares no queue resources."""

    enabled: bool
    jobs: ConsumerSettings
    dead_letter: ConsumerSettings
    polling: Polling


class Worker(Strict):
    """What both Workers have: their public addresses, and what they keep of a deployment made before this
    repository managed it (`infra adopt` imports what `adopt` lists, so `pulumi up` updates it in place)."""

    workers_dev: bool
    custom_domain: Hostname | None = None
    # The existing script's name, kept instead of `<app>-<env>-<role>`.
    script_name: WorkerName | None = None
    adopt: list[Literal["script", "custom_domain", "routes"]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something_to_adopt(self) -> Self:
        if len(set(self.adopt)) != len(self.adopt):
            raise ValueError("adopt lists an item twice")
        if "custom_domain" in self.adopt and self.custom_domain is None:
            raise ValueError("adopt lists 'custom_domain' but custom_domain is not set")
        if "routes" in self.adopt and not getattr(self, "routes", []):
            raise ValueError("adopt lists 'routes' but there are no routes")
        return self


class Frontend(Worker):
    """The public Worker: serves the page and proxies `/api/*` to the backend."""

    backend_access: Literal["service-binding", "url"]
    backend_url: HttpUrl | None = None
    # Zone routes such as `www.example.com/*`, for hostnames that also serve other things.
    routes: list[RoutePattern] = Field(default_factory=list)


class Backend(Worker):
    """The API Worker. Public only when the frontend reaches it by URL."""

    @property
    def public(self) -> bool:
        return self.workers_dev or self.custom_domain is not None


class Upstream(Strict):
    """The image provider (DashScope) and the limits on what the backend downloads from it."""

    provider: Literal["dashscope"]
    base_url: HttpUrl
    model: Model
    allowed_result_hosts: list[HostPattern] = Field(min_length=1)
    allow_http_results: bool = False
    request_timeout_seconds: Annotated[int, Field(ge=1, le=300)]
    download_timeout_seconds: Annotated[int, Field(ge=1, le=300)]
    max_image_bytes: Annotated[int, Field(ge=1024, le=100_000_000)]


class Observability(Strict):
    """Workers Logs of both Workers. The fields are the Workers script API's `observability` object, which
    Pulumi's `WorkersScript.observability` and wrangler's `observability` both take as they are.

    Head sampling keeps or drops a whole invocation before it runs, so a kept invocation has every line.
    """

    enabled: bool
    # Fraction of invocations whose logs are kept: 1 keeps all, 0.1 one in ten.
    head_sampling_rate: Annotated[float, Field(gt=0, le=1)]


class GenerateRateLimit(Strict):
    """How many generations one client address may start per period: a Workers Rate Limiting binding
    (`ratelimit`: `namespace_id` + `simple {limit, period}`) that the backend asks before any paid work.

    Cloudflare counts per namespace and key, and accepts only periods of 10 or 60 seconds. The namespace is a
    positive integer chosen by the account owner, unique within the account: two stacks of one account need two.
    """

    namespace_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    limit: Annotated[int, Field(ge=1, le=1_000_000)]
    period_seconds: Literal[10, 60]


class Cloudflare(Strict):
    """Account-specific identifiers (not secret). The zone is needed only for custom domains."""

    account_id: CloudflareId
    zone_id: CloudflareId | None = None


class StackSettings(Strict):
    """Everything non-secret about one environment."""

    app: Slug
    environment: Slug
    cloudflare: Cloudflare
    public_base_url: HttpUrl
    protect_data: bool
    media: Media
    metadata: Metadata
    queues: AsyncProcessing
    frontend: Frontend
    backend: Backend
    upstream: Upstream
    observability: Observability
    generate_rate_limit: GenerateRateLimit

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        local = self.environment == "local"
        if self.environment == "production" and not self.protect_data:
            raise ValueError("production must set protect_data: true (bucket and database are kept on delete)")
        if self.environment == "production" and not self.observability.enabled:
            raise ValueError("production must set observability.enabled: true (the runbook reads Workers Logs)")
        if self.frontend.backend_access == "service-binding" and self.backend.public:
            raise ValueError(
                "backend must not be public (workers_dev false, no custom_domain) when the frontend "
                "uses backend_access 'service-binding'"
            )
        if self.frontend.backend_access == "url":
            if self.frontend.backend_url is None:
                raise ValueError("frontend.backend_url is required with backend_access 'url'")
            if not self.backend.public and not local:
                raise ValueError("backend_access 'url' needs a public backend (workers_dev or custom_domain)")
        elif self.frontend.backend_url is not None:
            raise ValueError("frontend.backend_url only applies to backend_access 'url'")
        if not local:
            if self.upstream.allow_http_results:
                raise ValueError("upstream.allow_http_results is only allowed in the local environment")
            for name, url in (("upstream.base_url", self.upstream.base_url),
                              ("public_base_url", self.public_base_url)):
                if not url.startswith("https://"):
                    raise ValueError(f"{name} must use https outside the local environment")
        model = self.upstream.model
        if self.queues.enabled and model not in ASYNC_MODELS:
            raise ValueError(
                f"upstream.model {model!r} serves only synchronous calls, so with queues.enabled: true every run "
                f"would fail: use one of {', '.join(map(repr, ASYNC_MODELS))} or set queues.enabled: false"
            )
        self._retention_follows_the_media_lifecycle()
        uses_zone = (self.media.delivery.custom_domain or self.frontend.custom_domain or self.backend.custom_domain
                     or self.frontend.routes)
        if uses_zone and self.cloudflare.zone_id is None and not local:
            raise ValueError("cloudflare.zone_id is required when a custom_domain or route is set")
        return self

    def _retention_follows_the_media_lifecycle(self) -> None:
        """No image outlives its run's record unless `images_outlive_runs` says so; a run outliving its images
        is fine (the API answers `expired` for them)."""
        keep, expire = self.metadata.retention_days, self.media.lifecycle.expiry_days(MEDIA_KEY_PREFIX)
        outlive = keep is not None and (expire is None or keep < expire + LIFECYCLE_LAG_DAYS)
        if outlive and not self.metadata.images_outlive_runs:
            kept = (f"media.lifecycle never expires {MEDIA_KEY_PREFIX}" if expire is None else
                    f"media.lifecycle expires {MEDIA_KEY_PREFIX} after {expire} days and R2 removes objects within "
                    f"{LIFECYCLE_LAG_DAYS} day of that")
            fix = ("set retention_days: null" if expire is None else
                   f"set retention_days to at least {expire + LIFECYCLE_LAG_DAYS}")
            raise ValueError(
                f"metadata.retention_days ({keep}) would purge runs whose images are still stored ({kept}): "
                f"{fix}, or set metadata.images_outlive_runs: true to keep images nobody can find through a run"
            )
        if self.metadata.images_outlive_runs and not outlive:
            raise ValueError("metadata.images_outlive_runs is true but no image outlives its run's record here: "
                             "remove it")

    @property
    def async_enabled(self) -> bool:
        return self.queues.enabled

    def with_overrides(self, overrides: dict[str, Any]) -> StackSettings:
        """A re-validated copy with dotted fields replaced (`{"upstream.base_url": ...}`); used by the
        local launcher and tests, which vary a port or a switch without another stack file."""
        data = self.model_dump()
        for dotted, value in overrides.items():
            *parents, leaf = dotted.split(".")
            node = data
            for part in parents:
                node = node[part]
            if leaf not in node:
                raise SettingsError(f"override settings '{self.environment}' failed: unknown field {dotted!r}")
            node[leaf] = value
        try:
            return StackSettings.model_validate(data)
        except ValidationError as exc:
            raise SettingsError(_describe(self.environment, Path("<overrides>"), exc)) from None


def stack_file(environment: str) -> Path:
    return STACKS_DIR / f"{environment}.yaml"


def load_settings(environment: str, path: Path | None = None) -> StackSettings:
    """Read and validate one stack file; every problem is reported with the file and the field."""
    path = path or stack_file(environment)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"load settings '{environment}' failed: {path} does not exist; "
                            f"known stacks: {', '.join(known_stacks())}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"load settings '{environment}' failed: {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"load settings '{environment}' failed: {path} must hold a mapping")
    try:
        settings = StackSettings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_describe(environment, path, exc)) from None
    if settings.environment != environment:
        raise SettingsError(f"load settings '{environment}' failed: {path}: environment: "
                            f"is {settings.environment!r} but the file is for {environment!r}")
    problems = check_names(settings)
    if problems:
        raise SettingsError(f"load settings '{environment}' failed: {path}:\n" + "\n".join(problems))
    return settings


def known_stacks() -> list[str]:
    return sorted(p.stem for p in STACKS_DIR.glob("*.yaml"))


def _describe(environment: str, path: Path, exc: ValidationError) -> str:
    lines = [f"load settings '{environment}' failed: {path} has {exc.error_count()} problem(s):"]
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = re.sub(r"^Value error, ", "", error["msg"])
        lines.append(f"  {field}: {message}")
    return "\n".join(lines)
