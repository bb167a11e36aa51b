"""Shared fixtures: each stack's plan, evaluated once per session under Pulumi's mocks, the CLI over those plans,
and a fake Cloudflare API holding the account and zone of the committed stacks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.cli import main
from infra.cli import plan as plan_command
from infra.model.settings import STACKS_DIR
from infra.plan import Plan, run_plan
from tests.fakes.cloudflare_api import FakeCloudflare

STACKS = ("local", "staging", "production")
DEPLOYED = ("staging", "production")
# The ids and zone name the committed stack files carry (Cloudflare's documentation examples).
ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353"
ZONE_ID = "372e67954025e0ba6aaa6d586b9e0b59"
ZONE_NAME = "example.com"
API_TOKEN = "test-token-0123456789abcdefghijklmnopqrstuv"


@pytest.fixture
def cloudflare_api(tmp_path: Path) -> Iterator[FakeCloudflare]:
    """A fake Cloudflare API with the stacks' account and zone, and `API_TOKEN` granting every permission on both."""
    (tmp_path / "cloudflare").mkdir()
    with FakeCloudflare(tmp_path / "cloudflare") as api:
        api.add_account(ACCOUNT_ID)
        api.add_zone(ZONE_ID, ZONE_NAME, ACCOUNT_ID)
        api.add_token(API_TOKEN, accounts=[ACCOUNT_ID], zones=[ZONE_ID])
        yield api


@pytest.fixture
def cloudflare_env(cloudflare_api: FakeCloudflare, monkeypatch: pytest.MonkeyPatch) -> FakeCloudflare:
    """The fake API as every client finds it: `CLOUDFLARE_BASE_URL` and `CLOUDFLARE_API_TOKEN` in the environment."""
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", cloudflare_api.base_url)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", API_TOKEN)
    return cloudflare_api


@pytest.fixture(scope="session")
def plan_of() -> Callable[[str], Plan]:
    cache: dict[str, Plan] = {}

    def get(stack: str) -> Plan:
        if stack not in cache:
            cache[stack] = run_plan(stack)
        return cache[stack]

    return get


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def plan_cli(plan_of: Callable[[str], Plan], monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """`infra <args>` in this process: the real parser, commands and output, with `plan`, `diff` and
    `review` evaluating each stack through the session's `plan_of` instead of once more per command."""
    monkeypatch.setattr(plan_command, "run_plan", plan_of)

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refusing the arguments
            code = exc.code if isinstance(exc.code, int) else 2
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


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
