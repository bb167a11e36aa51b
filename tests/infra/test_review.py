"""`python -m infra review`: the offline plans and the diff that CI posts as one pull request comment."""

from __future__ import annotations

import re

import pytest

from infra.plan import PLACEHOLDER_SECRET, placeholder_config, run_plan
from infra.plan import review as review_module
from infra.plan.review import MAX_CHARS, review


def summaries(document: str) -> list[str]:
    return re.findall(r"<summary>(.*?)</summary>", document)


def test_review_shows_each_plan_and_the_diff_of_neighbouring_stacks(plan_cli) -> None:
    result = plan_cli("review", "staging", "production")
    assert result.returncode == 0, result.stderr
    document = result.stdout
    assert summaries(document) == ["plan of staging: 14 resources", "plan of production: 15 resources",
                                   "diff staging production: 36 differences"]
    assert "Bindings of qwen-image-staging-backend" in document
    assert "bindings[MEDIA_DELIVERY].text" in document
    assert "text=[secret]" in document and PLACEHOLDER_SECRET not in document
    assert "more characters" not in document, "today's plans fit whole"
    assert len(document) <= MAX_CHARS


def test_a_failing_plan_is_shown_open_and_fails_the_review(plan_of, write_stack) -> None:
    bad = write_stack("staging", lambda d: d["queues"].update(enabled="yes"))

    def staging_broken(stack: str):
        if stack != "staging":
            return plan_of(stack)
        return run_plan(stack, {**placeholder_config(), "qwen-image:settings": str(bad)})

    document, ok = review(["staging", "production"], staging_broken)
    assert not ok
    assert summaries(document) == ["❌ plan of staging failed", "plan of production: 15 resources"]
    assert "<details open><summary>❌ plan of staging failed" in document
    error = (f"load settings 'staging' failed: {bad} has 1 problem(s):\n"
             "  queues.enabled: Input should be a valid boolean")
    assert f"````text\n{error}\n````" in document


def test_long_plans_share_what_fits_in_one_comment(plan_of, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(review_module, "MAX_CHARS", 30_000)
    document, ok = review(["staging", "production"], plan_of)
    assert ok
    assert len(document) <= 30_000
    cut = re.findall(r"… (\d+) more characters: run the command locally", document)
    assert len(cut) == 2, "both plans are cut"
    diff = document[document.index("<summary>diff staging production"):]
    assert "more characters" not in diff, "the short diff keeps all of its lines"
