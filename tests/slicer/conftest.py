"""Make ``LDEditSlicerLib`` importable as Slicer does: from the module's folder, not as a package."""

from __future__ import annotations

import sys
from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parents[2] / "LDEditSlicer"
if str(MODULE_DIR) not in sys.path:
    sys.path.insert(0, str(MODULE_DIR))
