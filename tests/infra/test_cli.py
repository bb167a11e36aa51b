"""`python -m infra plan|diff`: what CI review shows when no cloud credentials exist.

The commands run in this process (the `plan_cli` fixture) over the session's plans; one test starts the module as a
process of its own, to hold `python -m infra` itself to its exit code and error stream."""

from __future__ import annotations

import json
import subprocess
import sys

from infra.model.settings import REPO_ROOT


def test_plan_json_lists_every_production_resource_with_protection_and_dependencies(plan_cli) -> None:
    result = plan_cli("plan", "--stack", "production", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["stack"] == "production"
    by_name = {r["name"]: r for r in plan["resources"]}
    assert sorted(r["type"].rsplit(":", 1)[-1] for r in plan["resources"]) == [
        "D1Database", "Migrations", "Queue", "Queue", "QueueConsumer", "QueueConsumer", "R2Bucket", "R2BucketLifecycle",
        "R2CustomDomain", "WorkersCronTrigger", "WorkersCustomDomain", "WorkersScript", "WorkersScript",
        "WorkersScriptSubdomain", "WorkersScriptSubdomain",
    ]
    assert by_name["media-bucket"]["protect"] and by_name["media-bucket"]["retain_on_delete"]
    assert "backend-script" in by_name["consumers-jobs"]["depends_on"]
    assert by_name["media-bucket"]["parent"] == "media"
    assert {c["type"] for c in plan["components"]} == {
        "qwen-image:media:MediaStore", "qwen-image:metadata:MetadataStore", "qwen-image:queues:JobQueues",
        "qwen-image:queues:QueueConsumers", "qwen-image:workers:Worker",
    }
    assert plan["outputs"]["public_api_base_url"] == "https://qwen-image.example.com/api"


def test_plan_table_shows_bindings_and_masks_secrets(plan_cli) -> None:
    result = plan_cli("plan", "--stack", "staging")
    assert result.returncode == 0, result.stderr
    assert "Bindings of qwen-image-staging-backend" in result.stdout
    assert "text=[secret]" in result.stdout
    assert "Default Multipart Abort Rule [*]: abort multipart after 7d" in result.stdout
    assert "generated-retention [generated/]: InfrequentAccess after 30d, delete after 90d" in result.stdout
    assert "replaced when changed:" in result.stdout  # the inputs follow, wrapped in the cell
    assert "replaced by deleting first" in result.stdout


def test_diff_shows_what_differs_between_environments(plan_cli) -> None:
    result = plan_cli("diff", "staging", "production", "--json")
    assert result.returncode == 0, result.stderr
    differences = {(d["resource"], d["field"]): (d["left"], d["right"]) for d in json.loads(result.stdout)}
    assert differences[("media-bucket", "(options).protect")] == (False, True)
    assert differences[("media-domain", "(resource)")] == ("(absent)", "declared")
    assert differences[("backend-script", "bindings[MEDIA_DELIVERY].text")] == ("signed", "custom-domain")
    # Physical names differ only by the environment, which the diff folds out.
    assert ("media-bucket", "name") not in differences


def test_diff_of_a_stack_with_itself_is_empty(plan_cli) -> None:
    result = plan_cli("diff", "staging", "staging", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_unknown_stack_is_refused_with_the_known_ones() -> None:
    result = subprocess.run([sys.executable, "-m", "infra", "plan", "--stack", "qa"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "invalid choice: 'qa' (choose from 'local', 'production', 'staging')" in result.stderr
