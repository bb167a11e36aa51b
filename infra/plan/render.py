"""Human-readable views of a plan and of the difference between two stacks' plans (rich tables)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from infra.plan.diff import Difference
from infra.plan.monitor import Plan, PlannedResource

SECONDS_PER_DAY = 86_400
_HIDDEN_INPUTS = {"accountId", "bindings", "files", "rules", "contentSha256", "settings"}


def _days(condition: dict[str, Any]) -> str:
    return f"{condition['maxAge'] // SECONDS_PER_DAY}d"


def describe_rule(rule: dict[str, Any]) -> str:
    parts = []
    if abort := rule.get("abortMultipartUploadsTransition"):
        parts.append(f"abort multipart after {_days(abort['condition'])}")
    for transition in rule.get("storageClassTransitions") or []:
        parts.append(f"{transition['storageClass']} after {_days(transition['condition'])}")
    if delete := rule.get("deleteObjectsTransition"):
        parts.append(f"delete after {_days(delete['condition'])}")
    prefix = rule["conditions"]["prefix"] or "*"
    return f"{rule['id']} [{prefix}]: {', '.join(parts)}"


def key_inputs(resource: PlannedResource) -> str:
    inputs = resource.inputs
    lines = [f"{k}={_scalar(v)}" for k, v in inputs.items() if k not in _HIDDEN_INPUTS]
    if "settings" in inputs:
        lines.append("settings: " + ", ".join(f"{k}={v}" for k, v in sorted(inputs["settings"].items())))
    lines += [describe_rule(rule) for rule in inputs.get("rules", [])]
    if "files" in inputs:
        lines.append(f"extra modules: {', '.join(sorted(inputs['files']))}")
    return "\n".join(lines)


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def binding_target(binding: dict[str, Any]) -> str:
    if "namespaceId" in binding:
        simple = binding.get("simple", {})
        return f"namespaceId={binding['namespaceId']} limit={simple.get('limit')}/{simple.get('period')}s"
    for key in ("bucketName", "id", "queueName", "service", "text"):
        if key in binding:
            return f"{key}={binding[key]}"
    return ""


def describe_options(resource: PlannedResource) -> list[str]:
    """Protection and replacement options as a reader wants them."""
    lines = ["protect, retain on delete"] if resource.protect else []
    for key, value in resource.options.items():
        if key == "replace_on_changes":
            lines.append(f"replaced when changed: {', '.join(value)}")
        elif key == "delete_before_replace":
            lines.append("replaced by deleting first")
        else:
            lines.append(f"{key}={value}")
    return lines


def print_plan(plan: Plan, console: Console) -> None:
    table = Table(title=f"Stack '{plan.stack}': {len(plan.of_type(''))} resources", show_lines=True)
    for column in ("type", "name", "inputs", "protection", "depends on"):
        table.add_column(column, overflow="fold", max_width=32 if column == "protection" else None)
    for resource in plan.of_type(""):
        table.add_row(resource.type.rsplit(":", 1)[-1], resource.name, key_inputs(resource),
                      "\n".join(describe_options(resource)), "\n".join(resource.depends_on))
    console.print(table)
    for script in plan.of_type("WorkersScript"):
        bindings = Table(title=f"Bindings of {script.inputs['scriptName']}")
        for column in ("name", "type", "target"):
            bindings.add_column(column)
        for binding in script.inputs.get("bindings", []):
            bindings.add_row(binding["name"], binding["type"], binding_target(binding))
        console.print(bindings)
    outputs = Table(title="Stack outputs")
    outputs.add_column("output")
    outputs.add_column("value")
    for key, value in plan.outputs.items():
        outputs.add_row(key, _scalar(value))
    console.print(outputs)


def diff_table(left: str, right: str, differences: list[Difference]) -> Table:
    table = Table(title=f"{left} vs {right}: {len(differences)} differences")
    for column in ("resource", "field", left, right):
        table.add_column(column)
    for d in differences:
        table.add_row(d.resource, d.field, json.dumps(d.left), json.dumps(d.right))
    return table
