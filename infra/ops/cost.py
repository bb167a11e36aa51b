"""The monthly Cloudflare cost of a stack: its settings (retention, the media lifecycle's storage classes, async
processing, log sampling, how images and the backend are reached), the volume it saw (runs a day, bytes, polls,
retries: `Workload`, from `infra report`'s evidence) and what one run costs in each product, measured against the
local system (`Footprint`, infra/ops/footprint.json, written by `python -m localdev.footprint`), priced with the
pinned list prices (`Prices`, infra/ops/prices.yaml).

A month is `Prices.month_days` days. Each product's allowance is the Workers Paid plan's, for the account: a stack
that shares its account with another shares them too. `estimate` returns every line with its quantity, allowance,
billable part and cost, so the report shows how each figure was reached (tests/infra/test_cost.py recomputes them
by hand).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.errors import InfraError
from infra.model.contract import MEDIA_KEY_PREFIX
from infra.model.settings import StackSettings

PRICES_FILE = Path(__file__).with_name("prices.yaml")
FOOTPRINT_FILE = Path(__file__).with_name("footprint.json")
GB = 1_000_000_000
MILLION = 1_000_000
# The backend's cron (infra/model/bindings.py SWEEP_CRON, every 5 minutes): ticks a day.
CRON_TICKS_PER_DAY = 288
# What the page at / does (worker_src/frontend/page.js): it shows each image once and polls an async run every
# second until it ends; another client may do otherwise, so these are stated with the estimate.
IMAGE_VIEWS_PER_RUN = 1
CLIENT_POLL_SECONDS = 1.0
# Log events per invocation (Workers Logs): the execution log, plus the backend's one JSON line per request,
# delivery and cron tick (index.js, queue.js); the frontend logs nothing on success.
BACKEND_LOG_EVENTS = 2
FRONTEND_LOG_EVENTS = 1
# A job message is `{"run_id", "seq"}` (worker_src/backend/jobs.js) and about 100 bytes of the queue's metadata:
# far below one 64 KB operation unit.
JOB_MESSAGE_BYTES = 160
# Polls per async run when the stack has none to show (it runs sync): what the poll schedule aims at, one query at
# the expected end of the task and one after (docs/async.md "Polling and retries").
ASSUMED_POLLS = 2.0


class CostError(InfraError):
    """The prices or footprint file is missing or malformed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Allowance(_Strict):
    """A unit's monthly allowance and its price beyond it, per million units or per unit."""

    included: float = Field(ge=0)
    per_million: float | None = Field(default=None, ge=0)
    per_unit: float | None = Field(default=None, ge=0)

    def unit_price(self) -> float:
        return (self.per_million or 0) / MILLION + (self.per_unit or 0)


class WorkersPrices(_Strict):
    source: str
    subscription: float
    requests: Allowance
    cpu_ms: Allowance


class LogsPrices(_Strict):
    source: str
    events: Allowance


class D1Prices(_Strict):
    source: str
    rows_read: Allowance
    rows_written: Allowance
    storage_gb: Allowance


class R2ClassPrices(_Strict):
    storage_gb_month: Allowance
    class_a: Allowance
    class_b: Allowance
    retrieval_gb: Allowance | None = None
    minimum_storage_days: int = 0


class R2Prices(_Strict):
    source: str
    standard: R2ClassPrices
    infrequent_access: R2ClassPrices


class QueuesPrices(_Strict):
    source: str
    operations: Allowance
    chunk_bytes: int


class Prices(_Strict):
    """infra/ops/prices.yaml."""

    read: str
    currency: Literal["USD"]
    month_days: int
    workers: WorkersPrices
    workers_logs: LogsPrices
    d1: D1Prices
    r2: R2Prices
    queues: QueuesPrices


Kind = Literal["generate_sync", "generate_async", "read_run", "read_media", "deliver_submit", "deliver_poll",
               "deliver_final", "deliver_retry", "cron_tick"]
KINDS: tuple[Kind, ...] = Kind.__args__  # type: ignore[attr-defined]


class Invocation(_Strict):
    """What one backend invocation of a kind cost in D1 (the means of `count` of them, from their log lines)."""

    count: int = Field(ge=1)
    d1_queries: float = Field(ge=0)
    d1_rows_read: float = Field(ge=0)
    d1_rows_written: float = Field(ge=0)


class Footprint(_Strict):
    """infra/ops/footprint.json: what each kind of backend invocation costs in D1, the runtime's CPU time per
    invocation of each Worker (an upper bound: locally the runtime process also runs the D1, R2 and queue
    simulators), and the D1 bytes a run keeps (its rows and index entries in runs, run_events, run_assets)."""

    measured: str
    how: str
    invocations: dict[Kind, Invocation]
    cpu_ms_per_invocation: dict[Literal["backend", "frontend"], float]
    d1_bytes_per_run: dict[Literal["sync", "async"], float]


