"""The admin side of the deployed HTTP API (`/api/runs`), for support: a small client and its tables.

Reached through the frontend like every client (`<base url>/api/...`) with `Authorization: Bearer <admin
token>`. Every failure becomes one `AdminApiError` line that says what to do next.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from infra.errors import InfraError

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class AdminApiError(InfraError):
    """The admin API could not be reached or refused the request."""


def parse_time(value: str, now: datetime | None = None) -> str:
    """`24h`, `30m`, `7d` (ago) or an ISO 8601 time, as the API's UTC form `2026-01-02T03:04:05.000Z`."""
    if match := _RELATIVE.match(value):
        moment = (now or datetime.now(UTC)) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is neither a duration like 24h, 30m, 7d nor an ISO 8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RunFilters:
    """The query of `GET /api/runs`; unset filters are left out."""

    status: str | None = None
    since: str | None = None
    until: str | None = None
    request_id: str | None = None
    client_request_id: str | None = None
    limit: int | None = None
    cursor: str | None = None

    def params(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items() if value is not None}


class AdminClient:
    """`GET /api/runs`, `GET /api/runs/<id>`, `POST /api/runs/<id>/retry` and `GET /api/ops/summary`."""

    def __init__(self, base_url: str, token: str, transport: httpx.BaseTransport | None = None,
                 timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, transport=transport, timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def __repr__(self) -> str:
        return f"AdminClient(base_url={self.base_url!r}, token='***')"

    def close(self) -> None:
        self._http.close()

    def list_runs(self, filters: RunFilters, action: str) -> dict[str, Any]:
        return self._call("GET", "/api/runs", action, filters.params())

    def get_run(self, run_id: str, action: str) -> dict[str, Any]:
        missing = f"there is no run '{run_id}' at {self.base_url}"
        return self._call("GET", f"/api/runs/{run_id}", action, missing=missing)

    def retry_run(self, run_id: str, action: str) -> dict[str, Any]:
        """Re-drive a failed or dead-lettered run; the API answers 409 for any other status."""
        missing = f"there is no run '{run_id}' at {self.base_url}"
        return self._call("POST", f"/api/runs/{run_id}/retry", action, missing=missing)

    def ops_summary(self, window: str, step: str, action: str) -> dict[str, Any]:
        """The ops summary of the runs created in `window` (`30d`), its series in `step` intervals (`1d`)."""
        return self._call("GET", "/api/ops/summary", action, {"window": window, "step": step})

    def _call(self, method: str, path: str, action: str, params: dict[str, str] | None = None,
              missing: str | None = None) -> dict[str, Any]:
        """The JSON body of a 2xx answer; anything else becomes one `AdminApiError` line starting `action`."""
        where = self.base_url
        try:
            response = self._http.request(method, path, params=params)
        except httpx.ConnectError:
            raise AdminApiError(f"{action} failed: cannot connect to {where} (connection refused); start the "
                                "system (`make dev` locally) or pass --base-url") from None
        except httpx.TimeoutException:
            raise AdminApiError(f"{action} failed: {where} did not answer in time; try again") from None
        except httpx.HTTPError as exc:
            raise AdminApiError(f"{action} failed: {where}: {exc}") from None
        if response.status_code == 401:
            raise AdminApiError(f"{action} failed: {where} answered 401 unauthorized; check the admin token "
                                "(ADMIN_TOKEN or --token-file)")
        if response.status_code == 404:
            raise AdminApiError(f"{action} failed: {missing or f'{where} has no {path}: is it the frontend URL?'}")
        try:
            body = response.json()
        except ValueError:
            raise AdminApiError(f"{action} failed: {where} answered {response.status_code} with a non-JSON body; "
                                "is --base-url this system's frontend?") from None
        if response.is_error:
            error = body.get("error") or {} if isinstance(body, dict) else {}
            raise AdminApiError(f"{action} failed: {where} answered {response.status_code} "
                                f"{error.get('code', '')}: {error.get('message', response.reason_phrase)}")
        return body


# -- tables ------------------------------------------------------------------------------------------


def _took(run: dict[str, Any]) -> str:
    if not run.get("completed_at"):
        return ""
    seconds = (_instant(run["completed_at"]) - _instant(run["created_at"])).total_seconds()
    return f"{seconds:.1f}s"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _text(value: Any) -> str:
    """Cells as a reader wants them: JSON for objects (as the API sent them), blank for null."""
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _error(run: dict[str, Any]) -> str:
    error = run.get("error")
    return f"{error['code']}: {error['message']}" if error else ""


def print_runs(body: dict[str, Any], console: Console) -> None:
    """One row per run, newest first, and how to fetch the next page."""
    runs = body.get("runs", [])
    table = Table(title=f"{len(runs)} run(s), newest first")
    for column in ("id", "status", "created (UTC)", "took", "images", "request id", "client request id", "error"):
        table.add_column(column, overflow="fold")
    for run in runs:
        table.add_row(run["id"], run["status"], run["created_at"], _took(run), str(len(run.get("images") or [])),
                      run.get("request_id") or "", run.get("client_request_id") or "", _error(run))
    console.print(table)
    if body.get("next_cursor"):
        console.print(f"more runs: add --cursor {body['next_cursor']}")


def print_run(body: dict[str, Any], console: Console) -> None:
    """The run's fields, its images and its audit trail."""
    run, provider = body["run"], body["run"].get("provider") or {}
    fields = Table(title=f"Run {run['id']}", show_header=False)
    fields.add_column("field", style="bold")
    fields.add_column("value", overflow="fold")
    for label, value in (
        ("status", run["status"]), ("request id", run.get("request_id")),
        ("client request id", run.get("client_request_id")), ("prompt", run.get("prompt")),
        ("parameters", run.get("parameters")), ("attempts", run.get("attempts")),
        ("provider", f"{provider.get('name')} / {provider.get('model')}"),
        ("provider request id", provider.get("request_id")), ("provider task id", provider.get("task_id")),
        ("created", run.get("created_at")), ("updated", run.get("updated_at")),
        ("completed", run.get("completed_at")), ("took", _took(run)), ("error", _error(run)),
    ):
        fields.add_row(label, _text(value))
    console.print(fields)
    images = Table(title="Images")
    for column in ("url", "bytes", "content type", "sha256"):
        images.add_column(column, overflow="fold")
    for image in run.get("images") or []:
        images.add_row(image["url"], str(image["bytes"]), image["content_type"], image["sha256"])
    console.print(images)
    events = Table(title="Events")
    for column in ("at", "type", "transition", "detail"):
        events.add_column(column, overflow="fold")
    for event in body.get("events") or []:
        transition = f"{event.get('from') or '-'} -> {event['to']}" if event.get("to") else ""
        events.add_row(event["at"], event["type"], transition, _text(event.get("detail")))
    console.print(events)
