"""The migration runner against the real local D1 (the miniflare SQLite file `wrangler dev` uses) and its
agreement with `wrangler d1 migrations`. The indexes behind every query: tests/infra/test_query_plans.py."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cloudflare
import pytest

from infra.cli import main
from infra.d1.executors import CloudflareD1Executor, D1Executor, LocalD1Executor
from infra.d1.migrations import CHECKSUMS_TABLE, MigrationError, MigrationRunner, discover
from infra.d1.sql import split_statements
from infra.model.bindings import MIGRATIONS_DIR
from tests.fakes.cloudflare_api import Database, FakeCloudflare

from .conftest import ACCOUNT_ID, API_TOKEN
from .d1_support import LOCAL_DATABASE, wrangler_d1, write_d1_config

FIRST = "0001_create_runs.sql"
ADD_NOTES = "0002_create_notes.sql"
NOTES_SQL = "-- 0002_create_notes: free-text notes on a run.\nCREATE TABLE notes (run_id TEXT NOT NULL, body TEXT);\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A migrations folder holding the project's first migration, a fixed baseline whatever the project adds
    later (the tests number their own from 0002); tests add or edit files in it."""
    path = tmp_path / "migrations"
    path.mkdir()
    shutil.copy(MIGRATIONS_DIR / FIRST, path / FIRST)
    return path


@pytest.fixture
def db(tmp_path: Path) -> LocalD1Executor:
    return LocalD1Executor(tmp_path / "state", LOCAL_DATABASE)


def runner(db: LocalD1Executor, folder: Path) -> MigrationRunner:
    return MigrationRunner(db, discover(folder))


def tables(db: LocalD1Executor) -> set[str]:
    return {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}


def recorded(db: LocalD1Executor) -> list[tuple[str, str | None]]:
    """(name, checksum) of every applied migration, in the order applied."""
    rows = db.query(f"SELECT m.name, c.sha256 FROM d1_migrations m LEFT JOIN {CHECKSUMS_TABLE} c USING (name) "
                    "ORDER BY m.id")
    return [(r["name"], r["sha256"]) for r in rows]


# -- reading migrations ------------------------------------------------------------------------------------


def test_the_project_migrations_are_read_in_number_order() -> None:
    migrations = discover()
    assert migrations[0].name == FIRST
    assert [m.number for m in migrations] == sorted(m.number for m in migrations)


def test_statements_split_where_sqlite_says_they_end() -> None:
    sql = ("-- header; with a semicolon\nCREATE TABLE t (a TEXT DEFAULT ';'); /* c; */\n"
           "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'x'; DELETE FROM t; END;\n-- trailing\n")
    assert split_statements(sql) == [
        "CREATE TABLE t (a TEXT DEFAULT ';')",
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'x'; DELETE FROM t; END",
    ]


@pytest.mark.parametrize(("name", "sql", "message"), [
    ("2_add.sql", "SELECT 1;", "read migration '2_add.sql' failed: the name must look like NNNN_verb_noun.sql "
                               "(four digits, then lowercase words joined by underscores)"),
    ("0002_empty.sql", "-- nothing yet\n", "read migration '0002_empty.sql' failed: it holds no SQL statement"),
    ("0002_tx.sql", "BEGIN TRANSACTION;\nCREATE TABLE x (a);\nCOMMIT;",
     "read migration '0002_tx.sql' failed: statement 1 is a transaction statement (BEGIN); D1 refuses them and "
     "the runner already applies each migration atomically: remove it"),
    ("0001_again.sql", "CREATE TABLE x (a);", "read migration '0001_create_runs.sql' failed: number 0001 is also "
                                              "used by 0001_again.sql; give it the next free number 0002"),
    ("0002_open.sql", "CREATE TABLE x (a);\nCREATE INDEX x_a ON x (a) -- no semicolon after this\n",
     "read migration '0002_open.sql' failed: its last statement does not end with ';' (or a string or comment is "
     "left open); the bookkeeping rows are sent right after the file's text, so end the last statement with ';'"),
])
def test_malformed_migrations_are_refused_before_anything_runs(folder: Path, name: str, sql: str,
                                                                message: str) -> None:
    (folder / name).write_text(sql)
    with pytest.raises(MigrationError) as failure:
        discover(folder)
    assert str(failure.value) == message


