"""Drift: what differs between the code and what runs in Cloudflare, resource by resource.

Two views. `pulumi preview --refresh` (`infra.ops.preview`) compares Cloudflare, the stack's state and the
code for everything the provider reads back. Then what a refresh cannot see, read through the official SDK
(`infra.ops.cloudflare`) and compared with the program's own declaration, the offline plan (`infra.plan`: the
inputs `pulumi up` would send, evaluated under mocks):

- the D1 migration level against `worker_src/migrations` (the migration runner's own reading of it);
- the R2 lifecycle document, rule by rule and field by field (the provider reports false diffs on it, so a
  preview's change to it is checked against this comparison before it counts);
- each Worker's deployed modules by content hash (the provider hashes only the main module), bindings, secret
  bindings (that each exists: a value is never readable), compatibility date, Workers Logs settings, cron
  schedules and workers.dev switch;
- each queue and its consumer's settings and dead-letter queue;
- the custom domains and routes, and any the code does not declare that serve the stack's scripts.

Every finding is `ok`, `drift` or `unchecked` (with why); a failing question never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.d1.executors import TOKEN_ENV, D1Error
from infra.d1.migrations import Migration, MigrationError, MigrationRunner
from infra.model.bindings import Kind, declare_workers
from infra.model.settings import StackSettings
from infra.ops.cloudflare import CloudflareAccount, CloudflareApiError
from infra.ops.preview import PreviewOutcome
from infra.plan import Plan, PlannedResource

Status = Literal["ok", "drift", "unchecked"]
SECONDS_PER_DAY = 86_400
_NO_PERMISSION = 10000  # Cloudflare's code for a token that lacks the endpoint's permission
# The API's names of consumer settings, as the plan (Pulumi's camelCase) spells each.
_CONSUMER_SETTINGS = {"batch_size": "batchSize", "max_retries": "maxRetries", "max_wait_time_ms": "maxWaitTimeMs",
                      "max_concurrency": "maxConcurrency", "retry_delay": "retryDelay"}
# Where each binding kind keeps what it points at, in the plan (camelCase) and in the API's answer (snake_case).
_TARGET = {Kind.TEXT: ("text", "text"), Kind.R2: ("bucketName", "bucket_name"),
           Kind.QUEUE: ("queueName", "queue_name"), Kind.SERVICE: ("service", "service"),
           Kind.D1: ("id", "database_id")}


@dataclass(frozen=True)
class Finding:
    resource: str
    status: Status
    detail: str


@dataclass(frozen=True)
class _Rule:
    """One lifecycle rule as R2 applies it; ages in seconds (or a date), storage transitions in order."""

    enabled: bool
    prefix: str
    abort_multipart_after: object
    delete_after: object
    infrequent_access_after: tuple[object, ...]


_RULE_FIELDS = (("enabled", "enabled"), ("prefix", "prefix"),
                ("abort_multipart_after", "abort incomplete multipart uploads after"),
                ("delete_after", "delete objects after"),
                ("infrequent_access_after", "move to InfrequentAccess after"))


@dataclass
class Drift:
    """The drift findings of one stack: its settings, its offline plan, the account (None without a token), the
    outcome of `pulumi preview --refresh`, and the migrations of this checkout."""

    settings: StackSettings
    plan: Plan
    account: CloudflareAccount | None
    preview: Callable[[], PreviewOutcome]
    migrations: Sequence[Migration]
    _database_ids: dict[str, str | None] = field(default_factory=dict)

    def run(self) -> list[Finding]:
        cloud = list(self._cloudflare())
        return [*self._pulumi(cloud), *cloud]

    # -- pulumi preview --refresh ----------------------------------------------------------------------------

    def _pulumi(self, cloud: list[Finding]) -> Iterator[Finding]:
        name = "pulumi preview --refresh"
        outcome = self.preview()
        if outcome.problem is not None:
            yield Finding(name, "unchecked", outcome.problem)
            return
        if not outcome.changes:
            yield Finding(name, "ok", f"no changes: {outcome.unchanged} resources as in the code")
            return
        semantically_equal = {f.resource for f in cloud if f.status == "ok"}
        for change in outcome.changes:
            properties = f" ({', '.join(change.properties)})" if change.properties else ""
            if change.type == "R2BucketLifecycle" and change.op == "update" and change.name in semantically_equal:
                yield Finding(f"{change.name} (pulumi)", "ok",
                              f"pulumi proposes an update{properties}, but the rules compared one by one are as "
                              "declared: the provider's known false diff on lifecycle documents")
            else:
                yield Finding(f"{change.name} (pulumi)", "drift", f"pulumi proposes {change.op}{properties}")

    # -- Cloudflare -------------------------------------------------------------------------------------------

    def _cloudflare(self) -> Iterator[Finding]:
        if self.account is None:
            yield Finding("cloudflare", "unchecked", f"{TOKEN_ENV} is not set: export a token that may read the "
                                                     "account and zone (the read-only token of docs/runbook.md)")
            return
        try:
            status = self.account.token_status()
        except CloudflareApiError as exc:
            yield Finding("cloudflare", "unchecked", str(exc))
            return
        if status != "active":
            yield Finding("cloudflare", "unchecked", f"the API token is {status}: create a new one and export it as "
                                                     f"{TOKEN_ENV}")
            return
        checks: tuple[tuple[str, Callable[[PlannedResource], Iterator[Finding]]], ...] = (
            ("Migrations", self._migrations), ("R2BucketLifecycle", self._lifecycle),
            ("WorkersScript", self._script), ("WorkersCronTrigger", self._crons),
            ("WorkersScriptSubdomain", self._workers_dev), ("index/queue:Queue", self._queue),
            ("QueueConsumer", self._consumer), ("WorkersCustomDomain", self._custom_domain),
            ("WorkersRoute", self._route),
        )
        for type_suffix, check in checks:
            for resource in self.plan.of_type(type_suffix):
                yield from _guarded(resource.name, check, resource)
        yield from _guarded("undeclared addresses", lambda _: self._undeclared_addresses(), None)

    def _api(self) -> CloudflareAccount:
        if self.account is None:
            raise CloudflareApiError(f"ask the Cloudflare API failed: {TOKEN_ENV} is not set")
        return self.account

    def _database_id(self, name: str) -> str | None:
        if name not in self._database_ids:
            self._database_ids[name] = self._api().database_id(name)
        return self._database_ids[name]

    def _migrations(self, resource: PlannedResource) -> Iterator[Finding]:
        name = str(resource.inputs["databaseName"])
        database = self._api().database(name)
        if database is None:
            yield Finding(resource.name, "drift", f"D1 database '{name}' does not exist: `pulumi up` creates it and "
                                                  "applies every migration")
            return
        self._database_ids[name] = database.database_id
        try:
            status = MigrationRunner(database, self.migrations).inspect()
        except D1Error as exc:
            hint = ("; reading it needs D1 Edit, which the D1 query endpoint requires even for a SELECT (the drift "
                    "token of docs/runbook.md, 'CI environments')") if _NO_PERMISSION in exc.codes else ""
            yield Finding(resource.name, "unchecked", f"read the migrations of D1 '{name}' failed: {exc}{hint}")
            return
        problems = []
        if status.pending:
            problems.append(f"pending {', '.join(m.name for m in status.pending)} (the schema is behind the code)")
        if status.unknown:
            problems.append(f"applied but not in worker_src/migrations: {', '.join(status.unknown)}")
        problems += [f"{e.name} changed after it was applied (applied sha256 {e.applied_sha256[:12]}, file "
                     f"{e.file_sha256[:12]})" for e in status.edited]
        if status.out_of_order:
            problems.append(f"{', '.join(m.name for m in status.out_of_order)} pending although the later "
                            f"{status.last_applied} is applied")
        if problems:
            yield Finding(resource.name, "drift", f"D1 '{name}': " + "; ".join(problems))
        else:
            yield Finding(resource.name, "ok", f"D1 '{name}': {len(status.applied)} migrations applied, as in "
                                               "worker_src/migrations")

    def _lifecycle(self, resource: PlannedResource) -> Iterator[Finding]:
        bucket = str(resource.inputs["bucketName"])
        deployed = self._api().lifecycle_rules(bucket)
        if deployed is None:
            yield Finding(resource.name, "drift", f"R2 bucket '{bucket}' does not exist")
            return
        declared, found = _rules(resource.inputs.get("rules") or []), _rules(deployed)
        problems = [f"rule '{rule}' is missing" for rule in declared if rule not in found]
        problems += [f"rule '{rule}' is not in the code" for rule in found if rule not in declared]
        for rule in declared.keys() & found.keys():
            for attr, label in _RULE_FIELDS:
                want, have = getattr(declared[rule], attr), getattr(found[rule], attr)
                if want != have:
                    problems.append(f"rule '{rule}': {label} {_shown(have)} deployed, {_shown(want)} in the code")
        if problems:
            yield Finding(resource.name, "drift", f"R2 bucket '{bucket}': " + "; ".join(sorted(problems)))
        else:
            yield Finding(resource.name, "ok", f"R2 bucket '{bucket}': {len(declared)} lifecycle rules as declared")

    def _script(self, resource: PlannedResource) -> Iterator[Finding]:
        inputs, api = resource.inputs, self._api()
        name = str(inputs["scriptName"])
        modules = api.script_modules(name)
        if modules is None:
            yield Finding(resource.name, "drift", f"Worker script '{name}' does not exist")
            return
        yield self._modules(resource, modules.main_module, modules.sha256)
        config = api.script_config(name)
        if config is None:
            yield Finding(f"{resource.name} settings", "drift", f"Worker script '{name}' has no settings")
            return
        declared = [b for b in inputs.get("bindings") or [] if isinstance(b, dict)]
        try:
            yield self._bindings(resource, declared, config.bindings)
        except CloudflareApiError as exc:  # the D1 binding's database could not be looked up
            yield Finding(f"{resource.name} bindings", "unchecked", str(exc))
        yield self._secrets(resource, declared, config.bindings)
        problems = []
        if config.compatibility_date != inputs.get("compatibilityDate"):
            problems.append(f"compatibility date {config.compatibility_date} deployed, "
                            f"{inputs.get('compatibilityDate')} in the code")
        want = inputs.get("observability") or {}
        have = (config.observability.get("enabled"), config.observability.get("head_sampling_rate"))
        if have != (want.get("enabled"), want.get("headSamplingRate")):
            problems.append(f"Workers Logs enabled={have[0]}, head_sampling_rate={have[1]} deployed; "
                            f"enabled={want.get('enabled')}, head_sampling_rate={want.get('headSamplingRate')} "
                            "in the code")
        if problems:
            yield Finding(f"{resource.name} settings", "drift", "; ".join(problems))
        else:
            yield Finding(f"{resource.name} settings", "ok", f"compatibility date {config.compatibility_date}, "
                                                             "Workers Logs as declared")

    def _modules(self, resource: PlannedResource, main: str, deployed: dict[str, str]) -> Finding:
        inputs = resource.inputs
        files = {str(inputs["mainModule"]): (str(inputs["contentFile"]), str(inputs["contentSha256"]))}
        files |= {module: (str(f["contentFile"]), str(f["contentSha256"])) for module, f in
                  (inputs.get("files") or {}).items()}
        problems = []
        if main != inputs["mainModule"]:
            problems.append(f"main module {main} deployed, {inputs['mainModule']} in the code")
        for module, (path, sha256) in sorted(files.items()):
            if module not in deployed:
                problems.append(f"{module} is not deployed")
            elif deployed[module] != sha256:
                problems.append(f"{module} differs from {path} (deployed sha256 {deployed[module][:12]}, code "
                                f"{sha256[:12]})")
        problems += [f"{module} is deployed but not in the code" for module in sorted(deployed) if module not in files]
        if problems:
            return Finding(f"{resource.name} modules", "drift", "; ".join(problems))
        return Finding(f"{resource.name} modules", "ok", f"{len(files)} modules, each as in the code (sha256)")

    def _bindings(self, resource: PlannedResource, declared: list[dict[str, Any]],
                  deployed: Sequence[dict[str, Any]]) -> Finding:
        want = {str(b["name"]): self._declared_target(resource, b) for b in declared if b.get("type") != Kind.SECRET}
        have = {str(b["name"]): _deployed_target(b) for b in deployed if b.get("type") != Kind.SECRET}
        problems = [f"{name} is missing" for name in want if name not in have]
        problems += [f"{name} is bound but not in the code" for name in have if name not in want]
        problems += [f"{name} is {_binding(have[name])} deployed, {_binding(want[name])} in the code"
                     for name in want if name in have and have[name] != want[name]]
        if problems:
            return Finding(f"{resource.name} bindings", "drift", "; ".join(sorted(problems)))
        return Finding(f"{resource.name} bindings", "ok", f"{len(want)} bindings as declared")

    def _declared_target(self, resource: PlannedResource, binding: dict[str, Any]) -> tuple[str, str | None]:
        kind = str(binding.get("type"))
        if kind == Kind.D1:  # offline the database's id is unknown: bindings.py names the database, looked up here
            database = self._bound_database(str(resource.inputs["scriptName"]), str(binding["name"]))
            return kind, self._database_id(database)
        if kind == Kind.RATE_LIMIT:
            simple = binding.get("simple") or {}
            return kind, _rate_limit(binding.get("namespaceId"), simple.get("limit"), simple.get("period"))
        value = binding.get(_TARGET[kind][0]) if kind in _TARGET else None
        return kind, None if value is None else str(value)

    def _bound_database(self, script: str, binding: str) -> str:
        for spec in declare_workers(self.settings):
            for bound in spec.bindings:
                if spec.script_name == script and bound.name == binding:
                    return bound.target
        raise CloudflareApiError(f"compare binding '{binding}' of Worker script '{script}' failed: infra/model/"
                                 "bindings.py declares no such D1 binding")

    def _secrets(self, resource: PlannedResource, declared: list[dict[str, Any]],
                 deployed: Sequence[dict[str, Any]]) -> Finding:
        want = sorted(str(b["name"]) for b in declared if b.get("type") == Kind.SECRET)
        have = sorted(str(b["name"]) for b in deployed if b.get("type") == Kind.SECRET)
        problems = [f"{name} is not bound (`pulumi up` binds it from the stack's secrets)" for name in want
                    if name not in have]
        problems += [f"{name} is bound but not in the code" for name in have if name not in want]
        if problems:
            return Finding(f"{resource.name} secrets", "drift", "; ".join(problems))
        return Finding(f"{resource.name} secrets", "ok", f"{', '.join(want) or 'none'} bound (values are never "
                                                         "readable, so a changed value is not seen)")

    def _crons(self, resource: PlannedResource) -> Iterator[Finding]:
        script = str(resource.inputs["scriptName"])
        deployed = self._api().cron_schedules(script)
        want = sorted(str(s["cron"]) for s in resource.inputs.get("schedules") or [])
        if deployed is None:
            yield Finding(resource.name, "drift", f"Worker script '{script}' does not exist")
        elif sorted(deployed) != want:
            yield Finding(resource.name, "drift", f"'{script}' runs on {_crontab(deployed)}; the code declares "
                                                  f"{_crontab(want)}")
        else:
            yield Finding(resource.name, "ok", f"'{script}' runs on {_crontab(want)}")

    def _workers_dev(self, resource: PlannedResource) -> Iterator[Finding]:
        script = str(resource.inputs["scriptName"])
        deployed = self._api().workers_dev(script)
        want = (bool(resource.inputs.get("enabled")), bool(resource.inputs.get("previewsEnabled")))
        if deployed is None:
            yield Finding(resource.name, "drift", f"Worker script '{script}' does not exist")
        elif deployed != want:
            yield Finding(resource.name, "drift", f"'{script}' on workers.dev: {_on(deployed[0])} (previews "
                                                  f"{_on(deployed[1])}); the code says {_on(want[0])} (previews "
                                                  f"{_on(want[1])})")
        else:
            yield Finding(resource.name, "ok", f"'{script}' on workers.dev: {_on(want[0])}")

    def _queue(self, resource: PlannedResource) -> Iterator[Finding]:
        name = str(resource.inputs["queueName"])
        queue = self._api().queues().get(name)
        want = (resource.inputs.get("settings") or {}).get("messageRetentionPeriod")
        if queue is None:
            yield Finding(resource.name, "drift", f"queue '{name}' does not exist")
        elif want is not None and queue.message_retention_seconds != want:
            yield Finding(resource.name, "drift", f"queue '{name}' keeps messages {queue.message_retention_seconds} s; "
                                                  f"the code says {want} s")
        else:
            yield Finding(resource.name, "ok", f"queue '{name}' as declared")

    def _consumer(self, resource: PlannedResource) -> Iterator[Finding]:
        # The consumer names its queue by id, known only after apply; the plan records which queue it depends on.
        queue_resource = next(q for q in self.plan.of_type("index/queue:Queue") if q.name in resource.depends_on)
        name = str(queue_resource.inputs["queueName"])
        queue = self._api().queues().get(name)
        if queue is None:
            yield Finding(resource.name, "drift", f"queue '{name}' does not exist, so it has no consumer")
            return
        consumers = self._api().queue_consumers(queue)
        inputs = resource.inputs
        script = str(inputs["scriptName"])
        if len(consumers) != 1 or consumers[0].script_name != script:
            found = ", ".join(f"'{c.script_name}'" for c in consumers) or "none"
            yield Finding(resource.name, "drift", f"queue '{name}' is consumed by {found}; the code declares "
                                                  f"Worker '{script}'")
            return
        consumer, want = consumers[0], inputs.get("settings") or {}
        problems = [f"{api} {_number(consumer.settings.get(api))} deployed, {want.get(plan)} in the code"
                    for api, plan in _CONSUMER_SETTINGS.items()
                    if want.get(plan) is not None and consumer.settings.get(api) != want.get(plan)]
        if consumer.dead_letter_queue != inputs.get("deadLetterQueue"):
            problems.append(f"dead-letter queue {consumer.dead_letter_queue or 'none'} deployed, "
                            f"{inputs.get('deadLetterQueue') or 'none'} in the code")
        if problems:
            yield Finding(resource.name, "drift", f"consumer of '{name}': " + "; ".join(problems))
        else:
            dead_letter = f", dead letters to '{consumer.dead_letter_queue}'" if consumer.dead_letter_queue else ""
            yield Finding(resource.name, "ok", f"'{script}' consumes '{name}' as declared{dead_letter}")

    def _custom_domain(self, resource: PlannedResource) -> Iterator[Finding]:
        hostname, service = str(resource.inputs["hostname"]), str(resource.inputs["service"])
        domain = self._api().custom_domain(hostname)
        if domain is None:
            yield Finding(resource.name, "drift", f"custom domain {hostname} does not exist")
        elif domain.service != service:
            yield Finding(resource.name, "drift", f"{hostname} serves '{domain.service}'; the code says '{service}'")
        elif resource.inputs.get("zoneId") and domain.zone_id != resource.inputs["zoneId"]:
            yield Finding(resource.name, "drift", f"{hostname} is in zone {domain.zone_id}; the code says "
                                                  f"{resource.inputs['zoneId']}")
        else:
            yield Finding(resource.name, "ok", f"{hostname} serves '{service}'")

    def _route(self, resource: PlannedResource) -> Iterator[Finding]:
        pattern, script = str(resource.inputs["pattern"]), str(resource.inputs["script"])
        routes = [r for r in self._api().routes(str(resource.inputs["zoneId"])) if r.pattern == pattern]
        if not routes:
            yield Finding(resource.name, "drift", f"route {pattern} does not exist")
        elif routes[0].script != script:
            yield Finding(resource.name, "drift", f"route {pattern} runs '{routes[0].script}'; the code says "
                                                  f"'{script}'")
        else:
            yield Finding(resource.name, "ok", f"route {pattern} runs '{script}'")

    def _undeclared_addresses(self) -> Iterator[Finding]:
        """Custom domains and routes that serve one of the stack's scripts without being in the code (a backend
        made public in the dashboard is one)."""
        api = self._api()
        scripts = [str(s.inputs["scriptName"]) for s in self.plan.of_type("WorkersScript")]
        declared = {str(d.inputs["hostname"]) for d in self.plan.of_type("WorkersCustomDomain")}
        declared |= {str(r.inputs["pattern"]) for r in self.plan.of_type("WorkersRoute")}
        extra = [f"custom domain {d.hostname} serves '{script}'" for script in scripts
                 for d in api.custom_domains(script) if d.hostname not in declared]
        zone = self.settings.cloudflare.zone_id
        if zone is not None:
            extra += [f"route {r.pattern} runs '{r.script}'" for r in api.routes(zone)
                      if r.script in scripts and r.pattern not in declared]
        if extra:
            yield Finding("undeclared addresses", "drift", "; ".join(extra) + ", but the code does not declare it")
        else:
            where = " and routes of the stack's zone" if zone is not None else ""
            yield Finding("undeclared addresses", "ok", f"no custom domain{where} serves the stack's scripts beyond "
                                                        "the declared ones")


def verdict(findings: Sequence[Finding]) -> int:
    """Exit code: 1 when anything drifted (even if something else could not be checked), else 2 when something
    could not be checked, else 0."""
    statuses = {finding.status for finding in findings}
    return 1 if "drift" in statuses else 2 if "unchecked" in statuses else 0


def _rules(rules: Sequence[dict[str, Any]]) -> dict[str, _Rule]:
    """Rules by id, in R2's spelling (the plan's and the API's alike), reduced to what R2 applies: a missing
    transition and an empty list of them are the same, and so is the order of storage transitions."""
    return {str(rule["id"]): _Rule(
        enabled=bool(rule.get("enabled")),
        prefix=str((rule.get("conditions") or {}).get("prefix", "")),
        abort_multipart_after=_when(rule.get("abortMultipartUploadsTransition")),
        delete_after=_when(rule.get("deleteObjectsTransition")),
        infrequent_access_after=tuple(sorted((_when(t) for t in rule.get("storageClassTransitions") or []),
                                             key=repr)),
    ) for rule in rules}


def _when(transition: Any) -> object:
    """A transition's condition: ("age", seconds) or ("date", date); None without one."""
    condition = transition.get("condition") if isinstance(transition, dict) else None
    if not isinstance(condition, dict):
        return None
    return ("age", int(condition["maxAge"])) if condition.get("type") == "Age" else ("date", condition.get("date"))


