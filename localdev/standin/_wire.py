"""DashScope's side of the wire: paths, models, sizes, request validation and response bodies.

Why one module: everything here is pinned by ``shared/reference/dashscope-api.md`` (sections 1-4), so
a change to the upstream contract is a change to this file and nowhere else. The models with their modes,
the sizes and the prompt and seed limits are the project's one declaration of them (`infra.model.contract`),
so the stand-in and the backend cannot disagree about what the provider accepts.
"""

from __future__ import annotations

import hmac
import json
import random
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta, timezone
from email.message import Message
from typing import Any

from infra.model import contract

__all__ = [
    "ASYNC_PATH",
    "CANCEL_RE",
    "CHINA_TZ",
    "MSG_INTERNAL",
    "MSG_RATE",
    "SYNC_PATH",
    "TASK_RE",
    "ApiError",
    "Generation",
    "cancel_body",
    "check_auth",
    "parse_async_request",
    "parse_sync_request",
    "submit_body",
    "sync_body",
    "task_body",
]

SYNC_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
ASYNC_PATH = "/api/v1/services/aigc/text2image/image-synthesis"
TASK_RE = re.compile(r"^/api/v1/tasks/(?P<task_id>[^/]+)$")
CANCEL_RE = re.compile(r"^/api/v1/tasks/(?P<task_id>[^/]+)/cancel$")

SYNC_MODELS = frozenset(model for model, modes in contract.MODELS.items() if contract.Mode.SYNC in modes)
ASYNC_MODELS = frozenset(contract.ASYNC_MODELS)
# Current (2026) size table; the first entry is the default.
SIZES: tuple[str, ...] = contract.SIZES
DEFAULT_SIZE = SIZES[0]
PROMPT_MAX = contract.LIMITS.prompt_chars
NEGATIVE_PROMPT_MAX = contract.LIMITS.negative_prompt_chars
SEED_MAX = contract.LIMITS.seed_max
CHINA_TZ = timezone(timedelta(hours=8))  # DashScope timestamps look like UTC+8 (UNCONFIRMED).

MSG_INVALID_KEY = "Invalid API-key provided."
MSG_NO_KEY = "No API-key provided."
MSG_INTERNAL = "An internal error has occured, please try again later or contact service support."
MSG_SYNC_NOT_SUPPORTED = "current user api does not support synchronous calls."
MSG_RATE = "Requests rate limit exceeded, please try again later."


class ApiError(Exception):
    """A request-level failure, answered with the flat body ``{request_id, code, message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Generation:
    """What is needed to render one result image."""

    prompt: str
    negative_prompt: str
    seed: int
    width: int
    height: int


# -- requests ---------------------------------------------------------------------------------


def check_auth(headers: Message, api_key: str) -> None:
    """``Authorization: Bearer <key>``, compared in constant time; 401 ``InvalidApiKey`` otherwise."""
    value = headers.get("Authorization") or ""
    if not value.strip():
        raise ApiError(401, "InvalidApiKey", MSG_NO_KEY)
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
        raise ApiError(401, "InvalidApiKey", MSG_INVALID_KEY)


def parse_sync_request(body: bytes) -> Generation:
    """Validate a synchronous generation request (reference section 1)."""
    data = _parse_json_object(body)
    _require_model(data)
    prompt = _sync_prompt(_require_input(data))
    params = _parameters(data)
    width, height, seed, _ = _validate_common(params)
    return _generation(prompt, params.get("negative_prompt"), seed, width, height)


def parse_async_request(headers: Message, body: bytes) -> tuple[str, Generation, bool]:
    """Validate an async submit (reference section 2); return (model, generation, prompt_extend)."""
    if (headers.get("X-DashScope-Async") or "").strip().lower() != "enable":
        raise ApiError(403, "AccessDenied", MSG_SYNC_NOT_SUPPORTED)
    data = _parse_json_object(body)
    model = _require_model(data)
    if model not in ASYNC_MODELS:
        raise _bad(f"Model {model} does not support asynchronous calls; use the synchronous API.")
    inp = _require_input(data)
    params = _parameters(data)
    prompt = inp.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _bad("input.prompt is required and must be a non-empty string.")
    negative = inp.get("negative_prompt", params.get("negative_prompt"))
    if negative is not None and not isinstance(negative, str):
        raise _bad("The negative_prompt parameter must be a string.")
    width, height, seed, prompt_extend = _validate_common(params)
    return model, _generation(prompt, negative, seed, width, height), prompt_extend


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def _parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _bad("The request body must be a JSON object.")
    return data


def _require_model(data: dict[str, Any]) -> str:
    """Any known model passes here; whether it serves the async API is the caller's check."""
    model = data.get("model")
    if model is None or model == "":
        raise ApiError(400, "BadRequest.EmptyModel", 'Required parameter "model" missing from request.')
    if not isinstance(model, str):
        raise _bad('Parameter "model" must be a string.')
    if model not in SYNC_MODELS:
        raise _bad("Model not exist.")
    return model


