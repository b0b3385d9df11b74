"""Test-wide settings: headless plotting, and no silent skips in CI."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# One intra-op thread per process: the networks in tests are tiny, and on a loaded 2-core machine two
# threads per process oversubscribe the CPU (measured up to 100x slower). Subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With CI=true a skipped test is reported as failed: a missing tool must be installed, not skipped."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is not allowed: {report.longrepr}"


@pytest.fixture(scope="session")
def patient(tmp_path_factory):
    """``(dicom path, roi path)`` of a healthy 256 px phantom and a ROI around its heart."""
    from ldedit_core.cli.demo_cmd import demo_inputs

    folder = tmp_path_factory.mktemp("patient")
    return demo_inputs(folder, seed=7, size=256, disease="cardiomegaly")