# -- applying --------------------------------------------------------------------------------------------


def test_apply_creates_the_schema_and_records_each_migration_with_its_checksum(db: LocalD1Executor,
                                                                             folder: Path) -> None:
    (folder / ADD_NOTES).write_text(NOTES_SQL)
    applied: list[str] = []
    outcome = runner(db, folder).apply(on_applied=lambda m: applied.append(m.name))
    assert applied == list(outcome.applied) == [FIRST, ADD_NOTES]
    assert {"runs", "run_assets", "run_events", "notes", "d1_migrations", CHECKSUMS_TABLE} <= tables(db)
    assert recorded(db) == [(m.name, m.checksum) for m in discover(folder)]


def test_applying_again_is_a_no_op(db: LocalD1Executor, folder: Path) -> None:
    runner(db, folder).apply()
    before = db.query("SELECT * FROM d1_migrations")
    outcome = runner(db, folder).apply()
    assert outcome.applied == () and outcome.adopted == ()
    assert db.query("SELECT * FROM d1_migrations") == before
    assert runner(db, folder).status().pending == ()


def test_a_failing_migration_leaves_the_database_as_it_was_and_records_nothing(db: LocalD1Executor,
                                                                              folder: Path) -> None:
    runner(db, folder).apply()
    (folder / "0002_add_broken.sql").write_text(
        "CREATE TABLE half (a TEXT);\nCREATE INDEX half_b ON half (b);\nINSERT INTO half VALUES ('x');\n")
    (folder / "0003_create_later.sql").write_text("CREATE TABLE later (a TEXT);\n")
    with pytest.raises(MigrationError) as failure:
        runner(db, folder).apply()
    assert str(failure.value) == (
        "apply migration '0002_add_broken.sql' failed: no such column: b\n"
        "  statement 2 of 3:\n    CREATE INDEX half_b ON half (b)\n"
        "Read back after the failure: nothing of 0002_add_broken.sql was applied or recorded (the batch was rolled "
        "back); earlier migrations stay applied. Fix the migration and run again."
    )
    assert "half" not in tables(db) and "later" not in tables(db)
    assert [name for name, _ in recorded(db)] == [FIRST]
    assert [m.name for m in runner(db, folder).status().pending] == ["0002_add_broken.sql", "0003_create_later.sql"]


def test_an_edited_applied_migration_is_refused_and_nothing_else_runs(db: LocalD1Executor, folder: Path) -> None:
    runner(db, folder).apply()
    applied_sum = discover(folder)[0].checksum
    (folder / FIRST).write_text((folder / FIRST).read_text() + "CREATE INDEX runs_model ON runs (model);\n")
    (folder / ADD_NOTES).write_text(NOTES_SQL)
    edited_sum = discover(folder)[0].checksum
    with pytest.raises(MigrationError) as failure:
        runner(db, folder).apply()
    assert str(failure.value) == (
        f"apply migration '{FIRST}' failed: the file changed after it was applied to local D1 "
        f"'{LOCAL_DATABASE}' in {db.persist_to} (applied sha256 {applied_sum[:12]}, file now {edited_sum[:12]}); "
        f"restore the applied version (git log -p -- worker_src/migrations/{FIRST}) and put the change in a "
        "new migration 0003_<verb>_<noun>.sql"
    )
    assert "notes" not in tables(db)


def test_a_crlf_checkout_of_an_applied_migration_is_not_an_edit(db: LocalD1Executor, folder: Path) -> None:
    runner(db, folder).apply()
    path = folder / FIRST
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert runner(db, folder).apply().applied == ()