def _require_input(data: dict[str, Any]) -> dict[str, Any]:
    inp = data.get("input")
    if inp is None:
        raise ApiError(400, "BadRequest.EmptyInput", 'Required parameter "input" missing from request.')
    if not isinstance(inp, dict):
        raise _bad('Parameter "input" must be an object.')
    return inp


def _parameters(data: dict[str, Any]) -> dict[str, Any]:
    params = data.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise _bad('Parameter "parameters" must be an object.')
    return params


def _validate_common(params: dict[str, Any]) -> tuple[int, int, int | None, bool]:
    """Check size, n, seed and flags; return (width, height, seed, prompt_extend)."""
    size = params.get("size", DEFAULT_SIZE)
    if size not in SIZES:
        raise _bad(f"The size does not match the allowed size {','.join(SIZES)}.")
    width, height = (int(v) for v in size.split("*"))
    n = params.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or n != 1:
        raise _bad("The n parameter must be 1 for this model.")
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX):
        raise _bad(f"The seed must be an integer in [0, {SEED_MAX}].")
    for flag in ("prompt_extend", "watermark"):
        if flag in params and not isinstance(params[flag], bool):
            raise _bad(f"The {flag} parameter must be a boolean.")
    neg = params.get("negative_prompt")
    if neg is not None and not isinstance(neg, str):
        raise _bad("The negative_prompt parameter must be a string.")
    return width, height, seed, bool(params.get("prompt_extend", True))


def _sync_prompt(inp: dict[str, Any]) -> str:
    messages = inp.get("messages")
    if not isinstance(messages, list) or len(messages) != 1:
        raise _bad("input.messages must contain exactly one message.")
    msg = messages[0]
    if not isinstance(msg, dict) or msg.get("role") != "user":
        raise _bad("The role of the message must be user.")
    content = msg.get("content")
    if not isinstance(content, list):
        raise _bad("The content of the message must be an array.")
    texts = [c for c in content if isinstance(c, dict) and "text" in c]
    if len(texts) != 1 or len(content) != 1:
        raise _bad("The content of the message must contain exactly one text item.")
    text = texts[0]["text"]
    if not isinstance(text, str) or not text.strip():
        raise _bad("The text of the message must be a non-empty string.")
    return text


def _generation(prompt: str, negative: str | None, seed: int | None, width: int, height: int) -> Generation:
    """Over-long prompts are truncated, not rejected; a missing seed is drawn at random (as upstream)."""
    return Generation(
        prompt=prompt[:PROMPT_MAX],
        negative_prompt=(negative or "")[:NEGATIVE_PROMPT_MAX],
        seed=seed if seed is not None else random.randint(0, SEED_MAX),
        width=width,
        height=height,
    )


# -- response bodies --------------------------------------------------------------------------


def sync_body(request_id: str, url: str, gen: Generation) -> dict[str, Any]:
    """A successful synchronous generation: one choice holding the result image URL."""
    return {
        "output": {
            "choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": [{"image": url}]}}],
            "task_metric": {"TOTAL": 1, "SUCCEEDED": 1, "FAILED": 0},
        },
        "usage": {"width": gen.width, "height": gen.height, "image_count": 1},
        "request_id": request_id,
    }


def submit_body(task_id: str) -> dict[str, Any]:
    """An accepted async submit: the new task, always PENDING."""
    return {"output": {"task_status": "PENDING", "task_id": task_id}, "request_id": str(uuid.uuid4())}


def task_body(output: dict[str, Any]) -> dict[str, Any]:
    """A task query answer around the task's ``output``; usage only once it has succeeded."""
    payload: dict[str, Any] = {"request_id": str(uuid.uuid4()), "output": output}
    if output["task_status"] == "SUCCEEDED":
        payload["usage"] = {"image_count": 1}
    return payload


def cancel_body() -> dict[str, Any]:
    """A successful cancel carries nothing but its request id."""
    return {"request_id": str(uuid.uuid4())}
