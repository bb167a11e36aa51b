"""`.ci/drift-issue`: one GitHub issue per stack follows the daily drift check: opened or updated with the
report on drift, closed by the first clean check, and only ever an issue the workflow itself opened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .standins import Route, StandIns, run_step

REPO = "acme/qwen-image"
RUN_URL = f"https://github.com/{REPO}/actions/runs/4242"
ISSUES = rf"api --paginate repos/{REPO}/issues\?state=open&per_page=100"
REPORT = "backend-script: bindings differ\n  MAX_IMAGE_BYTES: code 20000000, Cloudflare 1000\n"


def issue(number: int, title: str, login: str = "github-actions[bot]", **extra: object) -> dict:
    return {"number": number, "title": title, "user": {"login": login}, **extra}


@pytest.fixture
def stand_ins(tmp_path: Path) -> StandIns:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return StandIns(bin_dir)


def run(stand_ins: StandIns, tmp_path: Path, code: str, report: str = REPORT, token: str = "gh-test"):
    path = tmp_path / "drift.txt"
    path.write_text(report)
    env = {"GH_TOKEN": token, "GITHUB_REPOSITORY": REPO, "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_RUN_ID": "4242"}
    return run_step([".ci/drift-issue", "staging", str(path), code], env, stand_ins)


def listing(*pages: list[dict]) -> Route:
    """`gh api --paginate` prints one JSON array per page, one after the other."""
    return Route(ISSUES, stdout="".join(json.dumps(page) for page in pages))


def writes(stand_ins: StandIns) -> list[dict]:
    return [c for c in stand_ins.calls("gh") if c["argv"][0] == "issue"]


def test_drift_opens_an_issue_with_the_report(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", listing([]), Route(r"issue create .*", stdout=f"https://github.com/{REPO}/issues/12\n"))
    result = run(stand_ins, tmp_path, "1")
    assert result.returncode == 0, result.stderr
    (create,) = writes(stand_ins)
    assert create["argv"][:6] == ["issue", "create", "--repo", REPO, "--title", "Drift in stack 'staging'"]
    assert create["body"] == (
        f"`infra drift --stack staging` found drift ({RUN_URL}). What each kind means and what to run:\n"
        'docs/runbook.md, "Drift". This issue is updated by every daily check and closed by the first clean one.\n'
        f"\n````text\n{REPORT}\n````\n"
    )


def test_drift_again_replaces_the_report_of_the_open_issue(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", listing([issue(3, "Something else")], [issue(7, "Drift in stack 'staging'")]),
                  Route(r"issue edit 7 .*"))
    result = run(stand_ins, tmp_path, "1")
    assert result.returncode == 0, result.stderr
    (edit,) = writes(stand_ins)
    assert edit["argv"][:4] == ["issue", "edit", "7", "--repo"]
    assert REPORT in edit["body"]
    assert "updated #7 with the latest drift report of stack 'staging'" in result.stdout


def test_an_issue_or_pull_request_someone_else_titled_the_same_is_left_alone(stand_ins, tmp_path) -> None:
    title = "Drift in stack 'staging'"
    stand_ins.add("gh", listing([issue(3, title, login="alice"), issue(4, title, pull_request={"url": "…"})]),
                  Route(r"issue create .*"))
    result = run(stand_ins, tmp_path, "1")
    assert result.returncode == 0, result.stderr
    assert [c["argv"][1] for c in writes(stand_ins)] == ["create"]


def test_a_clean_check_closes_the_open_issue(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", listing([issue(7, "Drift in stack 'staging'")]), Route(r"issue close 7 .*"))
    result = run(stand_ins, tmp_path, "0", report="no drift\n")
    assert result.returncode == 0, result.stderr
    (close,) = writes(stand_ins)
    assert close["argv"] == ["issue", "close", "7", "--repo", REPO, "--comment",
                             f"No drift in stack 'staging' as of {RUN_URL}."]


def test_a_clean_check_without_an_issue_writes_nothing(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", listing([issue(3, "Drift in stack 'production'")]))
    result = run(stand_ins, tmp_path, "0", report="no drift\n")
    assert result.returncode == 0, result.stderr
    assert writes(stand_ins) == []


def test_a_long_report_is_cut_to_fit_an_issue_body(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", listing([]), Route(r"issue create .*"))
    result = run(stand_ins, tmp_path, "1", report="x" * 100 + "\n" + "y" * 200_000)
    assert result.returncode == 0, result.stderr
    body = writes(stand_ins)[0]["body"]
    assert len(body) < 65_536
    assert "\n… cut: the whole report is in the run log\n````\n" in body


def test_without_a_token_it_says_which_and_how_to_give_it(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", listing([]))
    result = run(stand_ins, tmp_path, "1", token="")
    assert result.returncode == 1
    assert ("update drift issue 'staging' failed: GH_TOKEN is empty; give the step GH_TOKEN: ${{ github.token }} "
            "and the job permissions issues: write") in result.stdout
    assert stand_ins.calls("gh") == []


def test_a_could_not_check_code_is_not_a_verdict(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", listing([issue(7, "Drift in stack 'staging'")]))
    result = run(stand_ins, tmp_path, "2")
    assert result.returncode == 1
    assert "update drift issue 'staging' failed: exit code 2 is not a drift verdict (0 or 1)" in result.stdout
    assert stand_ins.calls("gh") == []
