"""`infra drift`: a deployment made from the code has no drift; each thing changed behind the code's back is named
on its resource's line; what cannot be asked is `unchecked` with why. Cloudflare is the fake API (documented
shapes over HTTP, read by the official SDK); the Pulumi CLI is a stand-in on PATH replaying recorded
`pulumi preview --json` documents."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from infra.cli import main
from infra.d1.migrations import discover
from infra.model.bindings import required_secrets
from infra.model.settings import StackSettings, load_settings
from infra.ops.cloudflare import CloudflareAccount
from infra.ops.drift import Drift, Finding, verdict
from infra.ops.preview import PREVIEW, refresh_preview
from infra.plan import Plan, placeholder_config, run_plan
from tests.ci.standins import Route, StandIns
from tests.fakes.cloudflare_api import D1, QUEUES, R2_STORAGE, WORKERS_ROUTES, WORKERS_SCRIPTS, ZONE, FakeCloudflare

from .conftest import ACCOUNT_ID, API_TOKEN, DEPLOYED, ZONE_ID
from .drift_support import Deployment, deploy

RECORDINGS = Path(__file__).parent / "pulumi_preview"
PULUMI_TOKEN = "pul-0123456789abcdef0123456789abcdef01234567"
BACKEND = "qwen-image-staging-backend"
FRONTEND = "qwen-image-staging-frontend"
READ_ONLY = [f"{group}:Read" for group in (WORKERS_SCRIPTS, R2_STORAGE, D1, QUEUES, ZONE, WORKERS_ROUTES)]
# The drift job's token (docs/runbook.md, "CI environments"): read-only, plus D1 Edit for the D1 query endpoint.
DRIFT_TOKEN = "drift-token-0123456789abcdef0000"
DRIFT_PERMISSIONS = [*READ_ONLY, f"{D1}:Edit"]


@pytest.fixture
def pulumi(tmp_path: Path) -> StandIns:
    (tmp_path / "bin").mkdir()
    return StandIns(tmp_path / "bin")


def replay(pulumi: StandIns, stack: str, recording: str | None, exit: int = 0, stderr: str = "") -> None:
    """The stand-in answers the drift command's preview with a recorded JSON document (or none)."""
    stdout = (RECORDINGS / recording).read_text() if recording else ""
    pulumi.add("pulumi", Route(re.escape(" ".join([*PREVIEW, stack])), stdout=stdout, stderr=stderr, exit=exit))


CHANGES_PROPOSED = "error: no changes were expected but changes were proposed\n"


@pytest.fixture
def stack(plan_of: Callable[[str], Plan]) -> tuple[StackSettings, Plan]:
    return load_settings("staging"), plan_of("staging")


@pytest.fixture
def deployed(cloudflare_api: FakeCloudflare, stack: tuple[StackSettings, Plan]) -> Deployment:
    return deploy(cloudflare_api, *stack)


def check(fake: FakeCloudflare, stack: tuple[StackSettings, Plan], pulumi: StandIns | None,
          token: str | None = API_TOKEN) -> list[Finding]:
    settings, plan = stack
    path = f"{pulumi.bin_dir}:/usr/bin:/bin" if pulumi else "/usr/bin:/bin"
    environ = {"PATH": path, "PULUMI_ACCESS_TOKEN": PULUMI_TOKEN}
    account = CloudflareAccount.from_env(settings.cloudflare.account_id, {
        "CLOUDFLARE_API_TOKEN": token or "", "CLOUDFLARE_BASE_URL": fake.base_url})
    return Drift(settings, plan, account, partial(refresh_preview, settings.environment, environ), discover()).run()


def by_resource(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.resource: finding for finding in findings}


def drifted(findings: list[Finding]) -> dict[str, str]:
    return {f.resource: f.detail for f in findings if f.status == "drift"}


def clean(fake: FakeCloudflare, stack: tuple[StackSettings, Plan], pulumi: StandIns) -> list[Finding]:
    replay(pulumi, "staging", "staging-no-changes.json")
    return check(fake, stack, pulumi)


