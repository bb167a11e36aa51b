"""Local wrangler configuration, derived from the same `WorkerSpec` that the Pulumi program deploys.

Generated into `build/wrangler/<env>/<role>/wrangler.jsonc` (never committed); secret values go to a
`.dev.vars` file beside each config, which wrangler reads and which is git-ignored.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from infra.errors import SecretsError
from infra.model.bindings import MAIN_MODULE, MIGRATIONS_DIR, Kind, WorkerSpec, declare_workers
from infra.model.contract import COMPATIBILITY_DATE
from infra.model.naming import Role
from infra.model.settings import REPO_ROOT, StackSettings

GENERATED_DIR = REPO_ROOT / "build" / "wrangler"


def render(spec: WorkerSpec, config_dir: Path) -> dict[str, Any]:
    """The wrangler config of one Worker; paths are relative to `config_dir`, where the file is written."""
    rel = lambda path: os.path.relpath(path, config_dir)  # noqa: E731
    config: dict[str, Any] = {
        "$schema": rel(REPO_ROOT / "node_modules" / "wrangler" / "config-schema.json"),
        "name": spec.script_name,
        "main": rel(spec.source_dir / MAIN_MODULE),
        "compatibility_date": COMPATIBILITY_DATE,
        "workers_dev": spec.workers_dev,
        "observability": spec.observability.model_dump(),
    }
    by_kind = lambda kind: [b for b in spec.bindings if b.kind == kind]  # noqa: E731
    if r2 := by_kind(Kind.R2):
        config["r2_buckets"] = [{"binding": b.name, "bucket_name": b.target} for b in r2]
    if d1 := by_kind(Kind.D1):
        config["d1_databases"] = [
            {"binding": b.name, "database_name": b.target, "database_id": b.target,
             "migrations_dir": rel(MIGRATIONS_DIR)}
            for b in d1
        ]
    queues: dict[str, Any] = {}
    if producers := by_kind(Kind.QUEUE):
        queues["producers"] = [{"binding": b.name, "queue": b.target} for b in producers]
    if spec.queue_consumers:
        queues["consumers"] = [
            {
                "queue": c.queue,
                "max_batch_size": c.settings.max_batch_size,
                "max_batch_timeout": c.settings.max_batch_timeout_seconds,
                "max_retries": c.settings.max_retries,
                "retry_delay": c.settings.retry_delay_seconds,
                "max_concurrency": c.settings.max_concurrency,
                **({"dead_letter_queue": c.dead_letter_queue} if c.dead_letter_queue else {}),
            }
            for c in spec.queue_consumers
        ]
    if queues:
        config["queues"] = queues
    if services := by_kind(Kind.SERVICE):
        config["services"] = [{"binding": b.name, "service": b.target} for b in services]
    if limits := by_kind(Kind.RATE_LIMIT):
        config["ratelimits"] = [
            {"name": b.name, "namespace_id": b.target, "simple": dataclasses.asdict(b.rate_limit())} for b in limits
        ]
    if texts := by_kind(Kind.TEXT):
        config["vars"] = {b.name: b.target for b in texts}
    if spec.crons:
        config["triggers"] = {"crons": list(spec.crons)}
    return config


def secret_names(spec: WorkerSpec) -> list[str]:
    return [b.name for b in spec.bindings if b.kind == Kind.SECRET]


def write_wrangler_configs(
    settings: StackSettings,
    secrets: Mapping[str, str],
    out_dir: Path | None = None,
    edit: Callable[[WorkerSpec], WorkerSpec] | None = None,
) -> dict[Role, Path]:
    """Write both Workers' configs (and `.dev.vars` with `secrets`); returns the config path per role.

    Every secret binding the declaration lists must be given a value, so a local run never starts with a
    Worker that lacks one. `edit` changes a declaration before it is written; tests use it to start a Worker
    with a binding removed or malformed.
    """
    out_dir = out_dir or GENERATED_DIR / settings.environment
    paths: dict[Role, Path] = {}
    for declared in declare_workers(settings):
        spec = edit(declared) if edit else declared
        config_dir = out_dir / str(spec.role)
        config_dir.mkdir(parents=True, exist_ok=True)
        path = config_dir / "wrangler.jsonc"
        header = f"// Generated from stacks/{settings.environment}.yaml by infra.generate.wrangler: do not edit.\n"
        path.write_text(header + json.dumps(render(spec, config_dir), indent=2) + "\n")
        needed = secret_names(spec)
        missing = [name for name in needed if name not in secrets]
        if missing:
            raise SecretsError(f"write wrangler config '{spec.script_name}' failed: no value for {', '.join(missing)}")
        dev_vars = config_dir / ".dev.vars"
        dev_vars.write_text("".join(f"{name}={json.dumps(secrets[name])}\n" for name in needed))
        dev_vars.chmod(0o600)
        paths[spec.role] = path
    return paths