def test_a_pending_migration_numbered_before_an_applied_one_is_refused(db: LocalD1Executor, folder: Path) -> None:
    (folder / "0003_create_later.sql").write_text("CREATE TABLE later (a TEXT);\n")
    runner(db, folder).apply()
    (folder / ADD_NOTES).write_text(NOTES_SQL)
    with pytest.raises(MigrationError) as failure:
        runner(db, folder).status()
    assert str(failure.value) == (
        f"apply migration '{ADD_NOTES}' failed: it is pending but the later 0003_create_later.sql is already "
        f"applied to local D1 '{LOCAL_DATABASE}' in {db.persist_to}; renumber it to 0004_create_notes.sql"
    )


def test_older_code_runs_against_a_newer_schema(db: LocalD1Executor, folder: Path) -> None:
    """A rollback deploys code whose folder lacks the newest migration: reported, never refused."""
    (folder / ADD_NOTES).write_text(NOTES_SQL)
    runner(db, folder).apply()
    (folder / ADD_NOTES).unlink()
    status = runner(db, folder).status()
    assert status.pending == () and status.unknown == (ADD_NOTES,)
    assert runner(db, folder).apply().applied == ()


# -- agreement with wrangler ------------------------------------------------------------------------------


def test_a_database_migrated_by_wrangler_is_up_to_date_for_the_runner(tmp_path: Path, db: LocalD1Executor,
                                                                      folder: Path) -> None:
    config = write_d1_config(tmp_path / "config", folder)
    wrangler_d1(config, db.persist_to, "migrations", "apply")
    status = runner(db, folder).status()
    assert status.applied == (FIRST,) and status.pending == ()
    outcome = runner(db, folder).apply()
    assert outcome.applied == () and outcome.adopted == (FIRST,)
    assert recorded(db) == [(FIRST, discover(folder)[0].checksum)]


def test_a_database_migrated_by_the_runner_is_up_to_date_for_wrangler(tmp_path: Path, db: LocalD1Executor,
                                                                      folder: Path) -> None:
    runner(db, folder).apply()
    config = write_d1_config(tmp_path / "config", folder)
    listed = wrangler_d1(config, db.persist_to, "migrations", "list")
    assert "No migrations to apply!" in listed.stdout
    (folder / ADD_NOTES).write_text(NOTES_SQL)
    wrangler_d1(config, db.persist_to, "migrations", "apply")  # wrangler applies the new one...
    outcome = runner(db, folder).apply()  # ...and the runner agrees, recording its checksum
    assert outcome.applied == () and outcome.adopted == (ADD_NOTES,)
    assert [name for name, _ in recorded(db)] == [FIRST, ADD_NOTES]


def test_the_runner_creates_wranglers_table_byte_for_byte(tmp_path: Path, db: LocalD1Executor, folder: Path) -> None:
    runner(db, folder).apply()
    theirs = LocalD1Executor(tmp_path / "wrangler-state", LOCAL_DATABASE)
    wrangler_d1(write_d1_config(tmp_path / "config", folder), theirs.persist_to, "migrations", "apply")
    ddl = "SELECT sql FROM sqlite_master WHERE name = 'd1_migrations'"
    assert db.query(ddl) == theirs.query(ddl)
    assert db.query("SELECT id, name FROM d1_migrations") == theirs.query("SELECT id, name FROM d1_migrations")


# -- through both executors, and over the D1 HTTP API -----------------------------------------------------

