"""The pipelines in .github/ do what docs/runbook.md says: review on pull requests without deploy credentials,
a staged rollout on main, a daily drift check, and every action pinned with the least permissions."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.model.settings import REPO_ROOT, known_stacks

GITHUB_DIR = REPO_ROOT / ".github"
WORKFLOW_FILES = sorted((GITHUB_DIR / "workflows").glob("*.yml"))
SETUP_ACTION = GITHUB_DIR / "actions" / "setup" / "action.yml"
ROLLOUT = ["staging", "production"]
DEPLOY_SECRETS = {"PULUMI_ACCESS_TOKEN", "CLOUDFLARE_API_TOKEN"}
READ_ONLY_SECRETS = {"READ_ONLY_PULUMI_ACCESS_TOKEN", "READ_ONLY_CLOUDFLARE_API_TOKEN"}
# The drift check reads the D1 migration level, and D1's query endpoint takes D1 Edit even for a SELECT: its
# Cloudflare token lives in an environment of its own that no pull request reaches.
DRIFT_SECRETS = {"READ_ONLY_PULUMI_ACCESS_TOKEN", "DRIFT_CLOUDFLARE_API_TOKEN"}


def load(path: Path) -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1); put it back under its name.
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


WORKFLOWS = {path.stem: load(path) for path in WORKFLOW_FILES}


def jobs(workflow: str) -> dict[str, dict[str, Any]]:
    return WORKFLOWS[workflow]["jobs"]


def steps(workflow: str, job: str) -> list[dict[str, Any]]:
    return jobs(workflow)[job].get("steps", [])


def script(workflow: str, job: str) -> str:
    return "\n".join(step["run"] for step in steps(workflow, job) if "run" in step)


def secrets_of(node: Any) -> set[str]:
    return set(re.findall(r"secrets\.([A-Z_]+)", yaml.safe_dump(node)))


def test_the_workflows_are_the_ones_the_runbook_describes() -> None:
    assert sorted(WORKFLOWS) == ["deploy", "drift", "review", "review-comment", "test"]
    runbook = (REPO_ROOT / "docs" / "runbook.md").read_text()
    for path in WORKFLOW_FILES:
        assert f".github/workflows/{path.name}" in runbook, path.name


def test_rollout_order_lists_every_deployed_stack() -> None:
    assert sorted(ROLLOUT) == [stack for stack in known_stacks() if stack != "local"]
    for stack in ROLLOUT:
        assert (REPO_ROOT / f"Pulumi.{stack}.yaml").exists()
    for workflow, job in (("review", "preview"), ("drift", "drift")):
        assert jobs(workflow)[job]["strategy"]["matrix"]["stack"] == ROLLOUT, workflow
    assert "python -m infra review staging production" in script("review", "plan")


@pytest.mark.parametrize("path", [*WORKFLOW_FILES, SETUP_ACTION], ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment(path: Path) -> None:
    for line in path.read_text().splitlines():
        match = re.search(r"uses: (\S+)", line)
        if match is None or match.group(1).startswith("./"):
            continue
        assert re.fullmatch(r"\s*(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), line


def test_one_action_is_pinned_to_one_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in [*WORKFLOW_FILES, SETUP_ACTION]:
        for action, pin in re.findall(r"uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40} # v[\d.]+)", path.read_text()):
            pins.setdefault(action, set()).add(pin)
    assert pins, "the pins this test compares exist"
    assert {action: len(found) for action, found in pins.items() if len(found) > 1} == {}


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS))
def test_no_permission_unless_a_job_asks_for_it(workflow: str) -> None:
    assert WORKFLOWS[workflow]["permissions"] == {}
    for name, job in jobs(workflow).items():
        assert "permissions" in job, f"{workflow}.{name} must say which permissions it needs"
        assert "write-all" not in str(job["permissions"]) and "read-all" not in str(job["permissions"])


def test_only_these_jobs_may_write_and_only_what_they_post() -> None:
    writers = {(workflow, name): {k: v for k, v in job["permissions"].items() if v == "write"}
               for workflow in WORKFLOWS for name, job in jobs(workflow).items()}
    assert {key: value for key, value in writers.items() if value} == {
        ("review-comment", "post"): {"pull-requests": "write"},
        ("drift", "drift"): {"issues": "write"},
    }


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS))
def test_every_checkout_leaves_no_credentials_behind(workflow: str) -> None:
    for name in jobs(workflow):
        for step in steps(workflow, name):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{workflow}.{name}"


def test_pull_requests_and_main_run_the_readme_test_command() -> None:
    readme_opening = (REPO_ROOT / "README.md").read_text()[:300]
    assert "make dev" in readme_opening and "make test" in readme_opening
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
    assert "bash .ci/run" in script("test", "test")
    assert WORKFLOWS["test"]["on"] == {"workflow_call": None}
    for workflow in ("review", "deploy"):
        assert jobs(workflow)["test"]["uses"] == "./.github/workflows/test.yml", workflow


def test_pull_request_code_never_sees_a_deploy_credential() -> None:
    review = WORKFLOWS["review"]
    assert set(review["on"]) == {"pull_request"}, "pull_request_target would hand PR code the base's secrets"
    assert secrets_of(review) <= READ_ONLY_SECRETS
    for name, job in review["jobs"].items():
        if secrets_of(job):
            assert (name, job["environment"]) == ("preview", "read-only")
    preview = review["jobs"]["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository", "not on forks"
    assert "pulumi preview --stack \"$STACK\"" in script("review", "preview")
    assert "pulumi up" not in yaml.safe_dump(review)


def test_the_offline_plan_is_rendered_without_any_secret_and_handed_over_as_an_artifact() -> None:
    plan = jobs("review")["plan"]
    assert "environment" not in plan and secrets_of(plan) == set()
    (upload,) = [s for s in plan["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert upload["with"]["name"] == "review-comment" and upload["with"]["path"] == "build/review/"
    assert upload["if"] == "${{ !cancelled() }}", "a failing plan's error still reaches the comment"
    assert "build/review/pr-number" in script("review", "plan")


def test_the_comment_is_posted_from_the_base_repository_without_running_pull_request_code() -> None:
    workflow = WORKFLOWS["review-comment"]
    assert workflow["on"] == {"workflow_run": {"workflows": ["review"], "types": ["completed"]}}
    post = workflow["jobs"]["post"]
    assert post["permissions"] == {"actions": "read", "pull-requests": "write"}
    uses = [str(step.get("uses", "")) for step in post["steps"]]
    assert not any(u.startswith(("actions/checkout@", "./")) for u in uses), "no code of the PR may be checked out"
    (download,) = [s for s in post["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@")]
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert secrets_of(workflow) == set()
    assert "${{" not in script("review-comment", "post"), "the artifact's values reach the script as data only"


def test_main_rolls_out_staging_then_production_each_step_needing_the_one_before() -> None:
    deploy = WORKFLOWS["deploy"]
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    assert deploy["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    chain = ["test", "staging-up", "staging-smoke", "production-up", "production-smoke"]
    assert list(deploy["jobs"]) == chain
    for before, job in pairwise(chain):
        assert deploy["jobs"][job]["needs"] == before, job


@pytest.mark.parametrize("stack", ROLLOUT)
def test_each_stack_is_deployed_in_its_own_environment_then_smoke_tested(stack: str) -> None:
    up, smoke = jobs("deploy")[f"{stack}-up"], jobs("deploy")[f"{stack}-smoke"]
    assert up["environment"] == stack and up["env"]["STACK"] == stack
    assert secrets_of(up) == DEPLOY_SECRETS
    ready, apply = [s for s in up["steps"] if "run" in s]
    assert ready["run"] == '.ci/stack-ready "$STACK"' and ready["id"] == "ready"
    assert apply["if"] == "steps.ready.outputs.ready == 'true'"
    assert apply["run"] == 'pulumi up --stack "$STACK" --yes --non-interactive --diff'
    assert up["outputs"]["deployed"] == "${{ steps.ready.outputs.ready }}"
    assert smoke["if"] == f"needs.{stack}-up.outputs.deployed == 'true'", "a skipped stack is not smoke tested"
    assert script("deploy", f"{stack}-smoke") == f".venv/bin/python -m infra smoke --stack {stack}"
    assert "environment" not in smoke and secrets_of(smoke) == set()


def test_deploy_credentials_appear_only_in_the_deploy_jobs() -> None:
    for workflow in WORKFLOWS:
        for name, job in jobs(workflow).items():
            if secrets_of(job) & DEPLOY_SECRETS:
                assert (workflow, name) in {("deploy", "staging-up"), ("deploy", "production-up")}, name


def test_drift_runs_daily_per_stack_with_its_own_tokens_and_keeps_an_issue() -> None:
    drift = WORKFLOWS["drift"]
    assert set(drift["on"]) == {"schedule", "workflow_dispatch"}
    job = drift["jobs"]["drift"]
    assert job["environment"] == "drift" and secrets_of(job) == DRIFT_SECRETS
    others = {name for workflow in WORKFLOWS if workflow != "drift" for name in secrets_of(WORKFLOWS[workflow])}
    assert "DRIFT_CLOUDFLARE_API_TOKEN" not in others, "the drift token (it may write to D1) reaches no other job"
    assert job["strategy"]["fail-fast"] is False, "one stack's drift must not hide the other's"
    run = script("drift", "drift")
    assert '.venv/bin/python -m infra drift --stack "$STACK"' in run
    assert '.ci/drift-issue "$STACK" "$RUNNER_TEMP/drift.txt" "$CODE"' in run
    (verdict,) = [s for s in job["steps"] if s.get("name") == "Verdict"]
    assert "exit 1" in verdict["run"] and verdict["if"] == "steps.ready.outputs.ready == 'true'"


def test_the_pulumi_cli_is_the_version_of_the_pinned_sdk() -> None:
    action = load(SETUP_ACTION)
    (version_step,) = [s for s in action["runs"]["steps"] if s.get("id") == "pulumi-version"]
    assert version_step["run"] == 'echo "version=$(sed -n \'s/^pulumi==//p\' requirements.txt)" >>"$GITHUB_OUTPUT"'
    (cli,) = [s for s in action["runs"]["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert cli["with"] == {"pulumi-version": "${{ steps.pulumi-version.outputs.version }}"}
    assert "command" not in cli["with"], "install only: the jobs run the CLI themselves"
    assert re.search(r"^pulumi==\d+\.\d+\.\d+$", (REPO_ROOT / "requirements.txt").read_text(), re.MULTILINE)
