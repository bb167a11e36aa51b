"""One declaration of the facts Python, JavaScript and SQL share (`infra/model/contract.py` and the bindings in
`infra/model/bindings.py`), a generated `contract.js` per Worker, and the checks that every copy agrees."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.cli import main
from infra.d1.executors import LocalD1Executor
from infra.d1.migrations import MigrationRunner, discover
from infra.errors import DeclarationError
from infra.generate import contract as generator
from infra.model.bindings import ENV, Binding, Declared, Kind, When, bind, declare_workers
from infra.model.contract import ASYNC_MODELS, EXPORTS, MEDIA_KEY_PREFIX, REDRIVABLE, TERMINAL, RunStatus
from infra.model.naming import Role
from infra.model.settings import STACKS_DIR, load_settings

from .conftest import STACKS
from .d1_support import LOCAL_DATABASE

ROLES = (Role.BACKEND, Role.FRONTEND)
_EXPORTED = re.compile(r"^export (?:const|function|class) (\w+)", re.MULTILINE)
_IMPORT = re.compile(r"import \{([^}]*)\} from \"\./contract\.js\"")
_ENV_READ = re.compile(r"\benv\.([A-Z][A-Z0-9_]*)\b")


def worker_modules(role: Role) -> dict[str, str]:
    """The hand-written modules of a Worker (everything but its generated contract.js), by file name."""
    source = generator.contract_path(role).parent
    return {p.name: p.read_text() for p in sorted(source.glob("*.js")) if p.name != generator.FILE_NAME}


@pytest.mark.parametrize("role", ROLES)
def test_the_committed_contract_equals_a_fresh_generation(role: Role) -> None:
    committed = generator.contract_path(role).read_text()
    assert committed == generator.render(role), f"{generator.relative(generator.contract_path(role))} is stale: " \
        "run `make generate` and commit it"
    assert committed.startswith("// Generated from infra/model/contract.py and infra/model/bindings.py by "
                                "`make generate`: do not edit.\n")


def test_generate_check_fails_on_a_hand_edit_and_generate_repairs_it(tmp_path: Path, monkeypatch, capsys) -> None:
    for role in ROLES:
        shutil.copytree(generator.contract_path(role).parent, tmp_path / "worker_src" / str(role))
    monkeypatch.setattr(generator, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(generator, "WORKER_SRC", tmp_path / "worker_src")
    edited = tmp_path / "worker_src" / "backend" / "contract.js"
    edited.write_text(edited.read_text().replace("promptChars: 800", "promptChars: 900"))

    assert main(["generate", "--check"]) == 2
    assert capsys.readouterr().err.replace("\n", "") == (
        "error: check generated files failed: worker_src/backend/contract.js differ from a fresh generation (edited "
        "by hand, or a declaration changed); run `make generate` and commit"
    )
    assert main(["generate"]) == 0
    assert generator.stale() == []
    assert "promptChars: 800" in edited.read_text()


@pytest.mark.parametrize("role", ROLES)
def test_every_name_a_worker_gets_is_imported_by_one_of_its_modules(role: Role) -> None:
    exported = set(_EXPORTED.findall(generator.contract_path(role).read_text()))
    imported = {name.strip() for text in worker_modules(role).values() for group in _IMPORT.findall(text)
                for name in group.split(",")}
    assert exported - imported == set(), "exported to this Worker but never imported: drop it from EXPORTS"
    assert imported - exported == set()
    assert {name for name, export in EXPORTS.items() if role in export.workers} <= exported


@pytest.mark.parametrize("role", ROLES)
def test_every_env_read_is_declared_and_every_declared_binding_is_read(role: Role) -> None:
    read = {name for text in worker_modules(role).values() for name in _ENV_READ.findall(text)}
    declared = {entry.name for entry in ENV[role]}
    assert read - declared == set(), "read by the JavaScript but declared in infra/model/bindings.py for no stack"
    assert declared - read == set(), "declared but never read: a binding nobody uses"


def test_the_sql_check_on_run_statuses_lists_exactly_the_contract_statuses(tmp_path: Path) -> None:
    db = LocalD1Executor(tmp_path, LOCAL_DATABASE)
    MigrationRunner(db, discover()).apply()
    ddl = db.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'")[0]["sql"]
    listed = re.search(r"CHECK \(status IN\s*\(([^)]*)\)\)", ddl)
    assert listed, ddl
    assert re.findall(r"'([^']*)'", listed.group(1)) == list(RunStatus)
    with pytest.raises(Exception, match="CHECK constraint failed"):
        db.run_batch("INSERT INTO runs (id, request_id, request_hash, provider, model, status, prompt, parameters, "
                     "created_at, updated_at) VALUES ('r', 'q', 'h', 'p', 'm', 'paused', 'x', '{}', 't', 't');")


@pytest.mark.parametrize("stack", STACKS)
def test_every_lifecycle_rule_of_every_stack_file_covers_the_media_key_prefix(stack: str) -> None:
    rules = yaml.safe_load((STACKS_DIR / f"{stack}.yaml").read_text())["media"]["lifecycle"]["rules"]
    assert rules, "a stack without retention rules keeps every image forever"
    assert [rule["prefix"] for rule in rules if not MEDIA_KEY_PREFIX.startswith(rule["prefix"])] == []


def test_run_lifecycle_sets_follow_from_the_transitions() -> None:
    assert TERMINAL == (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.DEAD_LETTERED)
    assert REDRIVABLE == (RunStatus.FAILED, RunStatus.DEAD_LETTERED)


def test_only_the_model_aliases_serve_the_async_api() -> None:
    # qwen-image-max* are sync-only; async for qwen-image-plus-2026-01-09 is unconfirmed, so treated as sync-only.
    assert ASYNC_MODELS == ("qwen-image", "qwen-image-plus")


def test_bindings_present_on_some_stacks_only_are_optional_in_the_env_typedef() -> None:
    typedef = generator.contract_path(Role.BACKEND).read_text()
    assert " * @property {R2Bucket} MEDIA the media bucket: generated images\n" in typedef
    assert ' * @property {Queue} [JOBS] the jobs queue (producer); bound when ASYNC_ENABLED is "true"\n' in typedef
    frontend = generator.contract_path(Role.FRONTEND).read_text()
    assert ' * @property {Fetcher} [BACKEND] the backend Worker (service binding); bound when BACKEND_ACCESS is ' \
           '"service-binding"\n' in frontend


def test_a_binding_is_refused_when_its_stack_gives_it_no_value() -> None:
    declared = (Declared("BACKEND_URL", Kind.TEXT, "the backend", lambda s: s.frontend.backend_url),)
    with pytest.raises(DeclarationError) as caught:
        bind(declared, load_settings("staging"))
    assert str(caught.value) == ("declare binding 'BACKEND_URL' failed: stack 'staging' gives it no value; its "
                                 "settings field must be set wherever the binding is bound")


@pytest.mark.parametrize(("kind", "value", "why"), [
    (Kind.RATE_LIMIT, lambda s: "1001", "must be rate limit settings"),
    (Kind.TEXT, lambda s: s.generate_rate_limit, "must not be rate limit settings"),
])
def test_a_rate_limit_binding_takes_rate_limit_settings_and_nothing_else_does(kind: Kind, value, why: str) -> None:
    with pytest.raises(DeclarationError) as caught:
        bind((Declared("LIMIT", kind, "a limit", value),), load_settings("staging"))
    assert str(caught.value) == f"declare binding 'LIMIT' failed: a {kind} binding's value {why}"


def test_a_condition_must_name_a_text_binding_declared_before_it() -> None:
    declared = (Declared("JOBS", Kind.QUEUE, "jobs", lambda s: "q", when=When("ASYNC_ENABLED", "true")),)
    with pytest.raises(DeclarationError, match=r"^declare binding 'JOBS' failed: its condition names ASYNC_ENABLED, "
                                               r"which is not a text binding declared before it$"):
        bind(declared, load_settings("staging"))


_CHECK_STACKS = """
const cases = JSON.parse(await new Promise((done) => {
  let text = ""; process.stdin.on("data", (c) => (text += c)).on("end", () => done(text));
}));
const out = {};
for (const [label, { module, bindings }] of Object.entries(cases)) {
  const { bindingProblems } = await import(module);
  const env = Object.fromEntries(bindings.map((b) => [b.name, b.method ? { [b.method]: () => {} } : b.value]));
  out[label] = bindingProblems(env);
}
console.log(JSON.stringify(out));
"""


def test_every_committed_stacks_bindings_pass_the_workers_own_check() -> None:
    """The generated check, run by node on the values each stack deploys (secrets as placeholders)."""
    def as_given(binding: Binding) -> dict[str, str]:
        if binding.kind in generator.OBJECT_KINDS:
            return {"name": binding.name, "method": generator.OBJECT_KINDS[binding.kind][1]}
        return {"name": binding.name, "value": "placeholder" if binding.kind == Kind.SECRET else binding.target}

    cases = {
        f"{stack}/{spec.role}": {"module": generator.contract_path(spec.role).as_uri(),
                                 "bindings": [as_given(b) for b in spec.bindings]}
        for stack in STACKS for spec in declare_workers(load_settings(stack))
    }
    result = subprocess.run(["node", "--input-type=module", "-e", _CHECK_STACKS], input=json.dumps(cases),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {label: [] for label in cases}
