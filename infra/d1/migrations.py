"""The D1 migration runner: `worker_src/migrations/NNNN_verb_noun.sql`, in order, each exactly once.

Applied migrations are recorded in wrangler's own table (`d1_migrations`: `id`, `name`, `applied_at`,
created with wrangler's exact DDL), so `wrangler d1 migrations list|apply` and this runner always agree.
The sha256 of each applied file goes to a table of our own beside it, `d1_migrations_checksums`, which
wrangler never reads; that is how an edited, already-applied migration is refused. A migration written
with wrangler (no checksum yet) is adopted: its current checksum is recorded on the next run.

Each migration is applied in one batch together with both of its bookkeeping rows: the file's own text, as
wrangler sends it, then the two inserts. Locally and on D1 a batch is a transaction, so a failing migration
should leave the database as it was and nothing recorded; the runner does not take that on trust: after a
failure it reads `d1_migrations` and the schema back and reports what is there (partly applied, recorded or
not) and how to recover.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from infra.d1.executors import D1Error, D1Executor
from infra.d1.sql import ends_complete, split_statements
from infra.errors import InfraError
from infra.model.bindings import MIGRATIONS_DIR

MIGRATIONS_TABLE = "d1_migrations"
CHECKSUMS_TABLE = "d1_migrations_checksums"
# Byte for byte what wrangler runs (`initMigrationsTable`), so either tool may create the table first.
MIGRATIONS_TABLE_DDL = f"""CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}(
\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,
\t\tname       TEXT UNIQUE,
\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)"""
CHECKSUMS_TABLE_DDL = f"""CREATE TABLE IF NOT EXISTS {CHECKSUMS_TABLE}(
  name        TEXT PRIMARY KEY,
  sha256      TEXT NOT NULL,
  recorded_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)"""
NAME_PATTERN = re.compile(r"^(\d{4})_[a-z0-9]+(_[a-z0-9]+)*\.sql$")
_ROW_CHANGE = re.compile(r"^(INSERT|UPDATE|DELETE|REPLACE|WITH)\b", re.IGNORECASE)
_TRANSACTION_CONTROL = re.compile(r"^(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


class MigrationError(InfraError):
    """A migration cannot be read, was edited after it was applied, or failed to apply."""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str = field(repr=False)

    @property
    def number(self) -> int:
        return int(self.name[:4])

    @cached_property
    def text(self) -> str:
        """The file with line endings normalised: what is hashed and sent, so a CRLF checkout is not an edit."""
        return self.sql.replace("\r\n", "\n")

    @cached_property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @cached_property
    def statements(self) -> list[str]:
        return split_statements(self.text)

    def check(self) -> None:
        """Refuse what D1 cannot run inside the runner's atomic unit."""
        if not NAME_PATTERN.match(self.name):
            raise MigrationError(f"read migration '{self.name}' failed: the name must look like NNNN_verb_noun.sql "
                                 "(four digits, then lowercase words joined by underscores)")
        if not self.statements:
            raise MigrationError(f"read migration '{self.name}' failed: it holds no SQL statement")
        if not ends_complete(self.text):
            raise MigrationError(
                f"read migration '{self.name}' failed: its last statement does not end with ';' (or a string or "
                "comment is left open); the bookkeeping rows are sent right after the file's text, so end the last "
                "statement with ';'"
            )
        for index, statement in enumerate(self.statements, 1):
            if match := _TRANSACTION_CONTROL.match(statement):
                raise MigrationError(
                    f"read migration '{self.name}' failed: statement {index} is a transaction statement "
                    f"({match.group(1).upper()}); D1 refuses them and the runner already applies each migration "
                    "atomically: remove it"
                )


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every `*.sql` file of the folder, checked and in number order."""
    migrations = [Migration(path.name, path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.sql"))]
    for migration in migrations:
        migration.check()
    seen: dict[int, str] = {}
    for migration in migrations:
        if migration.number in seen:
            raise MigrationError(
                f"read migration '{migration.name}' failed: number {migration.name[:4]} is also used by "
                f"{seen[migration.number]}; give it the next free number {next_number(migrations):04d}"
            )
        seen[migration.number] = migration.name
    return sorted(migrations, key=lambda m: m.number)


def next_number(migrations: Sequence[Migration]) -> int:
    return max((m.number for m in migrations), default=0) + 1


def folder_hash(migrations: Sequence[Migration]) -> str:
    """One hash over every migration's name and checksum: the trigger of the Pulumi migrations resource."""
    digest = hashlib.sha256()
    for migration in migrations:
        digest.update(f"{migration.name}\0{migration.checksum}\n".encode())
    return digest.hexdigest()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Edited:
    """An applied migration whose file changed since: the checksum recorded when it was applied, and the file's."""

    name: str
    applied_sha256: str
    file_sha256: str


