"""SQL text as SQLite reads it: where a script's statements end, and whether its last one is finished."""

from __future__ import annotations

import re
import sqlite3

_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)


def split_statements(sql: str) -> list[str]:
    """The statements of a SQL script, without comments before them or their `;`.

    SQLite's own `complete_statement` decides where a statement ends, so `;` inside strings, comments and
    trigger bodies (`BEGIN … END;`) never splits one. A comment at the end of a statement stays in it (it is
    harmless where the statement runs on its own); each statement is meant to be run by itself, never
    re-joined with others, where such a comment would swallow what follows.
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


def ends_complete(sql: str) -> bool:
    """True when the script's last statement is finished by its `;` (trailing comments allowed), so that text
    appended after it starts a statement of its own."""
    return sqlite3.complete_statement(sql)