# Everything that breaks a runner which splits statements and joins them again: a `-- comment` before the `;`,
# block comments, `;` in strings and comments, a trigger body, a comment after the last `;` without a newline.
TRICKY = "0002_create_notes.sql"
TRICKY_SQL = """-- 0002_create_notes: notes on a run; this header holds a ';' too.
CREATE TABLE notes (
  run_id TEXT NOT NULL, -- the run; never null
  body TEXT NOT NULL DEFAULT 'a;b' /* a ';' inside a string */
) -- a comment before the statement's semicolon
;
/* a block comment between statements; with a ';' */
CREATE TRIGGER notes_mark AFTER INSERT ON notes BEGIN
  UPDATE notes SET body = body || ';' WHERE rowid = new.rowid;
END;
INSERT INTO notes (run_id) VALUES ('-- not a comment'); -- the last comment, no newline after it"""


def api_database(api: FakeCloudflare, *, autocommit: bool = False) -> tuple[CloudflareD1Executor, Database]:
    database = api.add_database(ACCOUNT_ID, "qwen-image-staging-metadata", autocommit=autocommit)
    client = cloudflare.Cloudflare(api_token=API_TOKEN, base_url=api.base_url, max_retries=0)
    return CloudflareD1Executor(client, ACCOUNT_ID, database.uuid, database.name), database


def schema_and_rows(executor: D1Executor) -> tuple[list[dict[str, str]], list[dict[str, str]], list[str]]:
    """The notes table as SQLite sees it (objects, columns), its rows, and what is recorded. The objects' SQL text
    is not compared: wrangler strips comments from what it runs, the runner sends the file as written."""
    schema = executor.query("SELECT type, name FROM sqlite_master WHERE name LIKE 'notes%' ORDER BY name")
    schema += executor.query("SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info('notes')")
    notes = executor.query("SELECT run_id, body FROM notes")
    return schema, notes, [row["name"] for row in executor.query("SELECT name FROM d1_migrations ORDER BY id")]


def test_a_migration_with_comments_strings_and_a_trigger_applies_alike_everywhere(
        tmp_path: Path, folder: Path, db: LocalD1Executor, cloudflare_api: FakeCloudflare) -> None:
    """The same file through the local file, the D1 API and wrangler's own `migrations apply`: one database."""
    (folder / TRICKY).write_text(TRICKY_SQL)
    remote, _ = api_database(cloudflare_api)
    for executor in (db, remote):
        assert MigrationRunner(executor, discover(folder)).apply().applied == (FIRST, TRICKY)
    theirs = LocalD1Executor(tmp_path / "wrangler-state", LOCAL_DATABASE)
    wrangler_d1(write_d1_config(tmp_path / "config", folder), theirs.persist_to, "migrations", "apply")
    schema, notes, names = schema_and_rows(db)
    assert notes == [{"run_id": "-- not a comment", "body": "a;b;"}], "the trigger body ran whole"
    assert [(row["type"], row["name"]) for row in schema[:2]] == [("table", "notes"), ("trigger", "notes_mark")]
    assert names == [FIRST, TRICKY]
    assert schema_and_rows(remote) == schema_and_rows(theirs) == (schema, notes, names)


def test_over_the_api_a_migration_is_the_files_text_then_its_records_in_one_request(
        folder: Path, cloudflare_api: FakeCloudflare) -> None:
    """What wrangler's `d1 migrations apply --remote` sends: the file as written, the bookkeeping after it."""
    (folder / TRICKY).write_text(TRICKY_SQL.replace("\n", "\r\n"))  # a CRLF checkout sends the same text
    remote, _ = api_database(cloudflare_api)
    MigrationRunner(remote, discover(folder)).apply()
    migration = next(m for m in discover(folder) if m.name == TRICKY)
    (sent,) = [r.body["sql"] for r in cloudflare_api.requests if r.body and "CREATE TABLE notes" in r.body["sql"]]
    assert sent == (TRICKY_SQL + "\n"
                    f"INSERT INTO d1_migrations (name) VALUES ('{TRICKY}');\n"
                    f"INSERT INTO {CHECKSUMS_TABLE} (name, sha256) VALUES ('{TRICKY}', '{migration.checksum}');\n")


