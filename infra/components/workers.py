"""A Worker: its script (ES modules with bindings), cron triggers, workers.dev switch and optional custom domain."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_cloudflare as cloudflare

from infra.errors import DeclarationError
from infra.model.bindings import MAIN_MODULE, Binding, Kind, Secret, WorkerSpec
from infra.model.contract import COMPATIBILITY_DATE
from infra.model.settings import REPO_ROOT

MODULE_CONTENT_TYPE = "application/javascript+module"


@dataclass(frozen=True)
class WorkerArgs:
    account_id: str
    spec: WorkerSpec
    secrets: Mapping[str, pulumi.Output[str]]
    # Physical resource name -> the resource a binding targets (ordering) and, for D1, its id.
    targets: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    database_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    zone_id: str | None = None


def module_files(spec: WorkerSpec) -> dict[str, str]:
    """Module name -> repo-relative path of every ES module in the Worker's source folder.

    Paths are relative to the project root (Pulumi's working directory) so the stack state does not
    depend on where the repository is checked out.
    """
    return {
        path.relative_to(spec.source_dir).as_posix(): path.relative_to(REPO_ROOT).as_posix()
        for path in sorted(spec.source_dir.rglob("*.js"))
    }


def _sha256(repo_path: str) -> str:
    return hashlib.sha256((REPO_ROOT / repo_path).read_bytes()).hexdigest()


def binding_args(binding: Binding, args: WorkerArgs) -> cloudflare.WorkersScriptBindingArgs:
    """The API form of one binding. A D1 binding needs its database's id, a secret its value and a rate limit its
    counter (`namespace_id` + `simple {limit, period}`): without one the binding is refused here, naming it,
    instead of deploying a Worker that lacks it."""
    refused = f"declare binding '{binding.name}' of worker '{args.spec.script_name}' failed"
    target: dict[str, pulumi.Input[str]]
    if binding.kind == Kind.RATE_LIMIT:
        counter = binding.rate_limit()
        simple = cloudflare.WorkersScriptBindingSimpleArgs(limit=counter.limit, period=counter.period)
        return cloudflare.WorkersScriptBindingArgs(name=binding.name, type=str(binding.kind),
                                                   namespace_id=binding.target, simple=simple)
    if binding.kind == Kind.D1:
        if binding.target not in args.database_ids:
            raise DeclarationError(f"{refused}: no id for database '{binding.target}'; pass the MetadataStore's "
                                   "database_id in WorkerArgs.database_ids")
        target = {"id": args.database_ids[binding.target]}
    elif binding.kind == Kind.SECRET:
        if binding.target not in args.secrets:
            raise DeclarationError(f"{refused}: no value for secret {binding.target}; set it with pulumi config set "
                                   f"--secret {Secret(binding.target).config_key}")
        target = {"text": args.secrets[binding.target]}
    else:
        field_name = {Kind.R2: "bucket_name", Kind.QUEUE: "queue_name", Kind.SERVICE: "service", Kind.TEXT: "text"}
        target = {field_name[binding.kind]: binding.target}
    return cloudflare.WorkersScriptBindingArgs(name=binding.name, type=str(binding.kind), **target)


class Worker(pulumi.ComponentResource):
    script: cloudflare.WorkersScript
    subdomain: cloudflare.WorkersScriptSubdomain  # set by expose()
    custom_domain: cloudflare.WorkersCustomDomain | None
    routes: list[cloudflare.WorkersRoute]
    cron_trigger: cloudflare.WorkersCronTrigger | None

    def __init__(self, name: str, args: WorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("qwen-image:workers:Worker", name, None, opts)
        spec = args.spec
        modules = module_files(spec)
        if MAIN_MODULE not in modules:
            raise FileNotFoundError(f"declare worker '{spec.script_name}' failed: {spec.source_dir}/{MAIN_MODULE} "
                                    "does not exist")
        main = modules.pop(MAIN_MODULE)
        bound = [args.targets[b.target] for b in spec.bindings if b.target in args.targets]
        self.script = cloudflare.WorkersScript(
            f"{name}-script",
            account_id=args.account_id,
            script_name=spec.script_name,
            main_module=MAIN_MODULE,
            content_file=main,
            content_sha256=_sha256(main),
            files={
                module: cloudflare.WorkersScriptFilesArgs(
                    content_type=MODULE_CONTENT_TYPE, content_file=path, content_sha256=_sha256(path)
                )
                for module, path in modules.items()
            }
            or None,
            compatibility_date=COMPATIBILITY_DATE,
            observability=cloudflare.WorkersScriptObservabilityArgs(**spec.observability.model_dump()),
            bindings=[binding_args(b, args) for b in spec.bindings],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*bound, *args.depends_on]),
        )
        # Cron schedules are a resource of their own that names the script, so it waits for the script.
        self.cron_trigger = None
        if spec.crons:
            self.cron_trigger = cloudflare.WorkersCronTrigger(
                f"{name}-crons",
                account_id=args.account_id,
                script_name=self.script.script_name,
                schedules=[cloudflare.WorkersCronTriggerScheduleArgs(cron=cron) for cron in spec.crons],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.script]),
            )
        self._name_prefix, self._args = name, args
        self.register_outputs({"script_name": self.script.script_name})

    def expose(self, after: list[pulumi.Resource] | None = None) -> list[pulumi.Resource]:
        """Declare the Worker's public addresses (workers.dev switch, custom domain), once `after` exist.

        Separate from the script so that a rollout can order them: a backend goes private only after the
        frontend uses the service binding, and goes public before a frontend starts calling it by URL.
        Returns what a caller must wait for to reach the Worker publicly.
        """
        spec, args, name = self._args.spec, self._args, self._name_prefix
        self.subdomain = cloudflare.WorkersScriptSubdomain(
            f"{name}-workers-dev",
            account_id=args.account_id,
            script_name=self.script.script_name,
            enabled=spec.workers_dev,
            previews_enabled=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.script, *(after or [])]),
        )
        self.custom_domain = None
        if spec.custom_domain:
            self.custom_domain = cloudflare.WorkersCustomDomain(
                f"{name}-domain",
                account_id=args.account_id,
                hostname=spec.custom_domain,
                service=self.script.script_name,
                zone_id=args.zone_id,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.script, *(after or [])]),
            )
        self.routes = [
            cloudflare.WorkersRoute(
                f"{name}-route-{index}",
                zone_id=args.zone_id,
                pattern=pattern,
                script=self.script.script_name,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.script, *(after or [])]),
            )
            for index, pattern in enumerate(spec.routes)
        ]
        return [r for r in (self.subdomain, self.custom_domain, *self.routes) if r is not None]