# -- no drift ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", DEPLOYED)
def test_a_deployment_made_from_the_code_has_no_drift(environment: str, cloudflare_api: FakeCloudflare,
                                                      plan_of: Callable[[str], Plan], pulumi: StandIns) -> None:
    stack = (load_settings(environment), plan_of(environment))
    deploy(cloudflare_api, *stack)
    replay(pulumi, environment, f"{environment}-no-changes.json")
    findings = check(cloudflare_api, stack, pulumi)
    assert [f for f in findings if f.status != "ok"] == []
    assert verdict(findings) == 0
    prefix = f"qwen-image-{environment}"
    assert [f.resource for f in findings] == [
        "pulumi preview --refresh", "metadata-migrations", "media-lifecycle",
        "backend-script modules", "backend-script bindings", "backend-script secrets", "backend-script settings",
        "frontend-script modules", "frontend-script bindings", "frontend-script secrets", "frontend-script settings",
        "backend-crons", "backend-workers-dev", "frontend-workers-dev", "queues-dead-letter", "queues-jobs",
        "consumers-jobs", "consumers-jobs-dlq", "frontend-domain", "undeclared addresses"]
    details = by_resource(findings)
    assert details["pulumi preview --refresh"].detail == (
        f"no changes: {len(stack[1].resources) + 1} resources as in the code")
    assert details["metadata-migrations"].detail == (f"D1 '{prefix}-metadata': {len(discover())} migrations applied, "
                                                     "as in worker_src/migrations")
    secrets = ", ".join(sorted(secret.value for secret in required_secrets(stack[0])))
    assert details["backend-script secrets"].detail == (f"{secrets} bound (values are never readable, so a changed "
                                                        "value is not seen)")
    assert details["consumers-jobs"].detail == (f"'{prefix}-backend' consumes '{prefix}-jobs' as declared, dead "
                                                f"letters to '{prefix}-jobs-dlq'")


def test_the_pulumi_preview_runs_with_refresh_and_expects_no_changes(cloudflare_api, stack, deployed,
                                                                      pulumi) -> None:
    clean(cloudflare_api, stack, pulumi)
    assert [call["argv"] for call in pulumi.calls("pulumi")] == [
        ["preview", "--refresh", "--expect-no-changes", "--json", "--non-interactive", "--stack", "staging"]]


def test_the_cloudflare_checks_only_read_with_the_drift_token(cloudflare_api, stack, deployed, pulumi) -> None:
    cloudflare_api.add_token(DRIFT_TOKEN, accounts=[ACCOUNT_ID], zones=[ZONE_ID], permissions=DRIFT_PERMISSIONS)
    cloudflare_api.requests.clear()
    replay(pulumi, "staging", "staging-no-changes.json")
    findings = check(cloudflare_api, stack, pulumi, token=DRIFT_TOKEN)
    assert verdict(findings) == 0
    reads = {r.method for r in cloudflare_api.requests if not r.path.endswith("/query")}
    assert reads == {"GET"}
    queries = [r.body["sql"] for r in cloudflare_api.requests if r.path.endswith("/query")]
    assert queries and all(q.lstrip().upper().startswith("SELECT") for q in queries), queries


# -- what pulumi preview --refresh sees ---------------------------------------------------------------------


def test_a_change_pulumi_proposes_is_drift_on_its_resource(cloudflare_api, stack, deployed, pulumi) -> None:
    replay(pulumi, "staging", "staging-bindings-changed.json", exit=255, stderr=CHANGES_PROPOSED)
    findings = check(cloudflare_api, stack, pulumi)
    assert drifted(findings) == {"backend-script (pulumi)": "pulumi proposes update (bindings)"}
    assert verdict(findings) == 1


