"""The Pulumi program: read the stack's settings and secrets once, declare the stack, export outputs."""

from __future__ import annotations

from pathlib import Path

import pulumi

from infra.components.secrets import read_secrets
from infra.components.stack import deploy
from infra.errors import InfraError
from infra.model.settings import load_settings


def main() -> None:
    environment = pulumi.get_stack()
    config = pulumi.Config()
    try:
        settings_file = config.get("settings")  # another stack file for this stack (tests, experiments)
        settings = load_settings(environment, Path(settings_file) if settings_file else None)
        secrets = read_secrets(config, settings)
        outputs = deploy(settings, secrets)
    except InfraError as exc:
        raise pulumi.RunError(str(exc)) from None
    for key, value in outputs.items():
        pulumi.export(key, value)
