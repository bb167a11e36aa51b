"""Shared fixtures: each stack's plan, evaluated once per session under Pulumi's mocks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.model.settings import STACKS_DIR
from infra.plan import Plan, run_plan

STACKS = ("local", "staging", "production")
DEPLOYED = ("staging", "production")


@pytest.fixture(scope="session")
def plan_of() -> Callable[[str], Plan]:
    cache: dict[str, Plan] = {}

    def get(stack: str) -> Plan:
        if stack not in cache:
            cache[stack] = run_plan(stack)
        return cache[stack]

    return get


def stack_data(environment: str) -> dict[str, Any]:
    return yaml.safe_load((STACKS_DIR / f"{environment}.yaml").read_text())


@pytest.fixture
def write_stack(tmp_path: Path) -> Callable[..., Path]:
    """Write a variant of a committed stack file: `write_stack("staging", lambda d: ...)`."""

    def write(environment: str, mutate: Callable[[dict[str, Any]], object]) -> Path:
        data = stack_data(environment)
        mutate(data)
        path = tmp_path / f"{environment}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write
