"""`infra adopt`: the existing Workers, their custom domain and routes, looked up through the real SDK in the fake
Cloudflare API, become an import file whose entries carry exactly the URNs the program declares (under Pulumi's
mocks) with the inputs that would force a replacement unchanged, so the first `pulumi up` updates them in place."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main
from infra.model.settings import load_settings
from infra.ops.adopt import AdoptError, find_adopted, import_file
from infra.ops.cloudflare import CloudflareAccount
from infra.plan import Plan, placeholder_config, run_plan
from tests.fakes.cloudflare_api import FakeCloudflare

from .conftest import ACCOUNT_ID, API_TOKEN, ZONE_ID

FRONTEND_HOST = "staging.qwen-image.example.com"
ROUTE = "www.qwen-image.example.com/*"


def adopting(data: dict[str, Any]) -> None:
    """staging, keeping the names of a hand-made deployment and adopting both scripts, the domain and a route."""
    data["backend"].update(script_name="qwen-api", adopt=["script"])
    data["frontend"].update(script_name="qwen-web", adopt=["script", "custom_domain", "routes"], routes=[ROUTE])


@pytest.fixture
def adopt(write_stack, cloudflare_api: FakeCloudflare) -> Callable[..., tuple[dict[str, Any], Plan]]:
    def run(mutate: Callable[[dict[str, Any]], object] = adopting) -> tuple[dict[str, Any], Plan]:
        path = write_stack("staging", mutate)
        settings = load_settings("staging", path)
        plan = run_plan("staging", {**placeholder_config(), "qwen-image:settings": str(path)})
        account = CloudflareAccount.from_env(ACCOUNT_ID, {"CLOUDFLARE_API_TOKEN": API_TOKEN,
                                                          "CLOUDFLARE_BASE_URL": cloudflare_api.base_url})
        assert account is not None
        return import_file(find_adopted(settings, plan, account), plan), plan

    return run


@pytest.fixture
def deployed(cloudflare_api: FakeCloudflare) -> dict[str, str]:
    """What was deployed by hand: both scripts, the frontend's custom domain and a route to it."""
    cloudflare_api.add_script(ACCOUNT_ID, "qwen-api")
    cloudflare_api.add_script(ACCOUNT_ID, "qwen-web")
    domain = cloudflare_api.add_custom_domain(ACCOUNT_ID, FRONTEND_HOST, "qwen-web", ZONE_ID)
    route = cloudflare_api.add_route(ZONE_ID, ROUTE, "qwen-web")
    return {"domain": domain.id, "route": route.id}


def urn(types: list[str], name: str) -> str:
    return f"urn:pulumi:staging::qwen-image::{'$'.join(types)}::{name}"


def imported_urn(entry: dict[str, Any], entries: dict[str, dict[str, Any]]) -> str:
    """The URN `pulumi import` gives an entry: its parents' types, its type, its (logical) name."""
    types, parent = [entry["type"]], entry.get("parent")
    while parent:
        types.insert(0, entries[parent]["type"])
        parent = entries[parent].get("parent")
    return urn(types, entry.get("logicalName", entry["name"]))


def declared_urns(plan: Plan) -> dict[str, Any]:
    """The URNs the engine gives what the program registers: like `pulumi import`, it leaves the root stack out of
    a child's type chain (Deployment.generateURN; Pulumi's Python mocks keep it, so their URNs are not used)."""
    by_name = {resource.name: resource for resource in plan.resources}
    found = {}
    for resource in plan.resources:
        types, parent = [resource.type], resource.parent
        while parent in by_name:
            types.insert(0, by_name[parent].type)
            parent = by_name[parent].parent
        found[urn(types, resource.name)] = resource
    return found


def test_the_import_file_names_each_adopted_resource_with_its_documented_id(adopt, deployed) -> None:
    document, _ = adopt()
    assert document == {"resources": [
        {"type": "qwen-image:workers:Worker", "name": "backend", "component": True},
        {"type": "qwen-image:workers:Worker", "name": "frontend", "component": True},
        {"type": "cloudflare:index/workersScript:WorkersScript", "name": "backend-script",
         "id": f"{ACCOUNT_ID}/qwen-api", "parent": "backend"},
        {"type": "cloudflare:index/workersScript:WorkersScript", "name": "frontend-script",
         "id": f"{ACCOUNT_ID}/qwen-web", "parent": "frontend"},
        {"type": "cloudflare:index/workersCustomDomain:WorkersCustomDomain", "name": "frontend-domain",
         "id": f"{ACCOUNT_ID}/{deployed['domain']}", "parent": "frontend"},
        {"type": "cloudflare:index/workersRoute:WorkersRoute", "name": "frontend-route-0",
         "id": f"{ZONE_ID}/{deployed['route']}", "parent": "frontend"},
    ]}