def test_a_lifecycle_update_pulumi_proposes_counts_only_when_the_rules_really_differ(cloudflare_api, stack, deployed,
                                                                                    pulumi) -> None:
    replay(pulumi, "staging", "staging-lifecycle-update.json", exit=255, stderr=CHANGES_PROPOSED)
    findings = check(cloudflare_api, stack, pulumi)
    assert by_resource(findings)["media-lifecycle (pulumi)"] == Finding(
        "media-lifecycle (pulumi)", "ok", "pulumi proposes an update (rules), but the rules compared one by one are "
        "as declared: the provider's known false diff on lifecycle documents")
    assert verdict(findings) == 0
    rules = cloudflare_api.state.buckets[ACCOUNT_ID]["qwen-image-staging-media"].lifecycle
    rules[1]["deleteObjectsTransition"]["condition"]["maxAge"] = 30 * 86_400
    findings = check(cloudflare_api, stack, pulumi)
    assert drifted(findings) == {
        "media-lifecycle (pulumi)": "pulumi proposes update (rules)",
        "media-lifecycle": "R2 bucket 'qwen-image-staging-media': rule 'generated-retention': delete objects after "
                           "30 days deployed, 90 days in the code"}


def test_without_the_pulumi_cli_the_preview_is_not_checked_and_says_how_to_get_it(cloudflare_api, stack,
                                                                                  deployed) -> None:
    findings = check(cloudflare_api, stack, pulumi=None)
    assert by_resource(findings)["pulumi preview --refresh"] == Finding(
        "pulumi preview --refresh", "unchecked", "the Pulumi CLI is not on PATH, so Cloudflare was not compared with "
        "the stack's state; install it (https://www.pulumi.com/docs/iac/download-install/, the version of pulumi in "
        "requirements.txt) and log in, then run again")
    assert [f for f in findings[1:] if f.status != "ok"] == [], "the Cloudflare checks ran without it"
    assert verdict(findings) == 2


def test_a_pulumi_that_fails_before_its_report_is_not_checked_with_its_error(cloudflare_api, stack, deployed,
                                                                             pulumi) -> None:
    replay(pulumi, "staging", None, exit=255, stderr="error: no stack named 'staging' found\n")
    assert by_resource(check(cloudflare_api, stack, pulumi))["pulumi preview --refresh"].detail == (
        "`pulumi preview --refresh --expect-no-changes --json --non-interactive --stack staging` exited 255 without "
        "its JSON report: error: no stack named 'staging' found")


def test_a_pulumi_without_its_token_is_not_checked(pulumi) -> None:
    replay(pulumi, "staging", "staging-no-changes.json")
    environ = {"PATH": f"{pulumi.bin_dir}:/usr/bin:/bin"}  # no PULUMI_ACCESS_TOKEN: the stand-in refuses, as pulumi
    preview = refresh_preview("staging", environ)
    assert preview.problem is not None and preview.problem.endswith("pulumi: no PULUMI_ACCESS_TOKEN in the environment")


# -- what a refresh cannot see ---------------------------------------------------------------------------------


def test_pending_unknown_and_edited_migrations_are_drift(cloudflare_api, stack, deployed, pulumi) -> None:
    first, *_ = discover()
    with sqlite3.connect(deployed.database.path) as db:
        db.execute("DELETE FROM d1_migrations WHERE name = (SELECT max(name) FROM d1_migrations)")
        db.execute("INSERT INTO d1_migrations (name) VALUES ('9999_add_by_hand.sql')")
        db.execute("UPDATE d1_migrations_checksums SET sha256 = ? WHERE name = ?", ("0" * 64, first.name))
    last = discover()[-1].name
    assert drifted(clean(cloudflare_api, stack, pulumi)) == {"metadata-migrations": (
        f"D1 'qwen-image-staging-metadata': pending {last} (the schema is behind the code); applied but not in "
        f"worker_src/migrations: 9999_add_by_hand.sql; {first.name} changed after it was applied (applied sha256 "
        f"000000000000, file {first.checksum[:12]})")}


def test_a_missing_database_is_drift(cloudflare_api, stack, deployed, pulumi) -> None:
    cloudflare_api.state.databases[ACCOUNT_ID].clear()
    assert drifted(clean(cloudflare_api, stack, pulumi))["metadata-migrations"] == (
        "D1 database 'qwen-image-staging-metadata' does not exist: `pulumi up` creates it and applies every migration")


