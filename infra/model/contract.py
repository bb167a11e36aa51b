"""The facts Python, the Workers' JavaScript and the D1 schema must agree on, declared once.

Python imports them from here (settings, the stand-in, the admin client, tests). Each Worker gets them from a
generated module, `worker_src/<role>/contract.js` (constants, the JSDoc `Env` typedef and the check of its
bindings), written by `infra.generate.contract` from this module and `infra.model.bindings`. The SQL schema
cannot import anything, so a test reads the `CHECK` of a database the real migrations built.

To add a shared fact:
1. declare it below, with a comment saying why it has this value;
2. add it to `EXPORTS` at the end, for each Worker that reads it (`Role.BACKEND`, `Role.FRONTEND`); its
   JavaScript name is the `EXPORTS` key, and fields of a dataclass become camelCase keys;
3. run `make generate` (= `python -m infra generate`), then import it in the JavaScript from `./contract.js`;
4. commit the declaration and the generated files together. `tests/infra/test_contract.py` fails while a
   generated file differs from a fresh generation, and when a Worker never imports a name exported to it.
A Worker binding (an `env.X`) is declared in `infra.model.bindings` instead and reaches the same files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from infra.model.naming import Role

# Pinned so a deploy never changes runtime semantics by itself; must not be newer than the local workerd.
# The Workers (Pulumi and wrangler) and the benchmark's baseline Worker all run with it.
COMPATIBILITY_DATE = "2026-04-20"


# -- runs ------------------------------------------------------------------------------------------------


class RunStatus(StrEnum):
    """A run's status; the D1 `CHECK` on `runs.status` lists exactly these."""

    QUEUED = "queued"
    SUBMITTED = "submitted"
    RUNNING = "running"
    PERSISTING = "persisting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"


_ENDINGS = (RunStatus.FAILED, RunStatus.DEAD_LETTERED)
# The state machine (worker_src/backend/state.js turns it into conditional UPDATEs): the statuses each status
# may move to. The sync path creates a run `running`, the async path `queued`; failed and dead-lettered runs
# go back to `queued` only by an operator's re-drive.
TRANSITIONS: Mapping[RunStatus, tuple[RunStatus, ...]] = {
    RunStatus.QUEUED: (RunStatus.SUBMITTED, RunStatus.RUNNING, *_ENDINGS),
    RunStatus.SUBMITTED: (RunStatus.RUNNING, RunStatus.PERSISTING, *_ENDINGS),
    RunStatus.RUNNING: (RunStatus.PERSISTING, *_ENDINGS),
    RunStatus.PERSISTING: (RunStatus.SUCCEEDED, *_ENDINGS),
    RunStatus.SUCCEEDED: (),
    RunStatus.FAILED: (RunStatus.QUEUED,),
    RunStatus.DEAD_LETTERED: (RunStatus.QUEUED,),
}
# A run stops in these until an operator re-drives it; clients poll until a run reaches one.
TERMINAL = tuple(s for s, after in TRANSITIONS.items() if set(after) <= {RunStatus.QUEUED})
# Work is still to be done (a queue job holds a lease on the run, the ops view shows the oldest).
ACTIVE = tuple(s for s in RunStatus if s not in TERMINAL)
# What `POST /api/runs/<id>/retry` accepts: the statuses that lead back to `queued`.
REDRIVABLE = tuple(s for s, after in TRANSITIONS.items() if RunStatus.QUEUED in after)


class EventType(StrEnum):
    """`run_events.type`: the audit trail of a run (docs/api.md "Event", docs/async.md "Audit trail")."""

    STATUS = "status"  # every transition, written in the same transaction as the status change
    IDEMPOTENT_REPLAY = "idempotent_replay"  # a request answered from the run its Idempotency-Key names
    JOB_SENT = "job_sent"  # a wake-up put on the jobs queue (created, replay, redrive)
    TASK_POLLED = "task_polled"  # one query of the provider's async task
    ATTEMPT_FAILED = "attempt_failed"  # a delivery failed and will be retried
    DELIVERY_SKIPPED = "delivery_skipped"  # a stale or duplicate delivery, acknowledged without work


