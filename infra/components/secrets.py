"""Secrets come only from the stack's Pulumi secret config and leave only as `secret_text` bindings."""

from __future__ import annotations

import pulumi

from infra.errors import SecretsError
from infra.model.bindings import Secret, required_secrets
from infra.model.settings import StackSettings


def read_secrets(config: pulumi.Config, settings: StackSettings) -> dict[str, pulumi.Output[str]]:
    """Binding name -> secret Output; every missing secret is named at once, with the command to set it."""
    found: dict[str, pulumi.Output[str]] = {}
    missing: list[Secret] = []
    for secret in required_secrets(settings):
        value = config.get_secret(secret.config_key)
        if value is None:
            missing.append(secret)
        else:
            found[secret.value] = value
    if missing:
        commands = "\n".join(
            f"  pulumi config set --secret --stack {settings.environment} {s.config_key}" for s in missing
        )
        raise SecretsError(
            f"read secrets of stack '{settings.environment}' failed: missing "
            f"{', '.join(s.config_key for s in missing)}; set them with:\n{commands}"
        )
    return found