def test_lifecycle_rules_are_compared_by_what_r2_applies_not_by_their_spelling(cloudflare_api, stack, deployed,
                                                                              pulumi) -> None:
    rules = cloudflare_api.state.buckets[ACCOUNT_ID]["qwen-image-staging-media"].lifecycle
    rules.reverse()  # order does not matter
    rules[1]["storageClassTransitions"] = []  # the abort rule: no transitions, spelt as an empty list
    assert by_resource(clean(cloudflare_api, stack, pulumi))["media-lifecycle"].status == "ok"


def test_each_lifecycle_difference_is_named(cloudflare_api, stack, deployed, pulumi) -> None:
    bucket = cloudflare_api.state.buckets[ACCOUNT_ID]["qwen-image-staging-media"]
    _, retention = bucket.lifecycle
    retention["storageClassTransitions"] = []
    retention["conditions"]["prefix"] = ""
    bucket.lifecycle = [retention, {"id": "by-hand", "enabled": False, "conditions": {"prefix": "tmp/"}}]
    assert drifted(clean(cloudflare_api, stack, pulumi))["media-lifecycle"] == (
        "R2 bucket 'qwen-image-staging-media': rule 'Default Multipart Abort Rule' is missing; rule 'by-hand' is not "
        "in the code; rule 'generated-retention': move to InfrequentAccess after never deployed, 30 days in the "
        "code; rule 'generated-retention': prefix '' deployed, 'generated/' in the code")


def test_a_module_edited_added_or_removed_in_the_dashboard_is_drift(cloudflare_api, stack, deployed, pulumi) -> None:
    script = cloudflare_api.state.scripts[ACCOUNT_ID][BACKEND]
    script.modules["routes.js"] += b"// edited in the dashboard\n"
    del script.modules["sweep.js"]
    script.modules["debug.js"] = b"export const debug = true;\n"
    detail = drifted(clean(cloudflare_api, stack, pulumi))["backend-script modules"]
    assert detail.startswith("routes.js differs from worker_src/backend/routes.js (deployed sha256 ")
    assert detail.endswith("; sweep.js is not deployed; debug.js is deployed but not in the code")


def test_only_the_main_modules_hash_is_what_a_refresh_sees_so_the_others_are_compared_here(cloudflare_api, stack,
                                                                                            deployed, pulumi) -> None:
    script = cloudflare_api.state.scripts[ACCOUNT_ID][FRONTEND]
    script.modules["page.js"] = b"export const PAGE_HTML = 'replaced';\n"
    findings = clean(cloudflare_api, stack, pulumi)  # the recorded preview saw no change
    assert by_resource(findings)["pulumi preview --refresh"].status == "ok"
    assert list(drifted(findings)) == ["frontend-script modules"]


def test_bindings_changed_removed_or_added_are_drift(cloudflare_api, stack, deployed, pulumi) -> None:
    script = cloudflare_api.state.scripts[ACCOUNT_ID][BACKEND]
    other = cloudflare_api.add_database(ACCOUNT_ID, "qwen-image-staging-metadata-copy")
    for binding in script.bindings:
        if binding["name"] == "MAX_IMAGE_BYTES":
            binding["text"] = "1"
        if binding["name"] == "DB":
            binding["database_id"] = other.uuid
        if binding["name"] == "GENERATE_RATE_LIMIT":
            binding["simple"]["limit"] = 1000
    script.bindings = [b for b in script.bindings if b["name"] != "JOBS"]
    script.bindings.append({"name": "DEBUG", "type": "plain_text", "text": "true"})
    assert drifted(clean(cloudflare_api, stack, pulumi)) == {"backend-script bindings": (
        f"DB is d1 '{other.uuid}' deployed, d1 '{deployed.database.uuid}' in the code; DEBUG is bound but not in the "
        "code; GENERATE_RATE_LIMIT is ratelimit 'namespace 1001, 1000 per 60 s' deployed, ratelimit 'namespace 1001, "
        "20 per 60 s' in the code; JOBS is missing; MAX_IMAGE_BYTES is plain_text '1' deployed, plain_text "
        "'20000000' in the code")}