def _load(path: Path, model: type[_Strict], what: str) -> _Strict:
    try:
        text = path.read_text()
    except OSError as exc:
        raise CostError(f"read {what} '{path}' failed: {exc.strerror}; restore it from git") from None
    fix = 'fix the file (docs/runbook.md "Cost per stack")'
    try:
        data = yaml.safe_load(text) if path.suffix == ".yaml" else json.loads(text)
        return model.model_validate(data)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise CostError(f"read {what} '{path}' failed: {exc}; {fix}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors())
        raise CostError(f"read {what} '{path}' failed: {problems}; {fix}") from None


def load_prices(path: Path = PRICES_FILE) -> Prices:
    return _load(path, Prices, "prices")  # type: ignore[return-value]


def load_footprint(path: Path = FOOTPRINT_FILE) -> Footprint:
    return _load(path, Footprint, "footprint")  # type: ignore[return-value]


# -- what the stack does ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """A day of the stack, as observed: runs created, how they went and what they stored."""

    runs_per_day: float
    succeeded_share: float  # runs that stored an image
    image_bytes: float  # per stored image
    polls_per_async_run: float
    retries_per_async_run: float
    dead_letter_share: float  # of the async runs
    async_seconds: float  # request → end of an async run: how long a client polls it


@dataclass(frozen=True)
class Plan:
    """What the settings decide about cost."""

    async_enabled: bool
    retention_days: int | None  # metadata.retention_days (None: kept forever)
    expire_days: int | None  # generated/ images expire after (None: never)
    infrequent_access_days: int | None  # generated/ images move to Infrequent Access after
    logs_enabled: bool
    head_sampling_rate: float
    images_through_worker: bool  # media.delivery worker or signed: every view is a request to the Workers
    backend_by_url: bool  # frontend.backend_access url: the backend's own public URL is a second request

    @classmethod
    def of(cls, settings: StackSettings, async_enabled: bool | None = None) -> Plan:
        """From the stack file; `async_enabled` is what the running backend says when it differs (local runs)."""
        lifecycle = settings.media.lifecycle
        return cls(
            async_enabled=settings.async_enabled if async_enabled is None else async_enabled,
            retention_days=settings.metadata.retention_days,
            expire_days=lifecycle.expiry_days(MEDIA_KEY_PREFIX),
            infrequent_access_days=lifecycle.infrequent_access_days(MEDIA_KEY_PREFIX),
            logs_enabled=settings.observability.enabled,
            head_sampling_rate=settings.observability.head_sampling_rate,
            images_through_worker=settings.media.delivery.mode != "custom-domain",
            backend_by_url=settings.frontend.backend_access == "url",
        )

    def with_retention(self, expire_days: int) -> Plan:
        """Images kept `expire_days` days and their runs a day longer (as settings require), the move to
        Infrequent Access kept where it still comes first."""
        ia = self.infrequent_access_days
        moves_first = ia is not None and ia < expire_days
        return replace(self, expire_days=expire_days, retention_days=expire_days + 1,
                       infrequent_access_days=ia if moves_first else None)


# -- the estimate -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One billed unit of a product in a month."""

    product: str
    item: str
    quantity: float
    unit: str
    included: float
    billable: float
    unit_price: float
    cost: float


@dataclass(frozen=True)
class Estimate:
    lines: tuple[Line, ...]
    subscription: float
    assumptions: tuple[str, ...]

    @property
    def total(self) -> float:
        return self.subscription + sum(line.cost for line in self.lines)

    def by_product(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.lines:
            out[line.product] = out.get(line.product, 0.0) + line.cost
        return out


def _line(product: str, item: str, quantity: float, unit: str, allowance: Allowance, *, round_up: bool = False,
          unit_size: float = 1) -> Line:
    """`quantity` of `unit` against its allowance; `round_up`: billed in whole `unit_size` units (R2)."""
    billable = max(0.0, quantity - allowance.included)
    if round_up:
        billable = math.ceil(billable / unit_size) * unit_size
    return Line(product, item, quantity, unit, allowance.included, billable, allowance.unit_price(),
                billable * allowance.unit_price())


def estimate(workload: Workload, plan: Plan, footprint: Footprint, prices: Prices) -> Estimate:
    """The month of `workload` under `plan`: every run is sync or async as the plan says."""
    days = prices.month_days
    inv = footprint.invocations
    share = 1.0 if plan.async_enabled else 0.0
    runs = workload.runs_per_day * days
    sync_runs, async_runs = runs * (1 - share), runs * share
    images = runs * workload.succeeded_share
    image_reads = images * IMAGE_VIEWS_PER_RUN  # R2 reads, through the Worker or the bucket's own domain
    views = image_reads if plan.images_through_worker else 0.0  # of them, requests to the Workers
    client_reads = async_runs * workload.async_seconds / CLIENT_POLL_SECONDS
    # A sync stack has no polls to show: what the schedule aims at, for the estimate of turning async on.
    polls, retries = workload.polls_per_async_run or ASSUMED_POLLS, workload.retries_per_async_run
    deliveries = async_runs * (1 + polls + retries + workload.dead_letter_share)
    cron = CRON_TICKS_PER_DAY * days
    api_calls = runs + client_reads + views  # each through the frontend
    backend = {  # invocations of the backend by kind, in the month
        "generate_sync": sync_runs, "generate_async": async_runs, "read_run": client_reads, "read_media": views,
        # submit, the polls that found the task still running, the one that found it done (and stored it)
        "deliver_submit": async_runs, "deliver_poll": async_runs * max(0.0, polls - 1),
        "deliver_final": async_runs, "deliver_retry": async_runs * retries,
        "cron_tick": cron,
    }
    backend_invocations = sum(backend.values()) + async_runs * workload.dead_letter_share
    requests = api_calls * (2 if plan.backend_by_url else 1) + deliveries + cron
    cpu_ms = footprint.cpu_ms_per_invocation
    cpu = api_calls * cpu_ms["frontend"] + backend_invocations * cpu_ms["backend"]
    events = (api_calls * FRONTEND_LOG_EVENTS + backend_invocations * BACKEND_LOG_EVENTS) * (
        plan.head_sampling_rate if plan.logs_enabled else 0.0)
    rows_read = sum(n * inv[k].d1_rows_read for k, n in backend.items())
    rows_written = sum(n * inv[k].d1_rows_written for k, n in backend.items())
    kept_days = plan.retention_days if plan.retention_days is not None else 365
    d1_bytes = workload.runs_per_day * kept_days * (
        (1 - share) * footprint.d1_bytes_per_run["sync"] + share * footprint.d1_bytes_per_run["async"])

    daily_image_bytes = workload.runs_per_day * workload.succeeded_share * workload.image_bytes
    stored_days = plan.expire_days if plan.expire_days is not None else 365
    ia_after = plan.infrequent_access_days
    standard_days = min(ia_after, stored_days) if ia_after is not None else stored_days
    r2 = prices.r2
    ia_days = max(stored_days - ia_after, r2.infrequent_access.minimum_storage_days) if ia_after is not None else 0
    transitions = images if ia_after is not None else 0.0
    messages = async_runs * (1 + polls)
    chunks = math.ceil(JOB_MESSAGE_BYTES / prices.queues.chunk_bytes)
    operations = chunks * (3 * messages + async_runs * retries + 3 * async_runs * workload.dead_letter_share)

    w, d, ia, st = prices.workers, prices.d1, r2.infrequent_access, r2.standard
    lines = [
        _line("Workers", "requests", requests, "requests", w.requests),
        _line("Workers", "CPU time", cpu, "ms", w.cpu_ms),
        _line("Workers Logs", "log events", events, "events", prices.workers_logs.events),
        _line("D1", "rows read", rows_read, "rows", d.rows_read),
        _line("D1", "rows written", rows_written, "rows", d.rows_written),
        _line("D1", "storage", d1_bytes / GB, "GB", d.storage_gb),
        _line("R2", "Standard storage", daily_image_bytes * standard_days / GB, "GB-month", st.storage_gb_month,
              round_up=True),
        _line("R2", "Infrequent Access storage", daily_image_bytes * ia_days / GB, "GB-month", ia.storage_gb_month,
              round_up=True),
        _line("R2", "Class A (writes)", images, "operations", st.class_a, round_up=True, unit_size=MILLION),
        _line("R2", "Class A (moves to Infrequent Access)", transitions, "operations", ia.class_a, round_up=True,
              unit_size=MILLION),
        _line("R2", "Class B (reads)", image_reads, "operations", st.class_b, round_up=True, unit_size=MILLION),
        _line("Queues", "operations", operations, "operations", prices.queues.operations),
    ]
    forever = [f"{what} kept forever: estimated at a year's worth" for what, kept in
               (("runs", plan.retention_days), ("images", plan.expire_days)) if kept is None]
    if share and not workload.polls_per_async_run:
        forever.append(f"{ASSUMED_POLLS:g} polls per async run (none observed)")
    assumptions = (
        *forever,
        f"a month is {days} days; allowances are the account's (shared with any other stack in it)",
        f"each image is viewed {IMAGE_VIEWS_PER_RUN} time(s), soon after it is made (Standard storage, no retrieval "
        "fee)",
        f"a client polls an async run every {CLIENT_POLL_SECONDS:g} s until it ends (the page does)",
        "each queue delivery is its own consumer invocation (batches make it fewer)",
        f"footprint measured {footprint.measured}: {footprint.how}",
        f"prices read {prices.read}",
    )
    return Estimate(tuple(lines), w.subscription, assumptions)


__all__ = ["CostError", "Estimate", "Footprint", "Line", "Plan", "Prices", "Workload", "estimate", "load_footprint",
           "load_prices"]
