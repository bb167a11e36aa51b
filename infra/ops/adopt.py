"""The import file that adopts a deployment made before this repository managed it (`pulumi import --file`).

For each resource a Worker's `adopt` lists, the existing one is looked up in the account (through the SDK) and
becomes an entry of the file: the resource's type token, logical name and parent component taken from the
program itself (its offline plan), and the import id in pulumi-cloudflare's documented format (the "Import"
section of each resource's docs, pulumi-cloudflare 6.x): WorkersScript `<account_id>/<script_name>`,
WorkersCustomDomain `<account_id>/<domain_id>`, WorkersRoute `<zone_id>/<route_id>`. The imported resources
thereby get the URNs the program declares, with the inputs whose change would replace them (script name,
account; a domain's hostname and service; a route's zone) equal to what exists, so the first `pulumi up`
updates them in place instead of creating duplicates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.errors import InfraError
from infra.model.bindings import WorkerSpec, declare_workers
from infra.model.settings import StackSettings, Worker
from infra.ops.cloudflare import CloudflareAccount
from infra.plan import Plan, PlannedResource


class AdoptError(InfraError):
    """Something the stack adopts does not exist, or exists in a shape `pulumi up` could not update."""


@dataclass(frozen=True)
class Adopted:
    """One resource to import: what the program calls it, and the id Cloudflare knows it by."""

    resource: PlannedResource
    id: str
    what: str  # for people: "script qwen-image-frontend"

    def entry(self) -> dict[str, Any]:
        return {"type": self.resource.type, "name": self.resource.name, "id": self.id,
                **({"parent": self.resource.parent} if self.resource.parent else {})}


def find_adopted(settings: StackSettings, plan: Plan, account: CloudflareAccount) -> list[Adopted]:
    """Every resource the stack adopts, looked up; fails on the first that is missing or points elsewhere."""
    found: list[Adopted] = []
    for spec, worker in zip(declare_workers(settings), (settings.backend, settings.frontend), strict=True):
        for item in worker.adopt:
            found += _LOOKUPS[item](settings, plan, account, spec, worker)
    if not found:
        raise AdoptError(f"adopt stack '{settings.environment}' failed: nothing to adopt; list what already exists "
                         f"under backend.adopt and frontend.adopt in stacks/{settings.environment}.yaml")
    return found


def import_file(adopted: list[Adopted], plan: Plan) -> dict[str, Any]:
    """`pulumi import --file` input: the empty parent components first, then the resources under them."""
    components = {r.name: r for r in plan.resources if not r.custom}
    parents = sorted({a.resource.parent for a in adopted if a.resource.parent})
    return {"resources": [
        *({"type": components[name].type, "name": name, "component": True} for name in parents),
        *(a.entry() for a in adopted),
    ]}


def _declared(plan: Plan, type_suffix: str, field: str, value: str, spec: WorkerSpec) -> PlannedResource:
    matches = [r for r in plan.of_type(type_suffix) if r.inputs.get(field) == value and r.parent == str(spec.role)]
    if len(matches) != 1:
        raise AdoptError(f"adopt {type_suffix} '{value}' failed: the program declares {len(matches)} of them for "
                         f"the {spec.role}")
    return matches[0]


def _script(settings: StackSettings, plan: Plan, account: CloudflareAccount, spec: WorkerSpec,
            worker: Worker) -> list[Adopted]:
    name = spec.script_name
    if not account.script_exists(name):
        raise AdoptError(f"adopt script '{name}' failed: account {account.account_id} has no Worker script of that "
                         f"name; set {spec.role}.script_name to the existing script's name")
    resource = _declared(plan, "WorkersScript", "scriptName", name, spec)
    return [Adopted(resource, f"{account.account_id}/{name}", f"script {name}")]


def _custom_domain(settings: StackSettings, plan: Plan, account: CloudflareAccount, spec: WorkerSpec,
                   worker: Worker) -> list[Adopted]:
    hostname = worker.custom_domain or ""
    domain = account.custom_domain(hostname)
    if domain is None:
        raise AdoptError(f"adopt custom domain '{hostname}' failed: account {account.account_id} has no Workers "
                         f"custom domain of that name; drop 'custom_domain' from {spec.role}.adopt")
    if domain.service != spec.script_name:
        raise AdoptError(f"adopt custom domain '{hostname}' failed: it serves Worker '{domain.service}', not "
                         f"'{spec.script_name}' (pulumi up would replace it); set {spec.role}.script_name to "
                         f"'{domain.service}' if that is the script being adopted")
    resource = _declared(plan, "WorkersCustomDomain", "hostname", hostname, spec)
    return [Adopted(resource, f"{account.account_id}/{domain.id}", f"custom domain {hostname}")]


def _routes(settings: StackSettings, plan: Plan, account: CloudflareAccount, spec: WorkerSpec,
            worker: Worker) -> list[Adopted]:
    zone_id = settings.cloudflare.zone_id or ""
    existing = {route.pattern: route for route in account.routes(zone_id)}
    adopted = []
    for pattern in spec.routes:
        route = existing.get(pattern)
        if route is None:
            raise AdoptError(f"adopt route '{pattern}' failed: zone {zone_id} has no Workers route with that "
                             f"pattern; drop 'routes' from {spec.role}.adopt or fix the pattern")
        if route.script != spec.script_name:
            raise AdoptError(f"adopt route '{pattern}' failed: it sends requests to '{route.script}', not "
                             f"'{spec.script_name}'; set {spec.role}.script_name to the script it serves")
        resource = _declared(plan, "WorkersRoute", "pattern", pattern, spec)
        adopted.append(Adopted(resource, f"{zone_id}/{route.id}", f"route {pattern}"))
    return adopted


_LOOKUPS: dict[str, Callable[[StackSettings, Plan, CloudflareAccount, WorkerSpec, Worker], list[Adopted]]] = {
    "script": _script, "custom_domain": _custom_domain, "routes": _routes,
}
