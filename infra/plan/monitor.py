"""Offline plan: the real program evaluated under Pulumi's mocks, with no CLI, engine or credentials.

A recording mock monitor keeps what the engine would receive for each resource (type, name, inputs,
parent, protection, dependencies), so CI review can show exactly what a stack declares. The mocks echo a
resource's inputs as its state and fill in the fields its provider computes, so they must know every resource
type the program declares: an unknown type fails the plan instead of looking like it had no computed fields.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks
from pulumi.runtime import settings as runtime_settings

from infra.errors import InfraError
from infra.model.bindings import Secret

PROJECT = "qwen-image"
# Marks the Pulumi wire format uses for secret and unknown values.
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_MASK = "[secret]"
KNOWN_AFTER_APPLY = "(known after apply)"
# Every resource type the program declares, with the fields its provider computes (answered with a
# placeholder so they never look like data). A new resource type is added here with its computed fields.
COMPUTED: dict[str, tuple[str, ...]] = {
    "cloudflare:index/d1Database:D1Database": ("uuid",),
    "cloudflare:index/queue:Queue": ("queue_id", "queueId"),
    "cloudflare:index/queueConsumer:QueueConsumer": (),
    "cloudflare:index/r2Bucket:R2Bucket": (),
    "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle": (),
    "cloudflare:index/r2CustomDomain:R2CustomDomain": (),
    "cloudflare:index/workersCronTrigger:WorkersCronTrigger": (),
    "cloudflare:index/workersCustomDomain:WorkersCustomDomain": (),
    "cloudflare:index/workersRoute:WorkersRoute": (),
    "cloudflare:index/workersScript:WorkersScript": (),
    "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain": (),
    "pulumi-python:dynamic/schema:Migrations": (),
}


@dataclass
class PlannedResource:
    type: str
    name: str
    urn: str
    custom: bool
    parent: str | None
    protect: bool
    retain_on_delete: bool
    depends_on: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]

    def of_type(self, type_suffix: str) -> list[PlannedResource]:
        """Resources whose type ends with `type_suffix` (`"R2Bucket"`, `"index/queue:Queue"`)."""
        return [r for r in self.resources if r.custom and r.type.endswith(type_suffix)]

    def one(self, type_suffix: str, name: str | None = None) -> PlannedResource:
        found = [r for r in self.of_type(type_suffix) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"plan of '{self.stack}': expected one {type_suffix} named {name!r}, "
                              f"found {[r.name for r in found]}")
        return found[0]

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "resources": [asdict(r) for r in self.resources if r.custom],
                "components": [asdict(r) for r in self.resources if not r.custom], "outputs": self.outputs}


class UnknownResourceType(InfraError):
    """The program declared a resource type (or called a provider function) the mocks have no answer for."""


class PlanMocks(pulumi.runtime.Mocks):
    """Echo inputs as state; fill only provider-computed fields; refuse what they do not know.

    Components (`custom` false) never reach a provider and are echoed as they are.
    """

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.custom and args.typ not in COMPUTED:
            raise UnknownResourceType(
                f"plan resource '{args.name}' failed: the mocks do not know the type {args.typ}; add it to "
                "COMPUTED in infra/plan/monitor.py with the fields its provider computes"
            )
        state = dict(args.inputs)
        for key in COMPUTED.get(args.typ, ()):
            state[key] = KNOWN_AFTER_APPLY
        return f"{args.name}-{uuid.uuid5(uuid.NAMESPACE_URL, args.name).hex[:8]}", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        raise UnknownResourceType(f"plan call '{args.token}' failed: the program calls no provider function, so the "
                                  "mocks answer none; give this one a mock answer in infra/plan/monitor.py")


class _RecordingMonitor(mocks.MockMonitor):
    def __init__(self, echo: pulumi.runtime.Mocks) -> None:
        super().__init__(echo)
        self.recorded: list[PlannedResource] = []

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method the engine calls
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        deps = set(request.dependencies)
        for prop in request.propertyDependencies.values():
            deps.update(prop.urns)
        options = {}
        if request.deleteBeforeReplace:
            options["delete_before_replace"] = True
        if request.replaceOnChanges:
            options["replace_on_changes"] = list(request.replaceOnChanges)
        self.recorded.append(PlannedResource(
            type=request.type,
            name=request.name,
            urn=response.urn,
            custom=request.custom,
            parent=_logical_name(request.parent) if request.parent else None,
            protect=request.protect,
            retain_on_delete=request.retainOnDelete,
            depends_on=sorted(_logical_name(urn) for urn in deps),
            inputs=_reveal(json_format.MessageToDict(request.object, preserving_proto_field_name=True)),
            options=options,
        ))
        return response


def _logical_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _reveal(value: Any) -> Any:
    """Wire values as a reader wants them: secrets masked, unknowns spelled out."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return SECRET_MASK
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    if value == _UNKNOWN:
        return KNOWN_AFTER_APPLY
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format carries every number as a double
    return value


class PlanError(InfraError):
    """The program refused to run (bad settings, missing secrets); `declared` is what it registered first."""

    def __init__(self, message: str, declared: list[PlannedResource]) -> None:
        super().__init__(message)
        self.declared = declared


PLACEHOLDER_SECRET = "plan-placeholder-secret"


def placeholder_config() -> dict[str, str]:
    """Secret config for a credential-free plan: every secret the program may ask for, as a placeholder."""
    return {f"{PROJECT}:{secret.config_key}": PLACEHOLDER_SECRET for secret in Secret}


def run_plan(stack: str, config: dict[str, str] | None = None, preview: bool = True) -> Plan:
    """Evaluate `infra.program.main` for `stack` under mocks and return what it declared."""
    from infra.components.program import main

    config = placeholder_config() if config is None else config
    monitor = _RecordingMonitor(PlanMocks())
    runtime_settings.set_root_resource(None)  # each plan starts a fresh Stack root
    pulumi.runtime.set_mocks(PlanMocks(), project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(config, secret_keys=list(config))
    run = pulumi.runtime.test(main)
    try:
        run()
    except pulumi.RunError as exc:
        raise PlanError(str(exc), declared=list(monitor.recorded)) from None
    root = runtime_settings.get_root_resource()
    outputs = _resolve(getattr(root, "outputs", {}))
    return Plan(stack=stack, resources=sorted(monitor.recorded, key=lambda r: r.name), outputs=outputs)


def _resolve(outputs: dict[str, Any]) -> dict[str, Any]:
    async def gather() -> dict[str, Any]:
        resolved = {}
        for key, value in outputs.items():
            output = pulumi.Output.from_input(value)
            resolved[key] = SECRET_MASK if await output.is_secret() else await output.future()
        return resolved

    return asyncio.get_event_loop().run_until_complete(gather()) if outputs else {}
