"""No pickles anywhere: no pickled weight files, no ``torch.load`` without ``weights_only=True``, no pickle.

Weights are safetensors plus JSON (see docs/bundles.md); unpickling a file can run arbitrary code.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("ldedit_core", "LDEditSlicer", "benchmarks")
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt")
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib"}


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def _python_files() -> list[Path]:
    return [p for d in SOURCE_DIRS for p in sorted((REPO / d).rglob("*.py")) if ".venv" not in p.parts]


def pickle_uses(source: str, filename: str = "<source>") -> list[str]:
    """``"line N: what"`` for each pickle import, ``torch.load`` without ``weights_only=True``, or
    ``numpy.load(..., allow_pickle=True)`` in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
            if names[0] == "torch" and any(a.name == "load" for a in node.names):
                found.append(f"line {node.lineno}: from torch import load")
        else:
            names = []
        found += [f"line {node.lineno}: import {n}" for n in names if n in PICKLE_MODULES]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load":
            owner = ast.unparse(node.func.value)
            keywords = {k.arg: k.value for k in node.keywords}
            if owner == "torch" and not _is_true(keywords.get("weights_only")):
                found.append(f"line {node.lineno}: torch.load without weights_only=True")
            if owner in ("np", "numpy") and _is_true(keywords.get("allow_pickle")):
                found.append(f"line {node.lineno}: {owner}.load(allow_pickle=True)")
    return found


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def test_no_pickled_files_tracked_or_in_the_package():
    tracked = [f for f in _tracked_files() if f.lower().endswith(PICKLE_SUFFIXES)]
    assert not tracked, f"pickled files tracked by git: {tracked}"
    package = [str(p) for p in (REPO / "ldedit_core").rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES]
    assert not package, f"pickled files under ldedit_core/: {package}"


def test_sources_never_unpickle():
    files = _python_files()
    assert any(p.name == "bundle.py" for p in files), "the scan must see the package"
    bad = [f"{p.relative_to(REPO)} {use}" for p in files for use in pickle_uses(p.read_text(), str(p))]
    assert not bad, "unpickling in the sources:\n" + "\n".join(bad)


def test_the_checker_sees_unpickling():
    source = (
        "import pickle\nfrom joblib import load\nimport torch\nfrom torch import load\n"
        "torch.load('a.pt')\ntorch.load(\n  'b.pt',\n  map_location='cpu',\n)\n"
        "torch.load('c.pt', weights_only=False)\nnp.load('d.npy', allow_pickle=True)\n"
        "torch.load('ok.pt', weights_only=True)\nnp.load('ok.npy')\n"
    )
    assert pickle_uses(source) == [
        "line 1: import pickle",
        "line 2: import joblib",
        "line 4: from torch import load",
        "line 5: torch.load without weights_only=True",
        "line 6: torch.load without weights_only=True",
        "line 10: torch.load without weights_only=True",
        "line 11: np.load(allow_pickle=True)",
    ]
