"""`infra smoke`'s arithmetic and addresses: the async bound adds up the stack's own queue settings, CI gives each
smoke job longer than that bound, and the backend's workers.dev address is found without a secret where it can
be (the end-to-end runs are in tests/e2e/test_smoke.py)."""

from __future__ import annotations

import pytest
import yaml

from infra.cli.smoke import backend_addresses
from infra.model.settings import REPO_ROOT, load_settings
from infra.ops.smoke import BOUND_MARGIN_SECONDS, async_bound_seconds
from tests.fakes.cloudflare_api import FakeCloudflare

from .conftest import ACCOUNT_ID, DEPLOYED

# Minutes a smoke job spends before the smoke test starts: checkout, toolchains from the pin files.
SETUP_MINUTES = 10


def test_the_async_bound_is_the_stacks_whole_retry_and_poll_budget() -> None:
    # staging: a first query 10 % after up to 4 x 20 s (learnt), then 39 more from 3 s doubling to 30 s; 5 retries
    # of at most 30 s; a batch wait of 2 s; a 120 s provider call and a 30 s download.
    staging = load_settings("staging")
    polls = round(4 * 20 * 1.1) + 3 + 6 + 12 + 24 + 30 * 35
    assert async_bound_seconds(staging) == 2 + 5 * 30 + polls + 120 + 30 + BOUND_MARGIN_SECONDS == 1545
    local = load_settings("local")  # not learnt: the first query after 2 s x 1.1
    assert async_bound_seconds(local) == 1 + 2 * 4 + 2 + (1 + 2 + 4 * 17) + 30 + 15 + BOUND_MARGIN_SECONDS


@pytest.mark.parametrize("stack", DEPLOYED)
def test_each_smoke_job_outlasts_its_stacks_async_bound(stack: str) -> None:
    deploy = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    minutes = deploy["jobs"][f"{stack}-smoke"]["timeout-minutes"]
    assert (minutes - SETUP_MINUTES) * 60 >= async_bound_seconds(load_settings(stack)), (
        f"{stack}-smoke would be cancelled before a stuck run is told from a slow one")


def test_the_subdomain_is_read_from_a_public_url_on_workers_dev(write_stack) -> None:
    path = write_stack("staging", lambda d: (d["frontend"].update(workers_dev=True, custom_domain=None),
                                             d.update(public_base_url="https://qwen-image-staging-frontend.acme.workers.dev")))
    settings = load_settings("staging", path)
    assert backend_addresses(settings, None, None) == (["https://qwen-image-staging-backend.acme.workers.dev"], None)


def test_without_a_subdomain_or_token_the_workers_dev_address_is_skipped_with_how_to_give_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    assert backend_addresses(load_settings("staging"), None, ["https://api.example.net"]) == (
        ["https://api.example.net"], "the backend's workers.dev address needs the account's workers.dev subdomain: "
        "pass --workers-subdomain (Workers & Pages, Account details) or export CLOUDFLARE_API_TOKEN")
    assert backend_addresses(load_settings("staging"), "acme", None) == (
        ["https://qwen-image-staging-backend.acme.workers.dev"], None)


def test_with_a_token_the_subdomain_is_read_from_the_account(cloudflare_env: FakeCloudflare) -> None:
    cloudflare_env.state.accounts[ACCOUNT_ID].workers_subdomain = "acme"
    assert backend_addresses(load_settings("production"), None, None) == (
        ["https://qwen-image-production-backend.acme.workers.dev"], None)
    cloudflare_env.state.accounts[ACCOUNT_ID].workers_subdomain = None
    assert backend_addresses(load_settings("production"), None, None) == (
        [], "the account has no workers.dev subdomain, so the backend has no workers.dev address")