def test_the_program_declares_the_imported_urns_with_the_existing_names_so_up_updates_in_place(adopt,
                                                                                               deployed) -> None:
    document, plan = adopt()
    entries = {entry["name"]: entry for entry in document["resources"]}
    declared = declared_urns(plan)
    for entry in document["resources"]:
        assert imported_urn(entry, entries) in declared, f"{entry['name']}: the program declares no such URN"
        assert declared[imported_urn(entry, entries)].type == entry["type"]
    by_name = {resource.name: resource.inputs for resource in plan.resources}
    # The inputs the provider replaces each one for (terraform-provider-cloudflare RequiresReplace) are unchanged.
    assert {k: by_name["backend-script"][k] for k in ("accountId", "scriptName")} == {
        "accountId": ACCOUNT_ID, "scriptName": "qwen-api"}
    assert {k: by_name["frontend-script"][k] for k in ("accountId", "scriptName")} == {
        "accountId": ACCOUNT_ID, "scriptName": "qwen-web"}
    assert {k: by_name["frontend-domain"][k] for k in ("accountId", "hostname", "service")} == {
        "accountId": ACCOUNT_ID, "hostname": FRONTEND_HOST, "service": "qwen-web"}
    assert (by_name["frontend-route-0"]["zoneId"], by_name["frontend-route-0"]["script"]) == (ZONE_ID, "qwen-web")
    binding = next(b for b in by_name["frontend-script"]["bindings"] if b["name"] == "BACKEND")
    assert binding["service"] == "qwen-api", "the service binding follows the adopted backend's name"


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda data: data["backend"].update(script_name="qwen-gone", adopt=["script"]),
     f"adopt script 'qwen-gone' failed: account {ACCOUNT_ID} has no Worker script of that name; set "
     "backend.script_name to the existing script's name"),
    (lambda data: data["frontend"].update(adopt=["custom_domain"]),
     f"adopt custom domain '{FRONTEND_HOST}' failed: it serves Worker 'qwen-web', not 'qwen-image-staging-frontend' "
     "(pulumi up would replace it); set frontend.script_name to 'qwen-web' if that is the script being adopted"),
    (lambda data: data["frontend"].update(adopt=["routes"], routes=["api.qwen-image.example.com/*"]),
     f"adopt route 'api.qwen-image.example.com/*' failed: zone {ZONE_ID} has no Workers route with that pattern; "
     "drop 'routes' from frontend.adopt or fix the pattern"),
    (lambda data: None,
     "adopt stack 'staging' failed: nothing to adopt; list what already exists under backend.adopt and "
     "frontend.adopt in stacks/staging.yaml"),
])
def test_what_cannot_be_adopted_is_refused_with_the_fix(adopt, deployed, mutate, message: str) -> None:
    with pytest.raises(AdoptError) as failure:
        adopt(mutate)
    assert str(failure.value) == message


def test_a_route_that_serves_another_worker_is_refused(adopt, deployed, cloudflare_api: FakeCloudflare) -> None:
    cloudflare_api.state.routes[ZONE_ID][deployed["route"]].script = "someone-else"
    with pytest.raises(AdoptError, match=r"^adopt route 'www.qwen-image.example.com/\*' failed: it sends requests to "
                                         r"'someone-else', not 'qwen-web'"):
        adopt()


def test_the_command_needs_the_token_and_writes_nothing_without_something_to_adopt(
        cloudflare_env: FakeCloudflare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "import.json"
    assert main(["adopt", "--stack", "production", "--out", str(out)]) == 2
    assert "adopt stack 'production' failed: nothing to adopt" in capsys.readouterr().err
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    assert main(["adopt", "--stack", "production", "--out", str(out)]) == 2
    assert ("adopt stack 'production' failed: CLOUDFLARE_API_TOKEN is not set; export the deploy token (it only "
            "reads here)") in capsys.readouterr().err
    assert not out.exists()
    assert [r.method for r in cloudflare_env.requests] == []


def test_the_import_file_is_json_pulumi_reads(adopt, deployed, tmp_path: Path) -> None:
    document, _ = adopt()
    path = tmp_path / "import.json"
    path.write_text(json.dumps(document))
    assert all({"type", "name"} <= set(entry) for entry in json.loads(path.read_text())["resources"])