@dataclass(frozen=True)
class Status:
    """What the database holds compared with the folder."""

    applied: tuple[str, ...]
    pending: tuple[Migration, ...]
    # Applied without a recorded checksum (by wrangler, or before the runner existed): adopted on apply.
    unrecorded: tuple[Migration, ...] = ()
    # Applied but not in this checkout: normal while older code is deployed after a newer schema.
    unknown: tuple[str, ...] = ()
    # What `apply` refuses (`MigrationRunner.inspect` reports them, `status` raises): files edited after they
    # were applied, and pending migrations numbered before the last applied one.
    edited: tuple[Edited, ...] = ()
    out_of_order: tuple[Migration, ...] = ()
    last_applied: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one `apply` did."""

    applied: tuple[str, ...]
    adopted: tuple[str, ...]  # checksums recorded for migrations applied without one
    unknown: tuple[str, ...]


class MigrationRunner:
    def __init__(self, executor: D1Executor, migrations: Sequence[Migration]) -> None:
        self.executor = executor
        self.migrations = list(migrations)

    def inspect(self) -> Status:
        """Read-only: applied, pending, unknown, and what `apply` would refuse, all reported."""
        tables = {row["name"] for row in self.executor.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN "
            f"({_literal(MIGRATIONS_TABLE)}, {_literal(CHECKSUMS_TABLE)})"
        )}
        applied = tuple(row["name"] for row in self.executor.query(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY id")
                        ) if MIGRATIONS_TABLE in tables else ()
        checksums = {row["name"]: row["sha256"] for row in self.executor.query(
            f"SELECT name, sha256 FROM {CHECKSUMS_TABLE}")} if CHECKSUMS_TABLE in tables else {}
        by_name = {m.name: m for m in self.migrations}
        edited = tuple(Edited(name, checksums[name], by_name[name].checksum) for name in applied
                       if name in by_name and checksums.get(name, by_name[name].checksum) != by_name[name].checksum)
        pending = tuple(m for m in self.migrations if m.name not in applied)
        last = max((by_name[name] for name in applied if name in by_name), key=lambda m: m.number, default=None)
        return Status(
            applied=applied,
            pending=pending,
            unrecorded=tuple(by_name[name] for name in applied if name in by_name and name not in checksums),
            unknown=tuple(name for name in applied if name not in by_name),
            edited=edited,
            out_of_order=tuple(m for m in pending if last is not None and m.number < last.number),
            last_applied=last.name if last else None,
        )

    def status(self) -> Status:
        """Read-only, as `inspect`, but refusing what `apply` refuses (edited or out-of-order migrations)."""
        status = self.inspect()
        if status.edited:
            edit = status.edited[0]
            raise MigrationError(
                f"apply migration '{edit.name}' failed: the file changed after it was applied to "
                f"{self.executor.description} (applied sha256 {edit.applied_sha256[:12]}, file now "
                f"{edit.file_sha256[:12]}); restore the applied version "
                f"(git log -p -- worker_src/migrations/{edit.name}) and put the change in a new migration "
                f"{next_number(self.migrations):04d}_<verb>_<noun>.sql"
            )
        if status.out_of_order:
            migration = status.out_of_order[0]
            raise MigrationError(
                f"apply migration '{migration.name}' failed: it is pending but the later {status.last_applied} is "
                f"already applied to {self.executor.description}; renumber it to "
                f"{next_number(self.migrations):04d}{migration.name[4:]}"
            )
        return status

    def apply(self, on_applied: Callable[[Migration], None] | None = None) -> Outcome:
        """Apply every pending migration in order; stops at the first failure and reports what it left."""
        self.executor.run_batch(_script([MIGRATIONS_TABLE_DDL, CHECKSUMS_TABLE_DDL]))
        status = self.status()
        if status.unrecorded:
            self.executor.run_batch(_script([self._record_checksum(m) for m in status.unrecorded]))
        for migration in status.pending:
            before = self._schema()
            sent_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            try:
                # What wrangler sends: the file as written, then (on a line of its own) the bookkeeping rows.
                self.executor.run_batch(migration.text.rstrip("\n") + "\n" + _script([
                    f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES ({_literal(migration.name)})",
                    self._record_checksum(migration),
                ]))
            except D1Error as exc:
                raise MigrationError(self._failure(migration, exc, before, sent_at)) from None
            if on_applied:
                on_applied(migration)
        return Outcome(applied=tuple(m.name for m in status.pending),
                       adopted=tuple(m.name for m in status.unrecorded), unknown=status.unknown)

    @staticmethod
    def _record_checksum(migration: Migration) -> str:
        return (f"INSERT INTO {CHECKSUMS_TABLE} (name, sha256) "
                f"VALUES ({_literal(migration.name)}, {_literal(migration.checksum)})")

    def _schema(self) -> dict[str, str]:
        """`<type> <name>` -> its SQL, for every object of the schema (SQLite's and D1's own left out)."""
        rows = self.executor.query("SELECT type, name, sql FROM sqlite_master "
                                   "WHERE substr(name, 1, 7) <> 'sqlite_' AND substr(name, 1, 4) <> '_cf_'")
        return {f"{row['type']} {row['name']}": row["sql"] or "" for row in rows}

    def _failure(self, migration: Migration, exc: D1Error, before: dict[str, str], sent_at: str) -> str:
        if exc.statement in migration.statements:
            index = migration.statements.index(exc.statement) + 1
            where = f"statement {index} of {len(migration.statements)}:\n    " + exc.statement.replace("\n", "\n    ")
        elif exc.statement is None:
            where = ("statement: not named by the D1 API; `infra migrate --stack local` runs the same migration on "
                     "the local database and names it")
        else:  # the bookkeeping rows themselves (a concurrent run recorded the migration first)
            where = f"recording it: {exc.statement}"
        return f"apply migration '{migration.name}' failed: {exc}\n  {where}\n" + self._read_back(
            migration, exc, before, sent_at)

    def _read_back(self, migration: Migration, exc: D1Error, before: dict[str, str], sent_at: str) -> str:
        """What the database holds after a failed batch, read from it rather than assumed, and what to do."""
        name = migration.name
        try:
            after = self._schema()
            recorded = bool(self.executor.query(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE name = ?", [name]))
            summed = bool(self.executor.query(f"SELECT 1 FROM {CHECKSUMS_TABLE} WHERE name = ?", [name]))
        except D1Error as unread:
            return (f"Could not read {self.executor.description} back after the failure ({unread}), so what of {name} "
                    f"took effect is unknown: before running again, compare its schema with {name} "
                    "(`infra migrate --dry-run` lists what is recorded).")
        changes = [f"created {key}" for key in after if key not in before]
        changes += [f"dropped {key}" for key in before if key not in after]
        changes += [f"altered {key}" for key in after if key in before and after[key] != before[key]]
        if recorded:  # its row follows every statement of the file in the batch: all of them ran
            return (f"Read back after the failure: {name} is applied and recorded in {MIGRATIONS_TABLE}"
                    + ("" if summed else "; only its checksum is missing, which the next run records")
                    + ". Nothing to recover.")
        row_changes = [str(i) for i, st in enumerate(migration.statements, 1) if _ROW_CHANGE.match(st)]
        if not changes and row_changes and not exc.rolled_back:
            which = f"statement{'s' if len(row_changes) > 1 else ''} {', '.join(row_changes)}"
            return (f"Read back after the failure: {name} changed no schema and is not recorded; whether its row "
                    f"changes ({which}) were rolled back cannot be read back. Check those rows before running again; "
                    f"to go back to before this run, {self.executor.restore_hint(sent_at)}.")
        if not changes:
            return (f"Read back after the failure: nothing of {name} was applied or recorded (the batch was rolled "
                    "back); earlier migrations stay applied. Fix the migration and run again.")
        return "\n".join([
            f"Read back after the failure: {self.executor.description} did not roll the batch back; {name} is "
            f"partly applied and not recorded in {MIGRATIONS_TABLE}:",
            *(f"  {change}" for change in changes),
            "The next run would apply the whole file again and fail on what is there. Recover first: "
            f"{self.executor.restore_hint(sent_at)}; or undo the changes above by hand. Then fix the migration and "
            "run again.",
        ])


def _script(statements: Sequence[str]) -> str:
    """Statements as one script, each ended by `;` on a line of its own."""
    return "".join(f"{statement};\n" for statement in statements)