def test_a_secret_binding_removed_is_drift_though_no_value_is_ever_read(cloudflare_api, stack, deployed,
                                                                        pulumi) -> None:
    script = cloudflare_api.state.scripts[ACCOUNT_ID][BACKEND]
    script.bindings = [b for b in script.bindings if b["name"] != "ADMIN_TOKEN"]
    assert drifted(clean(cloudflare_api, stack, pulumi)) == {"backend-script secrets": (
        "ADMIN_TOKEN is not bound (`pulumi up` binds it from the stack's secrets)")}
    assert not any("a-deployed-secret-value" in str(r.body) + str(r.headers) for r in cloudflare_api.requests)


def test_compatibility_date_and_workers_logs_are_compared(cloudflare_api, stack, deployed, pulumi) -> None:
    script = cloudflare_api.state.scripts[ACCOUNT_ID][FRONTEND]
    script.compatibility_date = "2024-01-01"
    script.observability = {"enabled": False}
    detail = drifted(clean(cloudflare_api, stack, pulumi))["frontend-script settings"]
    assert detail.startswith("compatibility date 2024-01-01 deployed, 20")
    assert detail.endswith("; Workers Logs enabled=False, head_sampling_rate=None deployed; enabled=True, "
                           "head_sampling_rate=1 in the code")


def test_cron_schedules_and_the_workers_dev_switch_are_compared(cloudflare_api, stack, deployed, pulumi) -> None:
    script = cloudflare_api.state.scripts[ACCOUNT_ID][BACKEND]
    script.schedules = ["0 * * * *"]
    script.workers_dev = True  # the backend made public in the dashboard
    assert drifted(clean(cloudflare_api, stack, pulumi)) == {
        "backend-crons": f"'{BACKEND}' runs on '0 * * * *'; the code declares '*/5 * * * *'",
        "backend-workers-dev": f"'{BACKEND}' on workers.dev: on (previews off); the code says off (previews off)",
    }


def test_a_deleted_script_is_drift_on_every_line_that_needs_it(cloudflare_api, stack, deployed, pulumi) -> None:
    del cloudflare_api.state.scripts[ACCOUNT_ID][FRONTEND]
    assert drifted(clean(cloudflare_api, stack, pulumi)) == {
        "frontend-script": f"Worker script '{FRONTEND}' does not exist",
        "frontend-workers-dev": f"Worker script '{FRONTEND}' does not exist",
    }


def test_queue_consumers_are_compared_setting_by_setting_with_their_dead_letter_queue(cloudflare_api, stack, deployed,
                                                                                      pulumi) -> None:
    jobs, dead_letter = sorted(cloudflare_api.state.queues[ACCOUNT_ID].values(), key=lambda q: len(q.queue_name))
    consumer = jobs.consumers[0]
    consumer.settings["max_retries"] = 0
    consumer.dead_letter_queue = None
    dead_letter.consumers[0].script_name = "someone-else"
    assert drifted(clean(cloudflare_api, stack, pulumi)) == {
        "consumers-jobs": "consumer of 'qwen-image-staging-jobs': max_retries 0 deployed, 5 in the code; dead-letter "
                          "queue none deployed, qwen-image-staging-jobs-dlq in the code",
        "consumers-jobs-dlq": "queue 'qwen-image-staging-jobs-dlq' is consumed by 'someone-else'; the code declares "
                              f"Worker '{BACKEND}'",
    }


def test_a_missing_queue_and_its_retention_are_drift(cloudflare_api, stack, deployed, pulumi) -> None:
    queues = cloudflare_api.state.queues[ACCOUNT_ID]
    jobs = next(q for q in queues.values() if q.queue_name == "qwen-image-staging-jobs")
    dead_letter = next(q for q in queues.values() if q.queue_name == "qwen-image-staging-jobs-dlq")
    dead_letter.message_retention_period = 60
    del queues[jobs.queue_id]
    assert drifted(clean(cloudflare_api, stack, pulumi)) == {
        "queues-jobs": "queue 'qwen-image-staging-jobs' does not exist",
        "queues-dead-letter": "queue 'qwen-image-staging-jobs-dlq' keeps messages 60 s; the code says 1209600 s",
        "consumers-jobs": "queue 'qwen-image-staging-jobs' does not exist, so it has no consumer",
    }


