"""What differs between two stacks' plans, with each stack's own name folded out of physical names so
that only real differences (settings, switches, protection) remain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.plan.monitor import Plan

ABSENT = "(absent)"
_ENV = "<env>"


@dataclass(frozen=True)
class Difference:
    resource: str
    field: str
    left: Any
    right: Any


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else key, out)
    elif isinstance(value, list) and value and all(isinstance(i, dict) and ("name" in i or "id" in i) for i in value):
        # Bindings are keyed by name, lifecycle rules by id: order is not a difference.
        for item in value:
            _flatten(item, f"{prefix}[{item.get('name', item.get('id'))}]", out)
    else:
        out[prefix] = value


def _fold(value: Any, stack: str) -> Any:
    if isinstance(value, str):
        return value.replace(f"-{stack}-", f"-{_ENV}-").replace(f"-{stack}", f"-{_ENV}")
    if isinstance(value, list):
        return [_fold(v, stack) for v in value]
    return value


def comparable(plan: Plan) -> dict[str, dict[str, Any]]:
    """Resource name -> flattened inputs and options, for comparison across stacks."""
    result: dict[str, dict[str, Any]] = {}
    for resource in plan.of_type(""):
        fields: dict[str, Any] = {}
        _flatten(resource.inputs, "", fields)
        _flatten({"(options)": {"protect": resource.protect, "retain_on_delete": resource.retain_on_delete,
                                "depends_on": resource.depends_on, **resource.options}}, "", fields)
        result[resource.name] = {k: _fold(v, plan.stack) for k, v in fields.items() if not k.endswith("Sha256")}
    return result


def diff_plans(left: Plan, right: Plan) -> list[Difference]:
    a, b = comparable(left), comparable(right)
    differences = []
    for name in sorted(a.keys() | b.keys()):
        if name not in a or name not in b:
            differences.append(Difference(name, "(resource)", "declared" if name in a else ABSENT,
                                          "declared" if name in b else ABSENT))
            continue
        for field in sorted(a[name].keys() | b[name].keys()):
            left_value, right_value = a[name].get(field, ABSENT), b[name].get(field, ABSENT)
            if left_value != right_value:
                differences.append(Difference(name, field, left_value, right_value))
    return differences