# Run ids are random UUIDs (crypto.randomUUID), lowercase: anything else is not a run, and no query runs for it.
RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Every object the backend writes is under this prefix (generated/<yyyy>/<mm>/<dd>/<run_id>/<index>.<ext>);
# each stack's lifecycle rules must cover it, or retention silently stops applying (settings refuse that).
MEDIA_KEY_PREFIX = "generated/"


# -- requests --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What `POST /api/generate` and `GET /api/runs` accept. Prompt limits and the seed range are the
    provider's (reference section 4): the API refuses what the provider would silently truncate."""

    prompt_chars: int = 800  # Unicode code points, as the provider counts them
    negative_prompt_chars: int = 500
    seed_max: int = 2147483647
    # An Idempotency-Key names a run across the whole deployment and replays it (read token included) to whoever
    # presents it with the same body, so it must be unguessable: a random UUID (the page's) is 36 characters.
    idempotency_key_min_chars: int = 16
    idempotency_key_chars: int = 128
    request_id_chars: int = 128  # a client's X-Request-Id (kept as client_request_id), and the id filters
    # Every body a Worker reads is read through a byte cap that stops at the limit, whatever the framing:
    body_bytes: int = 16 * 1024  # a POST /api/generate body (413 payload_too_large beyond)
    upstream_body_bytes: int = 1024 * 1024  # a provider's JSON answer (its real answers are a few KiB)
    list_default: int = 20  # runs per page of GET /api/runs
    list_max: int = 100


LIMITS = Limits()
# The provider's sizes for qwen-image, -plus and -max (reference section 4, current docs); the first is its
# default, used when a request names none.
SIZES = ("1664*928", "1472*1104", "1328*1328", "1104*1472", "928*1664")


class Mode(StrEnum):
    """How a model can be called upstream: one blocking request, or a task submitted and polled."""

    SYNC = "sync"
    ASYNC = "async"


# The models settings accept and the calls each serves (reference section 2: only the two aliases serve the
# async API; the -max models are sync-only). Async for qwen-image-plus-2026-01-09 is UNCONFIRMED (the
# reference lists only the aliases), so it is treated as sync-only: no stack can depend on an API that may
# not exist. Settings refuse a sync-only model with `queues.enabled: true`; so does the backend at run time.
MODELS: Mapping[str, tuple[Mode, ...]] = {
    "qwen-image": (Mode.SYNC, Mode.ASYNC),
    "qwen-image-plus": (Mode.SYNC, Mode.ASYNC),
    "qwen-image-plus-2026-01-09": (Mode.SYNC,),
    "qwen-image-max": (Mode.SYNC,),
    "qwen-image-max-2025-12-30": (Mode.SYNC,),
}
ASYNC_MODELS = tuple(model for model, modes in MODELS.items() if Mode.ASYNC in modes)


# -- API errors ------------------------------------------------------------------------------------------


class ErrorCode(StrEnum):
    """`error.code` of the API's one error shape, `{"error": {"code", "message", "request_id", ...}}`
    (docs/api.md lists each with its status, when it happens and its extra fields)."""

    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    MEDIA_EXPIRED = "media_expired"  # the lifecycle deleted the image (its run is still there, saying so)
    METHOD_NOT_ALLOWED = "method_not_allowed"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    NOT_RETRYABLE = "not_retryable"
    ASYNC_DISABLED = "async_disabled"
    UPSTREAM_THROTTLED = "upstream_throttled"
    INTERNAL_ERROR = "internal_error"
    UPSTREAM_ERROR = "upstream_error"
    BACKEND_UNAVAILABLE = "backend_unavailable"  # the frontend could not reach the backend
    QUEUE_UNAVAILABLE = "queue_unavailable"
    MISCONFIGURED = "misconfigured"  # a binding is missing or malformed: the Worker refuses every request
    UPSTREAM_TIMEOUT = "upstream_timeout"
    PAYLOAD_TOO_LARGE = "payload_too_large"  # a request body over LIMITS.body_bytes, however it is framed
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # generate without Content-Type: application/json
    RATE_LIMITED = "rate_limited"  # the client address started more generations than its stack allows


