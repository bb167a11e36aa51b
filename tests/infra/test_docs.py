"""The documentation names what the code has."""

from __future__ import annotations

import re
import typing

from pydantic import BaseModel

from infra.model.contract import (
    ASYNC_MODELS,
    ASYNC_RULE,
    ERROR_STATUS,
    FORWARDED_HEADERS,
    HEADERS,
    LIMITS,
    MEDIA_KEY_PREFIX,
    MODELS,
    SIZES,
    EventType,
    RunStatus,
)
from infra.model.settings import REPO_ROOT, StackSettings


def field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of every leaf field; list items are written `name[].field`."""
    paths = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        is_list = typing.get_origin(annotation) is list
        candidates = typing.get_args(annotation) or (annotation,)
        nested = next((t for t in candidates if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if nested is None:
            paths.append(prefix + name)
        else:
            paths += field_paths(nested, f"{prefix}{name}{'[]' if is_list else ''}.")
    return paths


def test_field_paths_reach_list_items_and_nested_models() -> None:
    paths = field_paths(StackSettings)
    assert "media.lifecycle.rules[].expire_after_days" in paths
    assert "queues.dead_letter.max_retries" in paths
    assert "upstream.allowed_result_hosts" in paths


def test_settings_reference_lists_every_field() -> None:
    text = (REPO_ROOT / "docs" / "settings.md").read_text()
    missing = []
    for path in field_paths(StackSettings):
        # The two consumer blocks share one set of rows, written `…field`.
        shared = path.startswith(("queues.jobs.", "queues.dead_letter."))
        written = f"`…{path.rsplit('.', 1)[1]}`" if shared else f"`{path}`"
        if written not in text:
            missing.append(path)
    assert missing == [], f"docs/settings.md does not describe: {missing}"


def test_the_api_reference_lists_every_error_code_with_its_status() -> None:
    text = (REPO_ROOT / "docs" / "api.md").read_text()
    rows = [(code, int(status)) for status, code in re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", text, re.MULTILINE)]
    assert sorted(rows) == sorted((str(code), status) for code, status in ERROR_STATUS.items())


def test_the_api_reference_names_every_run_status_and_event_type() -> None:
    text = (REPO_ROOT / "docs" / "api.md").read_text()
    assert [s for s in RunStatus if f"`{s}`" not in text] == []
    assert [e for e in EventType if f'"{e}"' not in text and f"`{e}`" not in text] == []


def test_the_settings_reference_names_every_model_and_the_ones_that_serve_async() -> None:
    row = next(line for line in (REPO_ROOT / "docs" / "settings.md").read_text().splitlines()
               if line.startswith("| `upstream.model` |"))
    assert [m for m in MODELS if f"`{m}`" not in row] == []
    assert f"only {' and '.join(f'`{m}`' for m in ASYNC_MODELS)} are accepted" in row


def test_the_api_reference_states_the_contract_limits_and_sizes() -> None:
    text = (REPO_ROOT / "docs" / "api.md").read_text()
    dash = "\N{EN DASH}"  # the docs write ranges with it
    sizes = ", ".join(f"`{size}`" + (" (provider default)" if i == 0 else "") for i, size in enumerate(SIZES))
    stated = [
        f"at most {LIMITS.body_bytes // 1024} KiB",
        f"| `prompt` | string | required, 1{dash}{LIMITS.prompt_chars} characters",
        f"| `negative_prompt` | string | optional, at most {LIMITS.negative_prompt_chars} characters |",
        f"| `size` | string | optional, one of {sizes} |",
        f"| `seed` | integer | optional, 0{dash}{LIMITS.seed_max} |",
        f"`Idempotency-Key` (optional): {LIMITS.idempotency_key_min_chars}{dash}{LIMITS.idempotency_key_chars} "
        "printable ASCII characters",
        f"{LIMITS.upstream_body_bytes // 1024 // 1024} MiB (`LIMITS.upstream_body_bytes`",
        f"| `limit` | 1{dash}{LIMITS.list_max}, default {LIMITS.list_default} |",
        f"Objects are stored at `{MEDIA_KEY_PREFIX}<yyyy>/<mm>/<dd>/<run_id>/<index>.png`",
    ]
    assert [line for line in stated if line not in text] == []


def test_the_runbook_states_the_async_rule_with_the_contracts_thresholds() -> None:
    text = (REPO_ROOT / "docs" / "runbook.md").read_text()
    section = text[text.index("## Deciding on async"):text.index("## Cost per stack")]
    stated = dict(re.findall(r"^\| `(\w+)` \| ([\d.,]+ ?%?) \|", section, re.MULTILINE))
    expected = {name: (f"{value:,}" if isinstance(value, int) else f"{value * 100:g} %")
                for name, value in ASYNC_RULE.__dict__.items()}
    assert stated == expected


def test_the_api_reference_names_every_header_the_frontend_passes_on() -> None:
    text = (REPO_ROOT / "docs" / "api.md").read_text()
    forwarding = text[text.index("only the request headers"):text.index("(`FORWARDED_HEADERS`")]
    named = re.findall(r"`([A-Za-z-]+)`", forwarding)
    assert sorted(name.lower() for name in named) == sorted(FORWARDED_HEADERS)
    assert f"adds `{HEADERS.client_address}`" in text
