"""The D1 migration runner: `worker_src/migrations/NNNN_verb_noun.sql`, in order, each exactly once.

Applied migrations are recorded in wrangler's own table (`d1_migrations`: `id`, `name`, `applied_at`,
created with wrangler's exact DDL), so `wrangler d1 migrations list|apply` and this runner always agree.
The sha256 of each applied file goes to a table of our own beside it, `d1_migrations_checksums`, which
wrangler never reads; that is how an edited, already-applied migration is refused. A migration written
with wrangler (no checksum yet) is adopted: its current checksum is recorded on the next run.

Each migration is applied in one atomic unit together with both of its bookkeeping rows, so a failing
migration leaves the database exactly as it was and nothing recorded.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from infra.d1.executors import D1Error, D1Executor
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
_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)
_TRANSACTION_CONTROL = re.compile(r"^(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


class MigrationError(InfraError):
    """A migration cannot be read, was edited after it was applied, or failed to apply."""


def split_statements(sql: str) -> list[str]:
    """The statements of a SQL script, without comments around them or their `;`.

    SQLite's own `complete_statement` decides where a statement ends, so `;` inside strings, comments and
    trigger bodies (`BEGIN … END;`) never splits one.
    """
    statements, current = [], ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            text = _LEADING_COMMENTS.sub("", current).rstrip().removesuffix(";").rstrip()
            if text:
                statements.append(text)
            current = ""
    return statements


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str = field(repr=False)

    @property
    def number(self) -> int:
        return int(self.name[:4])

    @cached_property
    def checksum(self) -> str:
        """sha256 of the text with line endings normalised, so a CRLF checkout is not an edit."""
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode()).hexdigest()

    @cached_property
    def statements(self) -> list[str]:
        return split_statements(self.sql)

    def check(self) -> None:
        """Refuse what D1 cannot run inside the runner's atomic unit."""
        if not NAME_PATTERN.match(self.name):
            raise MigrationError(f"read migration '{self.name}' failed: the name must look like NNNN_verb_noun.sql "
                                 "(four digits, then lowercase words joined by underscores)")
        if not self.statements:
            raise MigrationError(f"read migration '{self.name}' failed: it holds no SQL statement")
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
class Status:
    """What the database holds compared with the folder."""

    applied: tuple[str, ...]
    pending: tuple[Migration, ...]
    # Applied without a recorded checksum (by wrangler, or before the runner existed): adopted on apply.
    unrecorded: tuple[Migration, ...] = ()
    # Applied but not in this checkout: normal while older code is deployed after a newer schema.
    unknown: tuple[str, ...] = ()


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

    def status(self) -> Status:
        """Read-only: applied, pending, and the refusals (edited or out-of-order migrations)."""
        tables = {row["name"] for row in self.executor.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN "
            f"({_literal(MIGRATIONS_TABLE)}, {_literal(CHECKSUMS_TABLE)})"
        )}
        applied = tuple(row["name"] for row in self.executor.query(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY id")
                        ) if MIGRATIONS_TABLE in tables else ()
        checksums = {row["name"]: row["sha256"] for row in self.executor.query(
            f"SELECT name, sha256 FROM {CHECKSUMS_TABLE}")} if CHECKSUMS_TABLE in tables else {}
        by_name = {m.name: m for m in self.migrations}
        for name in applied:
            if name in by_name and checksums.get(name, by_name[name].checksum) != by_name[name].checksum:
                raise MigrationError(
                    f"apply migration '{name}' failed: the file changed after it was applied to "
                    f"{self.executor.description} (applied sha256 {checksums[name][:12]}, file now "
                    f"{by_name[name].checksum[:12]}); restore the applied version "
                    f"(git log -p -- worker_src/migrations/{name}) and put the change in a new migration "
                    f"{next_number(self.migrations):04d}_<verb>_<noun>.sql"
                )
        pending = tuple(m for m in self.migrations if m.name not in applied)
        last = max((by_name[name] for name in applied if name in by_name), key=lambda m: m.number, default=None)
        for migration in pending:
            if last is not None and migration.number < last.number:
                raise MigrationError(
                    f"apply migration '{migration.name}' failed: it is pending but the later {last.name} is already "
                    f"applied to {self.executor.description}; renumber it to "
                    f"{next_number(self.migrations):04d}{migration.name[4:]}"
                )
        return Status(
            applied=applied,
            pending=pending,
            unrecorded=tuple(by_name[name] for name in applied if name in by_name and name not in checksums),
            unknown=tuple(name for name in applied if name not in by_name),
        )

    def apply(self, on_applied: Callable[[Migration], None] | None = None) -> Outcome:
        """Apply every pending migration in order; stops at the first failure, which leaves no trace."""
        self.executor.execute_atomically([MIGRATIONS_TABLE_DDL, CHECKSUMS_TABLE_DDL])
        status = self.status()
        if status.unrecorded:
            self.executor.execute_atomically([self._record_checksum(m) for m in status.unrecorded])
        for migration in status.pending:
            try:
                self.executor.execute_atomically([
                    *migration.statements,
                    f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES ({_literal(migration.name)})",
                    self._record_checksum(migration),
                ])
            except D1Error as exc:
                raise MigrationError(self._failure(migration, exc)) from None
            if on_applied:
                on_applied(migration)
        return Outcome(applied=tuple(m.name for m in status.pending),
                       adopted=tuple(m.name for m in status.unrecorded), unknown=status.unknown)

    @staticmethod
    def _record_checksum(migration: Migration) -> str:
        return (f"INSERT INTO {CHECKSUMS_TABLE} (name, sha256) "
                f"VALUES ({_literal(migration.name)}, {_literal(migration.checksum)})")

    def _failure(self, migration: Migration, exc: D1Error) -> str:
        if exc.statement in migration.statements:
            index = migration.statements.index(exc.statement) + 1
            where = f"statement {index} of {len(migration.statements)}:\n    " + exc.statement.replace("\n", "\n    ")
        elif exc.statement is None:
            where = ("statement: not named by the D1 API; `python -m infra migrate --stack local` runs the same "
                     "migration on the local database and names it")
        else:  # the bookkeeping rows themselves (a concurrent run recorded the migration first)
            where = f"recording it: {exc.statement}"
        return (f"apply migration '{migration.name}' failed: {exc}\n  {where}\n"
                f"Nothing of {migration.name} was applied or recorded; earlier migrations stay applied. "
                "Fix the migration and run again.")
