"""`.ci/stack-ready`: deploy, preview and drift jobs skip with a notice until a stack's first-time setup is
done, and fail with a clear error when it is half done or a token is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .standins import Route, StandIns, run_step

TOKENS = {"PULUMI_ACCESS_TOKEN": "pul-test", "CLOUDFLARE_API_TOKEN": "cf-test"}


@pytest.fixture
def stand_ins(tmp_path: Path) -> StandIns:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return StandIns(bin_dir)


def check(stand_ins: StandIns, tmp_path: Path, tokens: dict[str, str], stack: str = "staging"):
    output = tmp_path / "github_output"
    output.touch()
    result = run_step([".ci/stack-ready", stack], {"GITHUB_OUTPUT": str(output), **tokens}, stand_ins)
    return result, output.read_text()


def test_without_tokens_the_job_skips_with_a_notice_and_never_calls_pulumi(stand_ins, tmp_path) -> None:
    stand_ins.add("pulumi")
    result, output = check(stand_ins, tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert output == "ready=false\n"
    assert result.stdout == (
        "::notice title=stack 'staging' is not set up for CI::skipped: this job's GitHub environment has neither "
        'PULUMI_ACCESS_TOKEN nor CLOUDFLARE_API_TOKEN yet (docs/runbook.md, "First-time setup of a stack" and '
        '"CI environments")\n'
    )
    assert stand_ins.calls("pulumi") == []


@pytest.mark.parametrize("present", sorted(TOKENS))
def test_one_token_without_the_other_is_an_error_naming_the_missing_one(stand_ins, tmp_path, present: str) -> None:
    stand_ins.add("pulumi")
    result, output = check(stand_ins, tmp_path, {present: TOKENS[present]})
    missing = next(name for name in TOKENS if name != present)
    assert result.returncode == 1
    assert output == ""
    assert f"check stack 'staging' failed: this job's GitHub environment has no {missing}; add it" in result.stdout


def test_a_token_pulumi_refuses_is_an_error_with_pulumi_s_reason(stand_ins, tmp_path) -> None:
    stand_ins.add("pulumi", Route(r"stack ls --json", exit=255,
                                  stderr="error: problem logging in: 401 Unauthorized: invalid access token\n"))
    result, output = check(stand_ins, tmp_path, TOKENS)
    assert result.returncode == 1
    assert output == ""
    assert ("list Pulumi stacks failed: error: problem logging in: 401 Unauthorized: invalid access token; "
            "check PULUMI_ACCESS_TOKEN in this job's GitHub environment") in result.stdout


def test_output_that_is_not_a_stack_list_is_an_error(stand_ins, tmp_path) -> None:
    stand_ins.add("pulumi", Route(r"stack ls --json", stdout="Please choose a stack\n"))
    result, output = check(stand_ins, tmp_path, TOKENS)
    assert result.returncode == 1
    assert output == ""
    assert "`pulumi stack ls --json` printed no JSON list: Please choose a stack\n" in result.stdout


def test_a_stack_not_created_yet_skips_with_a_notice(stand_ins, tmp_path) -> None:
    stand_ins.add("pulumi", Route(r"stack ls --json", stdout=json.dumps([{"name": "acme/production"}])))
    result, output = check(stand_ins, tmp_path, TOKENS)
    assert result.returncode == 0, result.stderr
    assert output == "ready=false\n"
    assert ("::notice title=stack 'staging' does not exist yet::skipped: no Pulumi stack 'staging' in this project; "
            "create it with `pulumi stack init staging`") in result.stdout


@pytest.mark.parametrize("listed", ["staging", "acme/staging"])
def test_an_existing_stack_is_ready(stand_ins, tmp_path, listed: str) -> None:
    stacks = [{"name": "acme/production"}, {"name": listed, "current": False}]
    stand_ins.add("pulumi", Route(r"stack ls --json", stdout=json.dumps(stacks)))
    result, output = check(stand_ins, tmp_path, TOKENS)
    assert result.returncode == 0, result.stderr
    assert output == "ready=true\n"
    assert [c["argv"] for c in stand_ins.calls("pulumi")] == [["stack", "ls", "--json"]]
