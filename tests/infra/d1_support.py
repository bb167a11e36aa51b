"""Test helpers for D1: real `wrangler d1` against a local persist folder, and a small HTTP server that
answers the Cloudflare D1 API's documented request/response shapes.

`FakeD1Api` is the API as documented, not as imagined: `POST .../d1/database/{id}/query` with
`{"sql", "params"}` answers `{"result": [{"results", "success", "meta"}], "success", "errors", "messages"}`;
a `sql` holding several statements runs "as a batch", which D1 makes one SQL transaction (a failing
statement rolls back all of them); `GET .../d1/database?name=` lists databases. Errors use the documented
envelope (`errors: [{code, message}]`) with the codes D1 and the API answer: 7500 for SQL errors, 10000 for
authentication. Every request is recorded so tests can assert what went over the wire.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.model.contract import COMPATIBILITY_DATE
from infra.model.settings import REPO_ROOT

WRANGLER_JS = REPO_ROOT / "node_modules" / "wrangler" / "bin" / "wrangler.js"
LOCAL_DATABASE = "qwen-image-local-metadata"
ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353"
DATABASE_ID = "f1d2c3b4-0000-4000-8000-00000000d1d1"
_QUERY = re.compile(r"^/client/v4/accounts/(?P<account>[0-9a-f]{32})/d1/database/(?P<db>[0-9a-f-]+)/query$")
_LIST = re.compile(r"^/client/v4/accounts/(?P<account>[0-9a-f]{32})/d1/database$")


def write_d1_config(directory: Path, migrations_dir: Path, database: str = LOCAL_DATABASE) -> Path:
    """A minimal wrangler config with one D1 binding, as `infra.generate.wrangler` declares it locally
    (database_id = database name) but with any migrations folder."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "wrangler.json"
    path.write_text(json.dumps({
        "name": "migrations-test",
        "compatibility_date": COMPATIBILITY_DATE,
        "d1_databases": [{"binding": "DB", "database_name": database, "database_id": database,
                          "migrations_dir": str(migrations_dir)}],
    }))
    return path


def wrangler_d1(config: Path, persist_to: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`wrangler d1 <args> DB --local --persist-to persist_to`, offline and non-interactive."""
    env = {**os.environ, "WRANGLER_SEND_METRICS": "false", "CLOUDFLARE_CF_FETCH_ENABLED": "false",
           "WRANGLER_HIDE_BANNER": "true", "XDG_CONFIG_HOME": str(config.parent / "xdg"), "CI": "1"}
    cmd = ["node", str(WRANGLER_JS), "d1", *args, "DB", "--local", "--persist-to", str(persist_to), "-c", str(config)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise AssertionError(f"wrangler d1 {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class FakeD1Api:
    """One D1 database (a real SQLite file) behind the documented HTTP API, on 127.0.0.1."""

    def __init__(self, path: Path, token: str, database_name: str = "qwen-image-staging-metadata") -> None:
        self.path = path
        self.token = token
        self.database_name = database_name
        self.requests: list[Recorded] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api._handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                api._handle(self, json.loads(self.rfile.read(length)))

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read `requests`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/client/v4"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as db:
            return db.execute(sql).fetchall()

    def _handle(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        url = urlsplit(handler.path)
        self.requests.append(Recorded(handler.command, url.path, parse_qs(url.query),
                                      {k.lower(): v for k, v in handler.headers.items()}, body))
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return self._answer(handler, 403, None, [{"code": 10000, "message": "Authentication error"}])
        if handler.command == "GET" and (match := _LIST.match(url.path)):
            names = parse_qs(url.query).get("name", [])
            found = [] if names and names[0] != self.database_name else [
                {"uuid": DATABASE_ID, "name": self.database_name, "version": "production",
                 "created_at": "2026-01-01T00:00:00.000Z"}]
            return self._answer(handler, 200, found, [], result_info={
                "page": 1, "per_page": 20, "count": len(found), "total_count": len(found)})
        if handler.command == "POST" and (match := _QUERY.match(url.path)) and match["db"] == DATABASE_ID:
            try:
                result = self._query(body["sql"], body.get("params") or [])
            except sqlite3.Error as exc:
                return self._answer(handler, 400, None, [{"code": 7500, "message": f"{exc}: SQLITE_ERROR"}])
            return self._answer(handler, 200, result, [])
        return self._answer(handler, 404, None, [{"code": 7404, "message": "Not Found"}])

    def _query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            try:
                rows = [dict(row) for row in db.execute(sql, params)]
            except sqlite3.ProgrammingError:  # several statements: one batch, one transaction
                try:
                    db.executescript(f"BEGIN;\n{sql}\n;COMMIT;")
                except sqlite3.Error:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                rows = []
            return [{"results": rows, "success": True,
                     "meta": {"changed_db": db.total_changes > 0, "changes": db.total_changes, "duration": 0.1,
                              "last_row_id": 0, "rows_read": len(rows), "rows_written": db.total_changes,
                              "size_after": self.path.stat().st_size}}]
        finally:
            db.close()

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, result: Any, errors: list[dict[str, Any]],
                **extra: Any) -> None:
        payload = json.dumps({"result": result, "success": not errors, "errors": errors, "messages": [], **extra})
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload.encode())
