"""Each stack's Workers, as declared, pass wrangler's own deploy validation and bundle (`--dry-run`):
bindings are well-formed for the real CLI, and every module the script imports is one Pulumi uploads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from infra.components.workers import module_files
from infra.generate.wrangler import write_wrangler_configs
from infra.model.bindings import declare_workers
from infra.model.settings import REPO_ROOT, load_settings
from localdev.system import WRANGLER_JS, wrangler_env

from .conftest import DEPLOYED

SECRETS = {"DASHSCOPE_API_KEY": "k", "MEDIA_SIGNING_KEY": "s", "ADMIN_TOKEN": "a", "RUN_TOKEN_KEY": "r"}


@pytest.mark.parametrize("stack", DEPLOYED)
def test_workers_pass_wrangler_deploy_dry_run(stack: str, tmp_path: Path) -> None:
    settings = load_settings(stack)
    for spec, (role, config) in zip(declare_workers(settings),
                                    write_wrangler_configs(settings, SECRETS, tmp_path / "cfg").items(), strict=True):
        out = tmp_path / f"out-{role}"
        result = subprocess.run(
            ["node", str(WRANGLER_JS), "deploy", "--dry-run", "--outdir", str(out), "--metafile", "-c", str(config)],
            cwd=REPO_ROOT, env=wrangler_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
        )
        assert result.returncode == 0, f"{stack}/{role}: {result.stdout}\n{result.stderr}"
        assert (out / "index.js").exists()
        # The bundler reached exactly the modules Pulumi uploads (esbuild's metafile lists what it read, relative
        # to the config's folder: resolving against the checkout only worked where both share enough parents).
        inputs = json.loads((out / "bundle-meta.json").read_text())["inputs"]
        paths = [(config.parent / p).resolve() for p in inputs]
        read = {p.relative_to(spec.source_dir).as_posix() for p in paths if p.is_relative_to(spec.source_dir)}
        assert read == set(module_files(spec)), f"{stack}/{role}: bundled {sorted(read)}"
