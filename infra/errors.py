"""The project's exceptions. Messages follow one template: `<action> <thing> '<name>' failed: <reason>`,
followed by the next step where there is one."""


class InfraError(Exception):
    """Base of every error the infra package raises on purpose."""


class SettingsError(InfraError):
    """A stack file or stack config is invalid; raised before any resource is declared."""


class SecretsError(SettingsError):
    """A required secret is missing from the stack's Pulumi config."""


class DeclarationError(InfraError):
    """A Worker binding has no value to bind (an unknown D1 id, a missing secret): refused before it is declared."""