def test_custom_domains_must_serve_their_script_and_no_other_address_may_serve_the_stack(cloudflare_api, stack,
                                                                                         deployed, pulumi) -> None:
    domains = cloudflare_api.state.domains[ACCOUNT_ID]
    (frontend,) = domains.values()
    frontend.service = BACKEND
    cloudflare_api.add_custom_domain(ACCOUNT_ID, "api.qwen-image.example.com", BACKEND, ZONE_ID)
    cloudflare_api.add_route(ZONE_ID, "old.qwen-image.example.com/*", FRONTEND)
    cloudflare_api.add_route(ZONE_ID, "shop.qwen-image.example.com/*", "another-worker")
    assert drifted(clean(cloudflare_api, stack, pulumi)) == {
        "frontend-domain": f"staging.qwen-image.example.com serves '{BACKEND}'; the code says '{FRONTEND}'",
        "undeclared addresses": f"custom domain api.qwen-image.example.com serves '{BACKEND}'; route "
                                f"old.qwen-image.example.com/* runs '{FRONTEND}', but the code does not declare it",
    }


def test_declared_routes_must_exist_and_run_their_script(cloudflare_api, write_stack, pulumi) -> None:
    route = "www.qwen-image.example.com/*"
    path = write_stack("staging", lambda data: data["frontend"].update(routes=[route]))
    stack = (load_settings("staging", path), run_plan("staging", {**placeholder_config(),
                                                                  "qwen-image:settings": str(path)}))
    deploy(cloudflare_api, *stack)
    assert by_resource(clean(cloudflare_api, stack, pulumi))["frontend-route-0"].status == "ok"
    (found,) = cloudflare_api.state.routes[ZONE_ID].values()
    found.script = "another-worker"
    assert drifted(clean(cloudflare_api, stack, pulumi)) == {
        "frontend-route-0": f"route {route} runs 'another-worker'; the code says '{FRONTEND}'"}
    cloudflare_api.state.routes[ZONE_ID].clear()
    assert drifted(clean(cloudflare_api, stack, pulumi)) == {"frontend-route-0": f"route {route} does not exist"}


# -- could not check -----------------------------------------------------------------------------------------------


def test_without_a_token_cloudflare_is_not_checked(cloudflare_api, stack, deployed, pulumi) -> None:
    replay(pulumi, "staging", "staging-no-changes.json")
    findings = check(cloudflare_api, stack, pulumi, token=None)
    assert findings[1:] == [Finding("cloudflare", "unchecked", "CLOUDFLARE_API_TOKEN is not set: export a token that "
                                    "may read the account and zone (the read-only token of docs/runbook.md)")]
    assert verdict(findings) == 2


def test_an_invalid_token_is_one_line_not_one_per_resource(cloudflare_api, stack, deployed, pulumi) -> None:
    replay(pulumi, "staging", "staging-no-changes.json")
    findings = check(cloudflare_api, stack, pulumi, token="not-a-token-of-this-account-000")
    assert findings[1:] == [Finding("cloudflare", "unchecked", "verify the API token failed: Invalid API Token "
                                                               "[code 1000]")]


def test_a_read_only_token_cannot_read_the_migration_level_and_says_which_permission(cloudflare_api, stack, deployed,
                                                                                     pulumi) -> None:
    cloudflare_api.add_token("read-only-token-0123456789abcdef", accounts=[ACCOUNT_ID], zones=[ZONE_ID],
                             permissions=READ_ONLY)
    replay(pulumi, "staging", "staging-no-changes.json")
    findings = check(cloudflare_api, stack, pulumi, token="read-only-token-0123456789abcdef")
    assert [f for f in findings if f.status != "ok"] == [Finding(
        "metadata-migrations", "unchecked", "read the migrations of D1 'qwen-image-staging-metadata' failed: "
        "Authentication error [code 10000] (on D1 'qwen-image-staging-metadata'); reading it needs D1 Edit, which "
        "the D1 query endpoint requires even for a SELECT (the drift token of docs/runbook.md, 'CI environments')")]


