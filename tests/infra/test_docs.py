"""The documentation names what the code has."""

from __future__ import annotations

import typing

from pydantic import BaseModel

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
