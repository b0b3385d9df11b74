"""Run LDEditSlicerTest headless: Slicer --no-main-window --python-script run_self_test.py

Add LDEditSlicer/ to Slicer's additional module paths first (see LDEditSlicer/README.md). Exits 0 on
success, 1 with the traceback on failure, so it can run in a script or CI job that has Slicer.
"""

import sys
import traceback

import slicer

try:
    import LDEditSlicer

    LDEditSlicer.LDEditSlicerTest().runTest()
except Exception:
    traceback.print_exc()
    slicer.util.exit(1)
else:
    print("LDEditSlicerTest passed")
    slicer.util.exit(0)
sys.exit(0)