def test_the_fake_d1_refuses_statements_joined_again_after_a_trailing_comment(cloudflare_api: FakeCloudflare) -> None:
    """The old way (split, then join with `;\\n`) puts the `;` inside the comment, as D1 reads it too."""
    remote, _ = api_database(cloudflare_api)
    with pytest.raises(Exception, match=r'near "CREATE": syntax error'):
        remote.run_batch("".join(f"{statement};\n" for statement in split_statements(TRICKY_SQL)))


BROKEN = "0002_add_broken.sql"
BROKEN_SQL = "CREATE TABLE half (a TEXT);\nCREATE INDEX half_a ON half (a);\nCREATE INDEX nope_b ON nope (b);\n"
NOT_NAMED = ("  statement: not named by the D1 API; `infra migrate --stack local` runs the same migration on the "
             "local database and names it\n")


def test_over_the_api_a_batch_d1_rolls_back_is_reported_as_nothing_applied(folder: Path,
                                                                            cloudflare_api: FakeCloudflare) -> None:
    remote, database = api_database(cloudflare_api)
    MigrationRunner(remote, discover(folder)).apply()
    (folder / BROKEN).write_text(BROKEN_SQL)
    with pytest.raises(MigrationError) as failure:
        MigrationRunner(remote, discover(folder)).apply()
    assert str(failure.value) == (
        f"apply migration '{BROKEN}' failed: no such table: main.nope: SQLITE_ERROR [code 7500] (on D1 "
        f"'qwen-image-staging-metadata')\n{NOT_NAMED}"
        f"Read back after the failure: nothing of {BROKEN} was applied or recorded (the batch was rolled back); "
        "earlier migrations stay applied. Fix the migration and run again."
    )
    assert cloudflare_api.rows(database, "SELECT name FROM sqlite_master WHERE name LIKE 'half%'") == []