ERROR_STATUS: Mapping[ErrorCode, int] = {
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.MEDIA_EXPIRED: 410,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.IDEMPOTENCY_CONFLICT: 409,
    ErrorCode.NOT_RETRYABLE: 409,
    ErrorCode.ASYNC_DISABLED: 409,
    ErrorCode.UPSTREAM_THROTTLED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.UPSTREAM_ERROR: 502,
    ErrorCode.BACKEND_UNAVAILABLE: 502,
    ErrorCode.QUEUE_UNAVAILABLE: 503,
    ErrorCode.MISCONFIGURED: 503,
    ErrorCode.UPSTREAM_TIMEOUT: 504,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMITED: 429,
}


# -- failures: what async processing would absorb --------------------------------------------------------


class FailureCause(StrEnum):
    """Why a run ended `failed` or `dead_lettered`, grouped by what a later retry would do about it (the async
    path retries; the sync path cannot). `infra report` and the /ops "sync health" view read the summary's
    failures by these causes (docs/runbook.md "Deciding on async")."""

    THROTTLED = "throttled"
    UPSTREAM_ERROR = "upstream_error"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"
    INVALID_INPUT = "invalid_input"
    CONTENT_INSPECTION = "content_inspection"
    KEY_OR_QUOTA = "key_or_quota"
    RESULT_REJECTED = "result_rejected"
    INTERNAL = "internal"
    UNCLASSIFIED = "unclassified"  # a code FAILURE_CODES does not know: add it there


@dataclass(frozen=True)
class CauseInfo:
    """How a cause reads, and whether async processing would absorb it (a retry later succeeds)."""

    label: str
    absorbed: bool


FAILURE_CAUSES: Mapping[FailureCause, CauseInfo] = {
    FailureCause.THROTTLED: CauseInfo("upstream throttling (429)", True),
    FailureCause.UPSTREAM_ERROR: CauseInfo("upstream 5xx, unreachable or a failed task", True),
    FailureCause.TIMEOUT: CauseInfo("timeouts (provider call, download, task)", True),
    FailureCause.ABANDONED: CauseInfo("abandoned by a dying request", True),
    FailureCause.INVALID_INPUT: CauseInfo("invalid input", False),
    FailureCause.CONTENT_INSPECTION: CauseInfo("content inspection", False),
    FailureCause.KEY_OR_QUOTA: CauseInfo("API key, access or quota", False),
    FailureCause.RESULT_REJECTED: CauseInfo("result refused by the download rules", False),
    FailureCause.INTERNAL: CauseInfo("our own errors (storage, queue, code)", False),
    FailureCause.UNCLASSIFIED: CauseInfo("unclassified codes", False),
}
# The error code a run ends with (`runs.error_code`): the provider's own (reference section 3: DashScope codes,
# `HTTP<status>` when its answer had none) or ours (dashscope.js, download.js, persist.js, consumer.js, sweep.js,
# deadletter.js, routes.js). A key ending in `*` is a prefix; an exact key wins, then the longest prefix
# (worker_src/backend/failures.js classifies the summary's failures so, for `infra report` and /ops alike).
FAILURE_CODES: Mapping[str, FailureCause] = {
    "Throttling*": FailureCause.THROTTLED,
    "HTTP429": FailureCause.THROTTLED,
    "InternalError*": FailureCause.UPSTREAM_ERROR,
    "HTTP5*": FailureCause.UPSTREAM_ERROR,
    "upstream_unreachable": FailureCause.UPSTREAM_ERROR,
    "bad_upstream_response": FailureCause.UPSTREAM_ERROR,
    "task_failed": FailureCause.UPSTREAM_ERROR,  # a FAILED task without a code of its own
    "task_canceled": FailureCause.UPSTREAM_ERROR,
    "task_unknown": FailureCause.UPSTREAM_ERROR,  # the provider lost the task (or it expired)
    "result_lost": FailureCause.UPSTREAM_ERROR,
    "result_http_error": FailureCause.UPSTREAM_ERROR,  # the result URL answered an error
    "result_truncated": FailureCause.UPSTREAM_ERROR,  # the download broke off
    "result_unreachable": FailureCause.UPSTREAM_ERROR,  # the result URL's connection failed before any answer
    "upstream_response_too_large": FailureCause.UPSTREAM_ERROR,  # a provider answer over the JSON cap
    "upstream_timeout": FailureCause.TIMEOUT,
    "RequestTimeOut": FailureCause.TIMEOUT,
    "HTTP408": FailureCause.TIMEOUT,
    "download_timeout": FailureCause.TIMEOUT,
    "task_timeout": FailureCause.TIMEOUT,  # still running after queues.polling.max_polls
    "abandoned": FailureCause.ABANDONED,
    "InvalidParameter*": FailureCause.INVALID_INPUT,
    "BadRequest*": FailureCause.INVALID_INPUT,
    "HTTP400": FailureCause.INVALID_INPUT,
    "DataInspectionFailed": FailureCause.CONTENT_INSPECTION,
    "InvalidParameter.DataInspection*": FailureCause.CONTENT_INSPECTION,
    "InvalidApiKey": FailureCause.KEY_OR_QUOTA,
    "AccessDenied*": FailureCause.KEY_OR_QUOTA,
    "Arrearage": FailureCause.KEY_OR_QUOTA,
    "HTTP401": FailureCause.KEY_OR_QUOTA,
    "HTTP403": FailureCause.KEY_OR_QUOTA,
    "result_url_invalid": FailureCause.RESULT_REJECTED,
    "result_url_not_https": FailureCause.RESULT_REJECTED,
    "result_host_not_allowed": FailureCause.RESULT_REJECTED,
    "result_too_many_redirects": FailureCause.RESULT_REJECTED,
    "result_bad_content_type": FailureCause.RESULT_REJECTED,
    "result_too_large": FailureCause.RESULT_REJECTED,
    "result_empty": FailureCause.RESULT_REJECTED,
    "internal_error": FailureCause.INTERNAL,
    "storage_failed": FailureCause.INTERNAL,
    "queue_unavailable": FailureCause.INTERNAL,
    "dead_lettered": FailureCause.INTERNAL,  # every delivery failed without recording why
}


