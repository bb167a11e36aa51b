"""The program evaluated offline under Pulumi's mocks (`monitor`), shown as tables (`render`) and compared
between stacks (`diff`): what CI review shows without a Pulumi CLI or credentials."""

from infra.plan.monitor import (
    KNOWN_AFTER_APPLY,
    PLACEHOLDER_SECRET,
    SECRET_MASK,
    Plan,
    PlanError,
    PlannedResource,
    placeholder_config,
    run_plan,
)

__all__ = [
    "KNOWN_AFTER_APPLY",
    "PLACEHOLDER_SECRET",
    "SECRET_MASK",
    "Plan",
    "PlanError",
    "PlannedResource",
    "placeholder_config",
    "run_plan",
]
