"""Stand-in executables (`gh`, `pulumi`) on PATH, for running the CI scripts as a workflow step runs them.

A stand-in answers only the calls its routes list (a regular expression over the joined arguments) and fails
like a real CLI on anything else (and without its token, as the real ones do in a workflow), so a script
cannot lean on a call nobody specified. Every call is recorded with the content of the file the real CLI
would send as a body (`--body-file F`, `-F body=@F`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.model.settings import REPO_ROOT

_STAND_IN = '''\
import json, os, re, sys
here = os.path.dirname(os.path.abspath(__file__))
name = os.path.basename(sys.argv[0])
argv = sys.argv[1:]
call = {"argv": argv}
for index, arg in enumerate(argv):
    if arg == "--body-file":
        call["body"] = open(argv[index + 1]).read()
    elif arg.startswith("body=@"):
        call["body"] = open(arg[len("body=@"):]).read()
with open(os.path.join(here, name + ".calls"), "a") as log:
    log.write(json.dumps(call) + "\\n")
token = {"gh": "GH_TOKEN", "pulumi": "PULUMI_ACCESS_TOKEN"}[name]
if not os.environ.get(token):
    sys.stderr.write(f"{name}: no {token} in the environment\\n")
    sys.exit(4)
for route in json.load(open(os.path.join(here, name + ".routes.json"))):
    if re.fullmatch(route["match"], " ".join(argv)):
        sys.stdout.write(route.get("stdout", ""))
        sys.stderr.write(route.get("stderr", ""))
        sys.exit(route.get("exit", 0))
sys.stderr.write(f"{name} stand-in: no route for: {' '.join(argv)}\\n")
sys.exit(1)
'''


@dataclass
class Route:
    match: str
    stdout: str = ""
    stderr: str = ""
    exit: int = 0


@dataclass
class StandIns:
    """A folder of stand-ins to put first on PATH; `calls(name)` lists what each one was asked."""

    bin_dir: Path
    routes: dict[str, list[Route]] = field(default_factory=dict)

    def add(self, name: str, *routes: Route) -> None:
        self.routes.setdefault(name, []).extend(routes)
        (self.bin_dir / f"{name}.routes.json").write_text(json.dumps([r.__dict__ for r in self.routes[name]]))
        executable = self.bin_dir / name
        executable.write_text(f"#!{sys.executable}\n{_STAND_IN}")
        executable.chmod(0o755)

    def calls(self, name: str) -> list[dict]:
        log = self.bin_dir / f"{name}.calls"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def run_step(command: list[str], env: dict[str, str], stand_ins: StandIns) -> subprocess.CompletedProcess[str]:
    """Run `command` from the repository root the way a workflow step does: bash with `-eo pipefail`, only
    the given variables, the stand-ins first on PATH."""
    path = f"{stand_ins.bin_dir}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(command, cwd=REPO_ROOT, env={"PATH": path, "LANG": "C.UTF-8", **env},
                          capture_output=True, text=True, timeout=60, check=False)
