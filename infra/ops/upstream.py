"""Is a DashScope API key good for the stack's region? One cheap authenticated call that generates nothing.

`GET {base}/api/v1/tasks/{task_id}` needs only the key (docs: shared/reference/dashscope-api.md, section 2,
"Query"), and for a task id that does not exist it answers 200 with `task_status: UNKNOWN`; a key of another
region, or a wrong one, gets 401 `InvalidApiKey` (keys are region-bound, section 0). No image is generated and
nothing is billed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import httpx

DASHSCOPE_KEY_ENV = "DASHSCOPE_API_KEY"
_MAX_BODY = 64 * 1024  # an answer to this call is a few hundred bytes


@dataclass(frozen=True)
class KeyCheck:
    ok: bool
    detail: str


def check_dashscope_key(base_url: str, api_key: str, transport: httpx.BaseTransport | None = None,
                        timeout: float = 15.0) -> KeyCheck:
    """Query a task id that cannot exist; `ok` only for the documented 200 `UNKNOWN` answer."""
    url = f"{base_url.rstrip('/')}/api/v1/tasks/{uuid.uuid4()}"
    try:
        with httpx.Client(transport=transport, timeout=timeout) as client, client.stream(
                "GET", url, headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"}) as response:
            raw = b""
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) > _MAX_BODY:
                    return KeyCheck(False, f"{base_url} answered {response.status_code} with an oversized body; is "
                                           "upstream.base_url DashScope?")
    except httpx.HTTPError as exc:
        return KeyCheck(False, f"cannot reach {base_url} ({type(exc).__name__}); check the network and "
                               "upstream.base_url")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return KeyCheck(False, f"{base_url} answered {response.status_code} without a JSON object; is "
                               "upstream.base_url DashScope?")
    status = (body.get("output") or {}).get("task_status") if isinstance(body.get("output"), dict) else None
    if response.status_code == 200 and status == "UNKNOWN":
        return KeyCheck(True, f"{DASHSCOPE_KEY_ENV} is accepted by {base_url}")
    code, message = body.get("code") or "", body.get("message") or ""
    if response.status_code == 401:
        return KeyCheck(False, f"{base_url} refuses {DASHSCOPE_KEY_ENV} (401 {code}: {message}); keys are bound to "
                               "their region: use a key of this region, or the base URL of the key's region")
    return KeyCheck(False, f"{base_url} answered {response.status_code} {code}: {message or 'unexpected answer'}")