@dataclass(frozen=True)
class AsyncRule:
    """The thresholds of "Deciding on async" (docs/runbook.md), read by `infra report` (infra/ops/decision.py) and
    shown by the /ops "sync health" view. Shares are of the ended runs in the window. The gap between turning
    async on (2 %) and off (0.5 %) keeps a stack near one threshold from flipping back and forth."""

    min_ended_runs: int = 200  # fewer ended runs than this in the window: no recommendation, only what to watch
    near_budget_margin: float = 0.2  # a duration at or above (1 - margin) x its budget "came within 20 %" of it
    on_absorbable_share: float = 0.02  # sync: failures async would absorb, of ended sync runs
    on_near_budget_share: float = 0.05  # sync: runs whose provider call or download came within the margin
    off_retried_share: float = 0.005  # async: retried deliveries per ended async run (what async rescued)
    off_near_budget_share: float = 0.01  # async: tasks that would have come within the margin of a sync call


ASYNC_RULE = AsyncRule()
# -- headers ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderNames:
    """Headers of the API besides the standard ones (docs/api.md "Conventions", "Who may read a run")."""

    request_id: str = "X-Request-Id"  # ours, on every response; a client's own (request) is kept beside it
    client_request_id: str = "X-Client-Request-Id"  # the client's X-Request-Id, echoed back once checked
    run_token: str = "X-Run-Token"  # a run's read token, sent back by its creator
    # The client's address as the frontend read it from the edge (CF-Connecting-IP); the frontend drops any
    # client-sent value and sets its own, and the backend keys the generate rate limit by it.
    client_address: str = "X-Client-Address"


