"""A pull request's review comment: the offline plan of each stack and what differs between neighbours, as
one Markdown document that CI posts as one comment (`.github/workflows/review.yml`).

Rendered from the pull request's code under Pulumi's mocks, so it needs no credentials and works on forks.
A stack whose plan fails gets its error in the document instead of a table; the others are still shown.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import pulumi
from rich.console import Console

from infra.errors import InfraError
from infra.plan.diff import diff_plans
from infra.plan.monitor import Plan, run_plan
from infra.plan.render import diff_table, print_plan

# GitHub refuses comments over 65,536 characters; this leaves room for the marker the posting job adds.
MAX_CHARS = 60_000
WIDTH = 200
# What a section adds around its text: the details/summary tags, the fence, a truncation note.
_FRAME = 300
INTRO = (
    "### Offline plan\n\n"
    "What this pull request's code declares in each stack, evaluated under Pulumi's mocks "
    "(`python -m infra review`: no Pulumi CLI, no credentials). It is not a preview of changes in Cloudflare: "
    "that is the `pulumi preview` jobs' summary, where the repository has set them up.\n"
)


@dataclass(frozen=True)
class Section:
    title: str
    text: str
    failed: bool = False


def review(stacks: Sequence[str], plan_of: Callable[[str], Plan] = run_plan) -> tuple[str, bool]:
    """(the Markdown document, whether every plan succeeded)."""
    sections: list[Section] = []
    plans: dict[str, Plan] = {}
    for stack in stacks:
        try:
            plans[stack] = plan = plan_of(stack)
        except (InfraError, pulumi.RunError) as exc:
            sections.append(Section(f"plan of {stack} failed", str(exc), failed=True))
            continue
        sections.append(Section(f"plan of {stack}: {len(plan.of_type(''))} resources",
                                _text(lambda console, plan=plan: print_plan(plan, console))))
    for left, right in pairwise(stacks):
        if left in plans and right in plans:
            differences = diff_plans(plans[left], plans[right])
            table = diff_table(left, right, differences)
            sections.append(Section(f"diff {left} {right}: {len(differences)} differences",
                                    _text(lambda console, table=table: console.print(table))))
    budgets = _budgets([len(section.text) for section in sections], MAX_CHARS - len(INTRO))
    body = "".join(_markdown(section, budget) for section, budget in zip(sections, budgets, strict=True))
    return INTRO + body, not any(section.failed for section in sections)


def _budgets(lengths: list[int], total: int) -> list[int]:
    """Characters each section may keep: short ones keep everything, long ones share what is left equally."""
    budgets = [0] * len(lengths)
    remaining = total - _FRAME * len(lengths)
    for done, index in enumerate(sorted(range(len(lengths)), key=lengths.__getitem__)):
        budgets[index] = min(lengths[index], remaining // (len(lengths) - done))
        remaining -= budgets[index]
    return budgets


def _text(draw: Callable[[Console], None]) -> str:
    out = io.StringIO()
    draw(Console(file=out, width=WIDTH, markup=False, highlight=False, color_system=None))
    return out.getvalue()


def _markdown(section: Section, budget: int) -> str:
    text = section.text
    if len(text) > budget:
        text = text[:budget] + f"\n… {len(section.text) - budget} more characters: run the command locally\n"
    summary = f"<details open><summary>❌ {section.title}" if section.failed else f"<details><summary>{section.title}"
    return f"\n{summary}</summary>\n\n````text\n{text.rstrip()}\n````\n\n</details>\n"