def test_a_batch_d1_did_not_roll_back_is_reported_with_what_it_left_and_how_to_recover(
        folder: Path, cloudflare_api: FakeCloudflare) -> None:
    remote, database = api_database(cloudflare_api, autocommit=True)
    MigrationRunner(remote, discover(folder)).apply()
    (folder / BROKEN).write_text(BROKEN_SQL)
    with pytest.raises(MigrationError) as failure:
        MigrationRunner(remote, discover(folder)).apply()
    message = re.sub(r"--timestamp \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "--timestamp <sent at>", str(failure.value))
    assert message == (
        f"apply migration '{BROKEN}' failed: no such table: main.nope: SQLITE_ERROR [code 7500] (on D1 "
        f"'qwen-image-staging-metadata')\n{NOT_NAMED}"
        "Read back after the failure: D1 'qwen-image-staging-metadata' did not roll the batch back; "
        f"{BROKEN} is partly applied and not recorded in d1_migrations:\n"
        "  created table half\n"
        "  created index half_a\n"
        "The next run would apply the whole file again and fail on what is there. Recover first: restore it with "
        "D1 Time Travel to just before this run: `wrangler d1 time-travel restore qwen-image-staging-metadata "
        f"--timestamp <sent at>` (with CLOUDFLARE_ACCOUNT_ID={ACCOUNT_ID}; pick an earlier time if this machine's "
        "clock runs ahead); or undo the changes above by hand. Then fix the migration and run again."
    )
    assert cloudflare_api.rows(database, "SELECT name FROM sqlite_master WHERE name LIKE 'half%' ORDER BY name") == [
        ("half",), ("half_a",)]
    assert [m.name for m in MigrationRunner(remote, discover(folder)).status().pending] == [BROKEN]


def test_row_changes_of_a_batch_that_may_not_be_rolled_back_are_not_claimed_undone(
        folder: Path, cloudflare_api: FakeCloudflare) -> None:
    remote, _ = api_database(cloudflare_api, autocommit=True)
    MigrationRunner(remote, discover(folder)).apply()
    (folder / "0002_fill_runs.sql").write_text("DELETE FROM run_events;\nINSERT INTO nope VALUES (1);\n")
    with pytest.raises(MigrationError) as failure:
        MigrationRunner(remote, discover(folder)).apply()
    assert ("Read back after the failure: 0002_fill_runs.sql changed no schema and is not recorded; whether its row "
            "changes (statements 1, 2) were rolled back cannot be read back. Check those rows before running again; "
            "to go back to before this run, restore it with D1 Time Travel") in str(failure.value)


def test_when_the_database_cannot_be_read_back_the_report_says_so(folder: Path, cloudflare_api: FakeCloudflare) -> None:
    remote, _ = api_database(cloudflare_api)
    MigrationRunner(remote, discover(folder)).apply()
    (folder / BROKEN).write_text(BROKEN_SQL)
    query, failed = r"/accounts/\w+/d1/database/[\w-]+/query", []
    cloudflare_api.fail_next("POST", query, 500, 7000, "internal error",
                             when=lambda body: "CREATE TABLE half" in body["sql"] and not failed.append(True))
    cloudflare_api.drop_next("POST", query, times=None, when=lambda body: bool(failed))
    with pytest.raises(MigrationError) as failure:
        MigrationRunner(remote, discover(folder)).apply()
    assert str(failure.value).endswith(
        "Could not read D1 'qwen-image-staging-metadata' back after the failure (Connection error. (127.0.0.1) (on D1 "
        f"'qwen-image-staging-metadata')), so what of {BROKEN} took effect is unknown: before running again, compare "
        f"its schema with {BROKEN} (`infra migrate --dry-run` lists what is recorded).")


def test_migrate_applies_to_a_deployed_stack_found_by_name(cloudflare_env: FakeCloudflare,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    cloudflare_env.add_database(ACCOUNT_ID, "qwen-image-staging-metadata-old")  # a name that contains the other
    database = cloudflare_env.add_database(ACCOUNT_ID, "qwen-image-staging-metadata")
    assert main(["migrate", "--stack", "staging", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    writes = [r for r in cloudflare_env.requests if r.method == "POST" and not r.body["sql"].startswith("SELECT")]
    assert main(["migrate", "--stack", "staging"]) == 0
    applied = capsys.readouterr().out
    assert main(["migrate", "--stack", "staging"]) == 0
    again = capsys.readouterr().out
    names = [m.name for m in discover()]
    assert "Migrations of D1 'qwen-image-staging-metadata'" in dry
    assert f"{len(names)} pending; dry run: nothing applied" in dry
    assert writes == [], "a dry run only reads"
    assert all(f"applied {name}" in applied for name in names)
    assert "D1 'qwen-image-staging-metadata' is up to date: 0 applied now" in again
    assert cloudflare_env.rows(database, "SELECT name FROM d1_migrations ORDER BY id") == [(name,) for name in names]
    lookups = [r for r in cloudflare_env.requests if r.method == "GET"]
    assert lookups and all(r.query == {"name": ["qwen-image-staging-metadata"]} for r in lookups)


def test_migrate_of_the_local_stack_uses_local_state_dir_and_a_dry_run_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "dev-state"
    monkeypatch.setenv("LOCAL_STATE_DIR", str(state))
    assert main(["migrate", "--stack", "local", "--dry-run"]) == 0
    names = [m.name for m in discover()]
    assert f"Migrations of local D1 '{LOCAL_DATABASE}' in {state / 'state'}" in capsys.readouterr().out
    assert not state.exists(), "a dry run creates no folder and no database"
    assert main(["migrate", "--stack", "local"]) == 0
    assert f"is up to date: {len(names)} applied now" in capsys.readouterr().out
    applied = LocalD1Executor(state / "state", LOCAL_DATABASE).query("SELECT name FROM d1_migrations ORDER BY id")
    assert [row["name"] for row in applied] == names
