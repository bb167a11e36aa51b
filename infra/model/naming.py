"""Physical names: `<app>-<env>-<role>`, the only place an environment name becomes a resource name."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Protocol


class Role(StrEnum):
    MEDIA = "media"
    METADATA = "metadata"
    JOBS = "jobs"
    DEAD_LETTER = "jobs-dlq"
    BACKEND = "backend"
    FRONTEND = "frontend"


class Named(Protocol):
    """What a name is made of: any object with the stack's `app` and `environment` (`StackSettings`)."""

    @property
    def app(self) -> str: ...

    @property
    def environment(self) -> str: ...


# Cloudflare's limits per kind of name. Worker names are held to 54 (not 63) because workers.dev
# previews fail beyond that.
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
MAX_LENGTH = {
    Role.MEDIA: 63,
    Role.METADATA: 64,
    Role.JOBS: 63,
    Role.DEAD_LETTER: 63,
    Role.BACKEND: 54,
    Role.FRONTEND: 54,
}


def physical_name(settings: Named, role: Role) -> str:
    return f"{settings.app}-{settings.environment}-{role}"


def check_names(settings: Named) -> list[str]:
    """Every name the stack would declare, checked against its limit; returns the problems found."""
    problems = []
    for role, limit in MAX_LENGTH.items():
        name = physical_name(settings, role)
        if len(name) < 3 or len(name) > limit:
            problems.append(f"  app/environment: {role} name {name!r} is {len(name)} characters; "
                            f"Cloudflare allows 3 to {limit}: shorten app")
        elif not NAME_PATTERN.match(name):
            problems.append(f"  app/environment: {role} name {name!r} must be lowercase letters, digits and hyphens")
    return problems
