"""The package is layered: a layer imports only layers below it (checked on the source, by AST)."""

from __future__ import annotations

import ast
from pathlib import Path

import ldedit_core

ROOT = Path(ldedit_core.__file__).parent
# layer -> the layers it may import (besides itself and the shared top-level modules)
ALLOWED = {
    "io": set(),
    "phantoms": set(),
    "models": {"io", "phantoms"},
    "training": {"io", "phantoms", "models"},
    "inversion": {"io", "phantoms", "models"},
    "editing": {"io", "phantoms", "models", "inversion"},
    "pipeline": {"io", "phantoms", "models", "inversion", "editing"},
    "evaluation": {"io", "phantoms", "models", "inversion", "editing", "pipeline", "training"},
    "service": {"io", "pipeline"},
    "cli": {
        "io",
        "phantoms",
        "models",
        "training",
        "inversion",
        "editing",
        "pipeline",
        "evaluation",
        "service",
    },
}
SHARED = {"errors", "progress", "__init__"}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ldedit_core."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("ldedit_core.")}
    return found


def test_every_module_belongs_to_a_known_layer():
    for path in ROOT.iterdir():
        if path.name.startswith(("_", ".")) or path.stem in SHARED:
            continue
        if path.is_dir() and not any(path.rglob("*.py")):
            continue  # data, e.g. the shipped bundles
        assert path.stem in ALLOWED, f"{path.name} is not a known layer; add it to ALLOWED in {__file__}"


def test_layers_import_only_downwards():
    bad = []
    for layer, allowed in ALLOWED.items():
        folder = ROOT / layer
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            for target in _imports(path) - allowed - SHARED - {layer}:
                bad.append(f"{path.relative_to(ROOT)} imports ldedit_core.{target}")
    assert not bad, "layering violations:\n" + "\n".join(bad)


def test_the_checker_sees_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from ldedit_core.pipeline import x\nimport ldedit_core.models.gan\n")
    assert _imports(probe) == {"pipeline", "models"}
