"""`infra preflight`: every outcome, with the Cloudflare API served by the local fake (through the real SDK) and
DashScope by the stand-in over HTTP; a stack copy in a git repository of its own plays the checkout."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from infra.cli import main
from infra.model.settings import REPO_ROOT
from infra.ops.preflight import Check, Preflight, Project
from localdev.standin import StandIn
from tests.fakes.cloudflare_api import D1, EVERY_PERMISSION, R2_STORAGE, FakeCloudflare

from .conftest import stack_data

ACCOUNT = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
ZONE = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
ZONE_NAME = "qwen-demo.dev"
TOKEN = "preflight-token-0123456789abcdefghij"
DASHSCOPE = "https://dashscope-intl.aliyuncs.com"
KEY = "sk-preflight-0123456789"
SECRETS = ("dashscopeApiKey", "adminToken", "mediaSigningKey", "runTokenKey")  # staging signs media URLs


def ready_stack(data: dict[str, Any]) -> None:
    """staging with an operator's own account, zone and domains (as the runbook asks)."""
    data["cloudflare"] = {"account_id": ACCOUNT, "zone_id": ZONE}
    data["public_base_url"] = f"https://staging.{ZONE_NAME}"
    data["frontend"]["custom_domain"] = f"staging.{ZONE_NAME}"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Project]:
    """A checkout holding the stack file and its committed Pulumi config; `mutate` changes the stack file."""

    made: list[Path] = []

    def make(mutate: Callable[[dict[str, Any]], object] = lambda data: None,
             config: dict[str, Any] | None = None, commit: bool = True) -> Project:
        root = tmp_path / f"checkout-{len(made)}"
        made.append(root)
        (root / "stacks").mkdir(parents=True)
        shutil.copy(REPO_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
        data = stack_data("staging")
        ready_stack(data)
        mutate(data)
        (root / "stacks" / "staging.yaml").write_text(yaml.safe_dump(data))
        secrets = {f"qwen-image:{key}": {"secure": f"v1:ZW5jcnlwdGVk{key}"} for key in SECRETS}
        (root / "Pulumi.staging.yaml").write_text(yaml.safe_dump({"config": secrets if config is None else config}))
        git(root, "init", "-q")
        if commit:
            git(root, "add", ".")
            git(root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "stack")
        return Project(root)

    return make


@pytest.fixture
def account(cloudflare_api: FakeCloudflare) -> FakeCloudflare:
    cloudflare_api.add_account(ACCOUNT, workers_subdomain="qwen-demo")
    cloudflare_api.add_zone(ZONE, ZONE_NAME, ACCOUNT)
    cloudflare_api.add_token(TOKEN, accounts=[ACCOUNT], zones=[ZONE])
    return cloudflare_api


@pytest.fixture
def dashscope() -> Iterator[tuple[StandIn, httpx.BaseTransport]]:
    """The stand-in, reached for the stack's real base URL: requests to it are sent to the stand-in over HTTP."""
    with StandIn(port=0, api_key=KEY) as standin:
        inner = httpx.HTTPTransport()

        class ToStandIn(httpx.BaseTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                assert str(request.url).startswith(DASHSCOPE), request.url
                request.url = request.url.copy_with(scheme="http", host=standin.host, port=standin.port)
                return inner.handle_request(request)

        yield standin, ToStandIn()


def run(project: Project, api: FakeCloudflare | None, transport: httpx.BaseTransport | None = None,
        key: str | None = KEY, token: str = TOKEN, **options: Any) -> dict[str, Check]:
    environ = {"CLOUDFLARE_BASE_URL": api.base_url, "CLOUDFLARE_API_TOKEN": token} if api else {}
    if key:
        environ["DASHSCOPE_API_KEY"] = key
    checks = list(Preflight("staging", project, environ, dashscope_transport=transport, **options).run())
    return {check.name: check for check in checks}


def failures(checks: dict[str, Check]) -> dict[str, str]:
    return {name: check.detail for name, check in checks.items() if check.status != "ok"}


# -- a stack that is ready -------------------------------------------------------------------------------------


def test_a_ready_stack_passes_every_check(project, account, dashscope) -> None:
    checks = run(project(), account, dashscope[1])
    assert failures(checks) == {}
    assert list(checks) == ["settings", "placeholders", "secrets", "stack config committed", "cloudflare token",
                            "account", "zone", "public url", "R2 bucket", "D1 database", "queues", "backend script",
                            "frontend script", "frontend custom domain", "dashscope key"]
    assert checks["R2 bucket"].detail == "qwen-image-staging-media is free"
    assert checks["dashscope key"].detail == f"DASHSCOPE_API_KEY is accepted by {DASHSCOPE}"


def test_the_dashscope_check_is_one_task_query_that_generates_nothing(project, account, dashscope) -> None:
    standin, transport = dashscope
    run(project(), account, transport)
    calls = httpx.get(f"{standin.base_url}/_standin/calls").json()["calls"]
    assert [call["endpoint"] for call in calls] == ["task"]


# -- offline checks ----------------------------------------------------------------------------------------------


def test_the_committed_staging_file_still_carries_the_examples(project) -> None:
    checks = run(project(lambda data: data.update(stack_data("staging"))), None, key=None)
    assert checks["placeholders"].status == "fail"
    assert checks["placeholders"].detail == (
        "still the committed examples: cloudflare.account_id, cloudflare.zone_id, public_base_url "
        "(staging.qwen-image.example.com), frontend.custom_domain (staging.qwen-image.example.com); put your account, "
        "zone and domains in stacks/staging.yaml")


def test_a_public_url_that_is_not_the_frontends_address_fails(project) -> None:
    checks = run(project(lambda data: data.update(public_base_url=f"https://www.{ZONE_NAME}")), None, key=None)
    assert checks["public url"].detail == (
        f"public_base_url's host www.{ZONE_NAME} is none of the frontend's addresses (staging.{ZONE_NAME}): image "
        "URLs and links would point elsewhere; set public_base_url to one of them")


def test_a_route_that_serves_the_public_host_is_its_address(project) -> None:
    def by_route(data: dict[str, Any]) -> None:
        data["frontend"].update(custom_domain=None, routes=[f"*.{ZONE_NAME}/*"])

    assert run(project(by_route), None, key=None)["public url"].detail == (
        f"staging.{ZONE_NAME} is served by a frontend route")


def test_a_model_without_an_async_api_fails_a_stack_with_queues_on(project) -> None:
    """qwen-image-max is served synchronously only (shared/reference/dashscope-api.md, section 2)."""
    checks = run(project(lambda data: data["upstream"].update(model="qwen-image-max")), None, key=None)
    assert checks["settings"].status == "fail"
    assert checks["settings"].detail.startswith("(top level): upstream.model 'qwen-image-max' serves only synchronous "
                                                "calls, so with queues.enabled: true every run would fail")


def test_settings_that_do_not_validate_stop_the_checks(project) -> None:
    checks = run(project(lambda data: data["queues"].update(enabled="yes")), None, key=None)
    assert list(checks) == ["settings", "the other checks"]
    assert checks["settings"].detail == "queues.enabled: Input should be a valid boolean"


@pytest.mark.parametrize(("config", "detail"), [
    ({"qwen-image:adminToken": {"secure": "v1:x"}},
     "Pulumi.staging.yaml lacks dashscopeApiKey, mediaSigningKey, runTokenKey: pulumi config set --secret --stack "
     "staging dashscopeApiKey; pulumi config set --secret --stack staging mediaSigningKey; pulumi config set "
     "--secret --stack staging runTokenKey"),
    ({f"qwen-image:{key}": {"secure": "v1:x"} for key in SECRETS} | {"qwen-image:adminToken": "in-clear"},
     "Pulumi.staging.yaml holds adminToken in plain text: remove it and set it again with --secret (pulumi config "
     "set --secret --stack staging adminToken)"),
])
def test_secrets_must_all_be_in_the_stack_config_encrypted(project, config: dict[str, Any], detail: str) -> None:
    checks = run(project(config=config), None, key=None)
    assert (checks["secrets"].status, checks["secrets"].detail) == ("fail", detail)


def test_the_stack_config_must_be_committed_as_it_is(project) -> None:
    unborn = project(commit=False)
    assert run(unborn, None, key=None)["stack config committed"].detail == (
        "Pulumi.staging.yaml is not committed: commit it (its secrets are encrypted; CI deploys from the repository)")
    edited = project()
    (edited.root / "Pulumi.staging.yaml").write_text("config: {}\n")
    assert run(edited, None, key=None)["stack config committed"].detail == (
        "Pulumi.staging.yaml has uncommitted changes: commit them")


def test_without_credentials_the_online_checks_say_they_did_not_run(project) -> None:
    checks = run(project(), None, key=None)
    assert checks["cloudflare"].status == checks["dashscope key"].status == "skip"
    assert checks["cloudflare"].detail.startswith("CLOUDFLARE_API_TOKEN is not set")


# -- Cloudflare ------------------------------------------------------------------------------------------------


def test_an_invalid_token_fails_and_stops_the_cloudflare_checks(project, account) -> None:
    checks = run(project(), account, key=None, token="not-a-token-0123456789abcdef")
    assert checks["cloudflare token"].detail == (
        "verify the API token failed: Invalid API Token [code 1000]; the token is not valid: create one as "
        "docs/runbook.md says and export it as CLOUDFLARE_API_TOKEN")
    assert checks["cloudflare"].status == "skip"


def test_a_disabled_token_fails(project, account) -> None:
    account.add_token("disabled-token-0123456789abcdef", accounts=[ACCOUNT], status="disabled")
    checks = run(project(), account, key=None, token="disabled-token-0123456789abcdef")
    assert checks["cloudflare token"].detail.startswith("the token is disabled: create a new one")


def test_an_account_owned_token_verifies_at_its_account(project, account, dashscope) -> None:
    account.add_token("account-token-0123456789abcdef", owner=ACCOUNT, zones=[ZONE])
    assert failures(run(project(), account, dashscope[1], token="account-token-0123456789abcdef")) == {}


def test_a_token_that_does_not_cover_the_account_fails_on_the_account(project, account) -> None:
    account.add_token("elsewhere-token-0123456789abcdef", accounts=["0" * 32])
    checks = run(project(), account, key=None, token="elsewhere-token-0123456789abcdef")
    assert checks["account"].detail == (
        f"list the Worker scripts of account {ACCOUNT} failed: Unauthorized to access requested resource [code 9109]; "
        "the token does not cover this account or zone: add it to the token's resources")


def test_a_missing_permission_is_named_where_it_is_needed(project, account) -> None:
    account.add_token("no-r2-token-0123456789abcdef", accounts=[ACCOUNT], zones=[ZONE],
                      permissions=EVERY_PERMISSION - {f"{R2_STORAGE}:Edit"})
    checks = failures(run(project(), account, key=None, token="no-r2-token-0123456789abcdef"))
    assert checks == {"R2 bucket": "look up R2 bucket 'qwen-image-staging-media' failed: Authentication error "
                                   "[code 10000]; the token lacks a permission this needs (docs/runbook.md, "
                                   "'First-time setup', lists them)",
                      "dashscope key": checks["dashscope key"]}


def test_an_account_without_r2_fails_with_what_to_enable(project, account) -> None:
    account.state.accounts[ACCOUNT].r2_enabled = False
    assert run(project(), account, key=None)["R2 bucket"].detail.endswith(
        "[code 10042]; R2 is not enabled on the account: enable it in the dashboard (R2 Object Storage)")


def test_a_network_error_is_one_line_and_stops_the_cloudflare_checks(project, account) -> None:
    account.drop_next("GET", r".*", times=None)
    checks = run(project(), account, key=None)
    assert checks["cloudflare token"].detail == "verify the API token failed: Connection error. (127.0.0.1)"
    assert checks["cloudflare"].status == "skip"


def test_names_the_first_deploy_would_create_must_be_free(project, account) -> None:
    account.add_bucket(ACCOUNT, "qwen-image-staging-media")
    account.add_database(ACCOUNT, "qwen-image-staging-metadata")
    account.add_queue(ACCOUNT, "qwen-image-staging-jobs")
    account.add_script(ACCOUNT, "qwen-image-staging-frontend")
    checks = failures(run(project(), account, key=None))
    assert checks["R2 bucket"] == (
        "qwen-image-staging-media already exists, so the first `pulumi up` would fail creating it: delete it, change "
        "app in stacks/staging.yaml, or rerun with --deployed if this stack created it (name)")
    assert checks["D1 database"].startswith("qwen-image-staging-metadata already exists")
    assert checks["queues"].startswith("qwen-image-staging-jobs already exists")
    assert checks["frontend script"].endswith("(or adopt it: add 'script' to adopt)")
    assert run(project(), account, key=None, deployed=True)["R2 bucket"].detail == (
        "qwen-image-staging-media exists (this stack's, deployed before)")


def test_a_database_whose_name_only_contains_the_stacks_is_no_conflict(project, account) -> None:
    account.add_database(ACCOUNT, "qwen-image-staging-metadata-archive")
    assert run(project(), account, key=None)["D1 database"].status == "ok"


def test_adopted_resources_must_exist_and_serve_the_adopted_script(project, account) -> None:
    def adopt(data: dict[str, Any]) -> None:
        data["frontend"].update(script_name="qwen-web", adopt=["script", "custom_domain"])

    assert failures(run(project(adopt), account, key=None)) == {
        "frontend script": "qwen-web is to be adopted but does not exist; fix the name or drop 'script' from adopt",
        "frontend custom domain": f"staging.{ZONE_NAME} is to be adopted but does not exist; fix the name or drop "
                                  "'custom_domain' from adopt",
        "dashscope key": "DASHSCOPE_API_KEY is not set: export the stack's key (pulumi config get --stack staging "
                         f"dashscopeApiKey) to check it against {DASHSCOPE}"}
    account.add_script(ACCOUNT, "qwen-web")
    domain = account.add_custom_domain(ACCOUNT, f"staging.{ZONE_NAME}", "someone-else", ZONE)
    assert run(project(adopt), account, key=None)["frontend custom domain"].detail == (
        f"staging.{ZONE_NAME} is attached to Worker 'someone-else', not 'qwen-web': detach it or keep that script's "
        "name (script_name) and adopt both")
    domain.service = "qwen-web"
    checks = run(project(adopt), account, key=None)
    assert checks["frontend script"].detail == "qwen-web exists and is adopted (`infra adopt` imports it)"
    assert checks["frontend custom domain"].status == "ok"


def test_a_workers_dev_frontend_needs_the_accounts_subdomain(project, account) -> None:
    def on_workers_dev(data: dict[str, Any]) -> None:
        data["frontend"].update(custom_domain=None, workers_dev=True)
        data["public_base_url"] = "https://qwen-image-staging-frontend.qwen-demo.workers.dev"

    checks = run(project(on_workers_dev), account, key=None)
    assert (checks["workers.dev"].status, checks["public url"].status) == ("ok", "ok")
    account.state.accounts[ACCOUNT].workers_subdomain = None
    checks = run(project(on_workers_dev), account, key=None)
    assert checks["workers.dev"].detail == (
        "the account has no workers.dev subdomain: register one in the dashboard (Workers & Pages)")


def test_custom_domains_must_be_in_the_stacks_zone(project, account) -> None:
    def elsewhere(data: dict[str, Any]) -> None:
        data["frontend"]["custom_domain"] = "staging.other-zone.dev"
        data["public_base_url"] = "https://staging.other-zone.dev"

    checks = run(project(elsewhere), account, key=None)
    assert checks["zone"].detail == (
        f"not in zone {ZONE_NAME}: frontend.custom_domain (staging.other-zone.dev); use hostnames of the zone or the "
        "zone of these hostnames")


# -- DashScope -------------------------------------------------------------------------------------------------


def test_a_key_the_region_refuses_fails_with_the_region_hint(project, account, dashscope) -> None:
    checks = run(project(), account, dashscope[1], key="sk-from-another-region")
    assert checks["dashscope key"].detail == (
        f"{DASHSCOPE} refuses DASHSCOPE_API_KEY (401 InvalidApiKey: Invalid API-key provided.); keys are bound to "
        "their region: use a key of this region, or the base URL of the key's region")


def test_an_unreachable_upstream_fails_the_key_check(project, account) -> None:
    closed = httpx.HTTPTransport()

    class Refused(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=9)
            return closed.handle_request(request)

    assert run(project(), account, Refused())["dashscope key"].detail == (
        f"cannot reach {DASHSCOPE} (ConnectError); check the network and upstream.base_url")


# -- the command -------------------------------------------------------------------------------------------------


def test_the_command_prints_one_line_per_check_and_exits_1_when_not_ready(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLOUDFLARE_API_TOKEN", "DASHSCOPE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["preflight", "--stack", "production"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Preflight of stack 'production'"
    assert lines[1] == "  ok    settings                 stacks/production.yaml is valid"
    assert lines[2].startswith("  FAIL  placeholders             still the committed examples: cloudflare.account_id")
    # How many fail depends on this checkout's git state (the stack config committed or not), so not compared.
    assert re.fullmatch(r"Not ready: \d failed, 2 not checked\.", lines[-1]), lines[-1]
    assert len(lines) == 9


def test_the_local_stack_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preflight", "--stack", "local"]) == 2
    assert "preflight stack 'local' failed: the local stack is never deployed; `make dev` runs it" in (
        capsys.readouterr().err)


def test_d1_read_is_enough_for_the_preflight_database_check(project, account) -> None:
    account.add_token("d1-read-token-0123456789abcdef", accounts=[ACCOUNT], zones=[ZONE],
                      permissions=(EVERY_PERMISSION - {f"{D1}:Edit"}) | {f"{D1}:Read"})
    assert run(project(), account, key=None, token="d1-read-token-0123456789abcdef")["D1 database"].status == "ok"
