"""Every command README.md and docs/*.md tell an operator to type runs as written after the README's set-up.

The commands are taken from the documents themselves (fenced code blocks, and inline code in prose and
tables) whenever they start with `infra `, `python -m infra ` or `make `, so a new page or a renamed option
is checked without anyone listing it here. Each one is run the way a fresh operator runs it: in an
environment with only the virtualenv on PATH (what `. .venv/bin/activate` gives: no PYTHONPATH, no
variables of this test run) and from a folder outside the repository, with `--help` appended so nothing
touches a stack; its full argument list is then parsed by the CLI's own parser, so a wrong option or value
fails too. `make` targets are dry-run (`make -n`) in the repository, where `make` is run.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.cli import build_parser
from infra.model.settings import REPO_ROOT

DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
ENTRIES = (("python", "-m", "infra"), ("infra",), ("make",))
# Placeholders the docs write, and a value of the right shape for each.
PLACEHOLDERS = {"<env>": "staging", "<stack>": "staging", "<run-id>": "3f6c1a52-0000-4000-8000-000000000001",
                "<id>": "3f6c1a52-0000-4000-8000-000000000001"}
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
_INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_ENV_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]*=\S*$")


@dataclass(frozen=True)
class Documented:
    """One command as a document writes it, and where."""

    where: str
    text: str

    @property
    def argv(self) -> list[str]:
        """The words the shell would pass: env assignments dropped, `[optional]` parts kept, placeholders filled."""
        words = shlex.split(self.text.replace("[", " ").replace("]", " "), comments=True)
        while words and _ENV_PREFIX.match(words[0]):
            words.pop(0)
        return [PLACEHOLDERS.get(word, re.sub(r"^<[^>]+>$", "x", word)) for word in words]

    @property
    def entry(self) -> tuple[str, ...]:
        return next(entry for entry in ENTRIES if tuple(self.argv[: len(entry)]) == entry)

    @property
    def args(self) -> list[str]:
        return self.argv[len(self.entry):]


def documented_commands() -> list[Documented]:
    found: list[Documented] = []
    for path in DOCUMENTS:
        text = path.read_text()
        name = path.relative_to(REPO_ROOT).as_posix()
        for block in _FENCE.finditer(text):
            line = text[: block.start()].count("\n") + 2
            for offset, raw in enumerate(block.group(1).splitlines()):
                found.append(Documented(f"{name}:{line + offset}", raw.strip().removeprefix("$ ")))
        # Headings name a command group ("## By hand: `infra migrate`"); they are not commands to type.
        prose = _FENCE.sub(lambda block: "\n" * block.group(0).count("\n"), text)
        prose = re.sub(r"^#.*$", "", prose, flags=re.MULTILINE)
        for span in _INLINE.finditer(prose):
            line = prose[: span.start()].count("\n") + 1
            found.append(Documented(f"{name}:{line}", " ".join(span.group(1).split())))
    unique: dict[str, Documented] = {}
    for command in found:
        if _is_command(command):
            unique.setdefault(command.text, command)
    return list(unique.values())


def _is_command(command: Documented) -> bool:
    try:
        argv = command.argv
    except ValueError:  # not shell words at all (prose in backticks)
        return False
    return any(tuple(argv[: len(entry)]) == entry and len(argv) > len(entry) for entry in ENTRIES)


COMMANDS = documented_commands()
INFRA_COMMANDS = [c for c in COMMANDS if c.entry != ("make",)]
MAKE_COMMANDS = [c for c in COMMANDS if c.entry == ("make",)]


def operator_env(home: Path) -> dict[str, str]:
    """What an activated virtualenv gives a new shell: the venv first on PATH, nothing of this test run."""
    return {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "VIRTUAL_ENV": str(VENV_BIN.parent)}


def test_the_docs_name_commands_of_every_kind() -> None:
    """The extraction itself: if it found nothing, every test below would pass by checking nothing."""
    assert {command.entry for command in COMMANDS} >= {("infra",), ("make",)}
    assert any(c.args[:2] == ["runs", "list"] for c in INFRA_COMMANDS)
    assert any(c.args == ["plan", "STACK=production"] for c in MAKE_COMMANDS)


def test_the_readme_says_how_to_reach_the_infra_command() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "`. .venv/bin/activate`" in readme and "`.venv/bin/infra`" in readme and "`python -m infra`" in readme


@pytest.mark.parametrize("entry", [("infra",), (".venv/bin/infra",), ("python", "-m", "infra")])
def test_every_spelling_of_the_entry_works_outside_the_repository(entry: tuple[str, ...], tmp_path: Path) -> None:
    if entry[0].startswith(".venv/"):
        entry = (str(REPO_ROOT / entry[0]),)
    result = subprocess.run([*entry, "plan", "--help"], cwd=tmp_path, env=operator_env(tmp_path),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: infra plan")


@pytest.mark.parametrize("command", INFRA_COMMANDS, ids=lambda c: f"{c.where} {c.text}")
def test_each_documented_infra_command_runs_for_a_fresh_operator(command: Documented, tmp_path: Path) -> None:
    result = subprocess.run([*command.entry, *command.args, "--help"], cwd=tmp_path, env=operator_env(tmp_path),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{command.where}: `{command.text}` fails:\n{result.stderr}"
    assert result.stdout.startswith("usage: infra"), result.stdout
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.suppress(SystemExit):
        build_parser().parse_args(command.args)
    assert stderr.getvalue() == "", f"{command.where}: `{command.text}` is refused:\n{stderr.getvalue()}"


@pytest.mark.parametrize("command", MAKE_COMMANDS, ids=lambda c: f"{c.where} {c.text}")
def test_each_documented_make_target_exists(command: Documented, tmp_path: Path) -> None:
    result = subprocess.run(["make", "-n", *command.args], cwd=REPO_ROOT, env=operator_env(tmp_path),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{command.where}: `{command.text}` fails:\n{result.stderr}"


def test_a_mistake_in_a_documented_command_is_caught(tmp_path: Path) -> None:
    """The checks above can fail: a misspelt option and an unknown subcommand are refused."""
    for text in ("infra runs list --stack staging --state failed", "infra plans --stack staging"):
        command = Documented("example", text)
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.suppress(SystemExit):
            build_parser().parse_args(command.args)
        assert "error:" in stderr.getvalue(), text
    bad = subprocess.run(["infra", "plans", "--help"], cwd=tmp_path, env=operator_env(tmp_path),
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
