"""Slicer imports the module before ldedit_core, torch or pynrrd exist: LDEditSlicerLib must import bare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MODULE_DIR = Path(__file__).resolve().parents[2] / "LDEditSlicer"

BLOCKED = ("slicer", "qt", "vtk", "ctk", "ldedit_core", "torch", "nrrd", "pydicom", "PIL", "matplotlib")
MODULES = ("LDEditSlicerLib", *(f"LDEditSlicerLib.{m}" for m in ("devices", "geometry", "parameters")))
MODULES += ("LDEditSlicerLib.results", "LDEditSlicerLib.runner")


@pytest.mark.parametrize("module", MODULES)
def test_imports_with_only_the_standard_library_and_numpy(module):
    code = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # "import name" now raises ImportError
sys.path.insert(0, {str(MODULE_DIR)!r})
import importlib
importlib.import_module({module!r})
import LDEditSlicerLib as lib
assert set(lib.__all__) <= set(dir(lib))
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r} and sys.modules[m] is not None)
assert not loaded, loaded
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_lazy_imports_fail_only_when_used():
    """Without pynrrd, writing a volume fails with ImportError at call time, not at import time."""
    code = f"""
import sys
sys.modules["nrrd"] = None
sys.path.insert(0, {str(MODULE_DIR)!r})
import numpy as np
from LDEditSlicerLib import write_volume_nrrd, describe_torch, device_choices
try:
    write_volume_nrrd(np.zeros((1, 4, 4)), np.eye(4), "never.nrrd")
except ImportError:
    pass
else:
    raise SystemExit("expected ImportError")
sys.modules["torch"] = None
info = describe_torch()
assert info["torch"] is False and "not installed" in info["error"], info
assert device_choices(info) == ["auto", "cpu"]
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
