"""The package layout is the architecture: each package of `infra` imports only from the packages below it."""

from __future__ import annotations

import ast
from pathlib import Path

from infra.model.settings import REPO_ROOT

# Lowest first. A module may import from its own package and from any package earlier in this list.
LAYERS = ("errors", "model", "generate", "d1", "components", "plan", "ops", "cli")
# Modules outside the layers: the CLI entry and the alias kept for old Pulumi state (infra/schema.py).
ENTRIES = {"__main__": "cli", "schema": "components"}


def package_of(module: str) -> str | None:
    """`infra.model.settings` -> `model`; None for anything outside `infra`."""
    parts = module.split(".")
    if parts[0] != "infra" or len(parts) == 1:
        return None
    return ENTRIES.get(parts[1], parts[1])


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_every_infra_module_belongs_to_a_layer() -> None:
    strays = []
    for path in sorted((REPO_ROOT / "infra").rglob("*.py")):
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        if path.name != "__init__.py" or path.parent.name != "infra":
            package = package_of(module)
            if package not in LAYERS:
                strays.append(module)
    assert strays == []


def test_imports_only_point_down_the_layers() -> None:
    upward = []
    for path in sorted((REPO_ROOT / "infra").rglob("*.py")):
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        own = package_of(module)
        if own is None:
            continue
        for imported in imports_of(path):
            target = package_of(imported)
            if target in LAYERS and LAYERS.index(target) > LAYERS.index(own):
                upward.append(f"{module} imports {imported} ({own} -> {target})")
    assert upward == [], "\n".join(sorted(set(upward)))


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "settings.py"
    bad.write_text("from infra.components.stack import deploy\n")
    assert "infra.components.stack" in imports_of(bad)
    assert LAYERS.index(package_of("infra.components.stack") or "") > LAYERS.index("model")
