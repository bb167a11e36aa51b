"""One line of a checking command's report (`infra preflight`, `infra smoke`): what was checked, how it went, why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
