"""The `review comment` workflow's posting step, run as GitHub runs it (bash -eo pipefail) against a stand-in
`gh`: the one comment is created or updated on the pull request the review ran for, and an artifact that
lies about its pull request, or is too large, posts nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from infra.model.settings import REPO_ROOT

from .standins import Route, StandIns, run_step

REPO = "acme/qwen-image"
HEAD = "4f0c1b2a" * 5
MARKER = "<!-- infra-review: written by .github/workflows/review-comment.yml -->"
COMMENT = "### Offline plan\n\n<details><summary>plan of staging: 14 resources</summary>…</details>\n"
WORKFLOW = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "review-comment.yml").read_text())
(POST_STEP,) = [s for s in WORKFLOW["jobs"]["post"]["steps"] if "run" in s]


def comment(id_: int, body: str, login: str = "github-actions[bot]") -> dict:
    return {"id": id_, "body": body, "user": {"login": login}}


@pytest.fixture
def stand_ins(tmp_path: Path) -> StandIns:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return StandIns(bin_dir)


def post(stand_ins: StandIns, tmp_path: Path, pr_number: str = "5", text: str = COMMENT,
         prepare: Callable[[], None] = lambda: None):
    review = tmp_path / "review"
    review.mkdir()
    (review / "pr-number").write_text(pr_number + "\n")
    (review / "comment.md").write_text(text)
    prepare()
    env = {"GH_TOKEN": "gh-test", "HEAD_SHA": HEAD, "REVIEW": str(review), "RUNNER_TEMP": str(tmp_path),
           "GITHUB_REPOSITORY": REPO}
    return run_step(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", POST_STEP["run"]], env, stand_ins)


def pull(head: str = HEAD) -> Route:
    return Route(rf"api repos/{REPO}/pulls/5", stdout=json.dumps({"number": 5, "head": {"sha": head}}))


def comments(*items: dict) -> Route:
    return Route(rf"api --paginate repos/{REPO}/issues/5/comments\?per_page=100", stdout=json.dumps(list(items)))


def writes(stand_ins: StandIns) -> list[dict]:
    return [c for c in stand_ins.calls("gh") if "--method" in c["argv"]]


def test_the_first_review_creates_the_comment_with_its_marker(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", pull(), comments(comment(1, "looks good", login="alice"), comment(2, "an old bot note")),
                  Route(rf"api --method POST repos/{REPO}/issues/5/comments -F body=@.*"))
    result = post(stand_ins, tmp_path)
    assert result.returncode == 0, result.stderr
    (created,) = writes(stand_ins)
    assert created["body"] == f"{MARKER}\n{COMMENT}"
    assert "posted the review comment on #5" in result.stdout


def test_a_later_review_updates_the_same_comment(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", pull(), comments(comment(1, f"{MARKER}\nold plan", login="alice"),
                                         comment(99, f"{MARKER}\nold plan")),
                  Route(rf"api --method PATCH repos/{REPO}/issues/comments/99 -F body=@.*"))
    result = post(stand_ins, tmp_path)
    assert result.returncode == 0, result.stderr
    (updated,) = writes(stand_ins)
    assert updated["argv"][3] == f"repos/{REPO}/issues/comments/99", "a person's comment with the marker is not ours"
    assert updated["body"] == f"{MARKER}\n{COMMENT}"


def test_a_pull_request_that_moved_on_gets_nothing_from_an_older_review(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", pull(head="9" * 40))
    result = post(stand_ins, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"::notice::not posted: #5 is at {'9' * 40} and this review ran for {HEAD}" in result.stdout
    assert writes(stand_ins) == []


@pytest.mark.parametrize("claimed", ["5; rm -rf /", "../../orgs/acme", "0", ""])
def test_an_artifact_that_names_no_pull_request_is_refused(stand_ins, tmp_path, claimed: str) -> None:
    stand_ins.add("gh")
    result = post(stand_ins, tmp_path, pr_number=claimed)
    assert result.returncode == 1
    assert "::error::post review comment failed: the artifact's pr-number is not a pull request number" in result.stdout
    assert stand_ins.calls("gh") == []


def test_an_artifact_larger_than_any_comment_is_refused(stand_ins, tmp_path) -> None:
    stand_ins.add("gh", pull(), comments())
    result = post(stand_ins, tmp_path, text="x" * 300_000)
    assert result.returncode == 1
    assert "post review comment on #5 failed: comment.md is larger than any comment GitHub accepts" in result.stdout
    assert stand_ins.calls("gh") == []


@pytest.mark.parametrize("name", ["comment.md", "pr-number"])
def test_an_artifact_file_that_is_a_link_is_refused(stand_ins, tmp_path, name: str) -> None:
    """A link could make the step post a file of the runner (its environment holds the token)."""
    stand_ins.add("gh", pull(), comments())
    secret = tmp_path / "runner-secret"
    secret.write_text("5")
    review = tmp_path / "review"

    def link(path: Path) -> None:
        path.unlink()
        path.symlink_to(secret)

    result = post(stand_ins, tmp_path, prepare=lambda: link(review / name))
    assert result.returncode == 1
    assert f"::error::post review comment failed: the artifact's {name} is not a regular file" in result.stdout
    assert stand_ins.calls("gh") == []