def _guarded(resource: str, check: Callable[[Any], Iterator[Finding]], argument: Any) -> Iterator[Finding]:
    """A check's findings; an API that refuses or fails makes the resource `unchecked`, with the reason."""
    try:
        yield from check(argument)
    except (CloudflareApiError, D1Error, MigrationError) as exc:
        yield Finding(resource, "unchecked", str(exc))


def _shown(value: object) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "age":
        seconds = int(str(value[1]))
        return f"{seconds // SECONDS_PER_DAY} days" if seconds % SECONDS_PER_DAY == 0 else f"{seconds} s"
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "date":
        return f"on {value[1]}"
    if isinstance(value, tuple):
        return ", ".join(_shown(v) for v in value) or "never"
    return "never" if value is None else repr(value)


def _deployed_target(binding: dict[str, Any]) -> tuple[str, str | None]:
    kind = str(binding.get("type"))
    if kind == Kind.RATE_LIMIT:
        simple = binding.get("simple") or {}
        return kind, _rate_limit(binding.get("namespace_id"), simple.get("limit"), simple.get("period"))
    if kind == Kind.D1:
        value = binding.get("database_id") or binding.get("id")
    else:
        value = binding.get(_TARGET[kind][1]) if kind in _TARGET else None
    return kind, None if value is None else str(value)


def _rate_limit(namespace: object, limit: object, period: object) -> str:
    """A rate limit binding as one comparable text (the API's numbers arrive as floats)."""
    whole = lambda value: f"{value:g}" if isinstance(value, int | float) else str(value)  # noqa: E731
    return f"namespace {namespace}, {whole(limit)} per {whole(period)} s"


def _binding(target: tuple[str, str | None]) -> str:
    return f"{target[0]} {target[1]!r}"


def _crontab(crons: Sequence[str]) -> str:
    return ", ".join(f"'{cron}'" for cron in sorted(crons)) or "no schedule"


def _on(value: bool) -> str:
    return "on" if value else "off"


def _number(value: float | None) -> str:
    return "unset" if value is None else f"{value:g}"
