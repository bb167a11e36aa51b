"""Test helpers for D1: real `wrangler d1` against a local persist folder. The D1 HTTP API is served by the
fake Cloudflare API (`tests.fakes.cloudflare_api`, fixture `cloudflare_api` in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from infra.model.contract import COMPATIBILITY_DATE
from infra.model.settings import REPO_ROOT

WRANGLER_JS = REPO_ROOT / "node_modules" / "wrangler" / "bin" / "wrangler.js"
LOCAL_DATABASE = "qwen-image-local-metadata"
DATABASE_ID = "f1d2c3b4-0000-4000-8000-00000000d1d1"


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