HEADERS = HeaderNames()
# The only request headers the frontend passes on to the backend (lower case): what the routes read. No
# Cookie, no hop-by-hop or forwarding headers; the body's framing is the runtime's (the body is streamed).
FORWARDED_HEADERS = (
    "accept", "authorization", "content-type", "idempotency-key", "if-none-match", "if-range", "range",
    HEADERS.request_id.lower(), HEADERS.run_token.lower(),
)


# -- log lines ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogShape:
    """Every line either Worker logs, through `logLine` of its contract.js (docs/runbook.md "Logs"): one JSON
    object with all of `fields` (null where one says nothing) and those of `detail` that are given. Any other
    field is left out and named in `dropped`; text is cut to `max_text` characters and a URL loses its query
    string (a signed media URL's signature is a credential). Prompts, tokens and headers are never passed."""

    fields: tuple[str, ...] = ("request_id", "run_id", "route", "status", "outcome", "duration_ms")
    detail: tuple[str, ...] = (
        "client_request_id",  # the client's own X-Request-Id, checked (docs/api.md "Conventions")
        "via",  # frontend: how it reached the backend (frontend.backend_access)
        "seq", "attempt", "delay_seconds",  # queue: the job's wake-up number, the delivery, the retry's delay
        "stuck_in", "stuck_seconds", "objects_deleted",  # cron: a swept run
        "swept", "purged",  # cron: what a tick did
        "error",  # an unexpected failure: the exception, or what the backend could not reach
        "d1",  # backend: the invocation's D1 `queries`, `rows_read`, `rows_written` (meter.js)
    )
    max_text: int = 500


LOG = LogShape()


# -- what each Worker's contract.js exports ----------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """One fact in the generated JavaScript: its value, a line saying what it is, and the Workers that read it."""

    value: object
    doc: str
    workers: tuple[Role, ...]


_BOTH = (Role.BACKEND, Role.FRONTEND)
_BACKEND = (Role.BACKEND,)
EXPORTS: Mapping[str, Export] = {
    "STATUS": Export(RunStatus, "Run statuses (the D1 CHECK on runs.status lists exactly these).", _BOTH),
    "STATUSES": Export(tuple(RunStatus), "Every run status, in lifecycle order.", _BACKEND),
    "NEXT": Export(TRANSITIONS, "The statuses each status may move to (state.js).", _BACKEND),
    "TERMINAL": Export(TERMINAL, "Statuses a run stops in until an operator re-drives it.", _BOTH),
    "ACTIVE": Export(ACTIVE, "Statuses with work still to do.", _BACKEND),
    "REDRIVABLE": Export(REDRIVABLE, "Statuses `POST /api/runs/<id>/retry` accepts.", _BACKEND),
    "EVENT": Export(EventType, "`run_events.type` values.", _BACKEND),
    "RUN_ID": Export(RUN_ID, "A run id: a lowercase UUID.", _BOTH),
    "MEDIA_KEY_PREFIX": Export(MEDIA_KEY_PREFIX, "Every stored object's key starts with this.", _BACKEND),
    "LIMITS": Export(LIMITS, "What the API accepts.", _BOTH),
    "SIZES": Export(SIZES, "Image sizes; the first is the provider's default.", _BOTH),
    "MODELS": Export(MODELS, "Each model's upstream modes.", _BACKEND),
    "ERROR": Export(ErrorCode, "`error.code` of the API's error envelope.", _BOTH),
    "ERROR_STATUS": Export(ERROR_STATUS, "The HTTP status of each error code.", _BOTH),
    "FAILURE_CODES": Export(FAILURE_CODES, "Each run error code's (or code prefix's, `*`) failure cause.", _BACKEND),
    "FAILURE_CAUSES": Export(FAILURE_CAUSES, "Each failure cause: its label, and whether async absorbs it.", _BOTH),
    "ASYNC_RULE": Export(ASYNC_RULE, "The thresholds of the runbook's rule for deciding on async.", _BOTH),
    "HEADERS": Export(HEADERS, "Header names of the API besides the standard ones.", _BOTH),
    "FORWARDED_HEADERS": Export(FORWARDED_HEADERS, "Request headers the frontend passes on to the backend.",
                                (Role.FRONTEND,)),
}