def test_a_missing_permission_leaves_only_what_needs_it_unchecked(cloudflare_api, stack, deployed, pulumi) -> None:
    without_d1 = [p for p in READ_ONLY if not p.startswith(f"{D1}:")]
    cloudflare_api.add_token("no-d1-token-0123456789abcdef0000", accounts=[ACCOUNT_ID], zones=[ZONE_ID],
                             permissions=without_d1)
    replay(pulumi, "staging", "staging-no-changes.json")
    findings = check(cloudflare_api, stack, pulumi, token="no-d1-token-0123456789abcdef0000")
    assert {f.resource: f.detail for f in findings if f.status == "unchecked"} == {
        "metadata-migrations": "look up D1 database 'qwen-image-staging-metadata' failed: Authentication error "
                               "[code 10000]",
        "backend-script bindings": "look up D1 database 'qwen-image-staging-metadata' failed: Authentication "
                                   "error [code 10000]",
    }
    assert drifted(findings) == {}
    assert verdict(findings) == 2


def test_an_api_outage_on_one_question_leaves_the_others_checked(cloudflare_api, stack, deployed, pulumi) -> None:
    cloudflare_api.drop_next("GET", rf"/accounts/{ACCOUNT_ID}/r2/buckets/[^/]+/lifecycle", times=None)
    cloudflare_api.fail_next("GET", rf"/accounts/{ACCOUNT_ID}/queues", 500, 10001, "Internal error", times=None)
    findings = clean(cloudflare_api, stack, pulumi)
    unchecked = {f.resource: f.detail for f in findings if f.status == "unchecked"}
    assert set(unchecked) == {"media-lifecycle", "queues-jobs", "queues-dead-letter", "consumers-jobs",
                              "consumers-jobs-dlq"}
    assert unchecked["queues-jobs"] == f"list the queues of account {ACCOUNT_ID} failed: Internal error [code 10001]"
    assert unchecked["media-lifecycle"].startswith("read the lifecycle rules of R2 bucket 'qwen-image-staging-media' "
                                                   "failed: ")
    assert by_resource(findings)["backend-script modules"].status == "ok"


def test_drift_found_wins_over_what_could_not_be_checked(cloudflare_api, stack, deployed, pulumi) -> None:
    cloudflare_api.state.scripts[ACCOUNT_ID][BACKEND].schedules = []
    findings = check(cloudflare_api, stack, pulumi=None)
    assert {f.status for f in findings} == {"ok", "drift", "unchecked"}
    assert verdict(findings) == 1


# -- the command ---------------------------------------------------------------------------------------------------


def test_the_command_prints_a_line_per_resource_and_exits_with_the_verdict(
        cloudflare_env: FakeCloudflare, stack, pulumi, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    deploy(cloudflare_env, *stack)
    monkeypatch.setenv("PATH", f"{pulumi.bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", PULUMI_TOKEN)
    replay(pulumi, "staging", "staging-no-changes.json")
    assert main(["drift", "--stack", "staging"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Drift of stack 'staging'\n  ok     pulumi preview --refresh  no changes: 21 resources")
    assert out.endswith("No drift: Cloudflare runs what the code declares.\n")
    cloudflare_env.state.scripts[ACCOUNT_ID][BACKEND].workers_dev = True
    assert main(["drift", "--stack", "staging"]) == 1
    out = capsys.readouterr().out
    assert f"  DRIFT  backend-workers-dev       '{BACKEND}' on workers.dev: on (previews off)" in out
    assert out.endswith('Drift: 1 resource(s) differ from the code (0 not checked); docs/runbook.md, "Drift", says '
                        "what each kind means and what to run.\n")
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    assert main(["drift", "--stack", "staging"]) == 2
    assert capsys.readouterr().out.endswith("Not checked: 1 check(s) could not run (see why above); no drift found in "
                                            "the rest.\n")


def test_the_local_stack_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", "--stack", "local"]) == 2
    assert "check drift of stack 'local' failed: the local stack is never deployed" in capsys.readouterr().err
