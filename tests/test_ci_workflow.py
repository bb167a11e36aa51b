"""The CI workflow covers every deployed stack the way docs/runbook.md says."""

from __future__ import annotations

import yaml

from infra.model.settings import REPO_ROOT, known_stacks

WORKFLOW = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "infra.yml").read_text())
DEPLOYED = [stack for stack in known_stacks() if stack != "local"]


def _pulumi_steps(job: str) -> list[dict]:
    return [s for s in WORKFLOW["jobs"][job]["steps"] if str(s.get("uses", "")).startswith("pulumi/actions")]


def test_every_deployed_stack_has_a_pulumi_stack_file_and_a_matrix_entry() -> None:
    for job in ("review", "deploy", "drift"):
        assert WORKFLOW["jobs"][job]["strategy"]["matrix"]["stack"] == ["staging", "production"], job
    assert sorted(DEPLOYED) == ["production", "staging"]
    for stack in DEPLOYED:
        assert (REPO_ROOT / f"Pulumi.{stack}.yaml").exists()


def test_review_shows_the_offline_plan_and_a_preview() -> None:
    run = "\n".join(s.get("run", "") for s in WORKFLOW["jobs"]["review"]["steps"])
    assert "python -m infra plan --stack ${{ matrix.stack }}" in run
    (preview,) = _pulumi_steps("review")
    assert preview["with"] == {"command": "preview", "stack-name": "${{ matrix.stack }}", "comment-on-pr": True}


def test_deploy_runs_up_one_stack_at_a_time_staging_first() -> None:
    deploy = WORKFLOW["jobs"]["deploy"]
    assert deploy["strategy"]["max-parallel"] == 1
    (up,) = _pulumi_steps("deploy")
    assert up["with"]["command"] == "up"


def test_drift_check_fails_on_any_change_without_writing_state() -> None:
    (check,) = _pulumi_steps("drift")
    assert check["with"] == {"command": "preview", "stack-name": "${{ matrix.stack }}", "refresh": True,
                             "expect-no-changes": True}


def test_ci_runs_the_readme_test_command() -> None:
    readme_opening = (REPO_ROOT / "README.md").read_text()[:300]
    assert "make dev" in readme_opening and "make test" in readme_opening
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
