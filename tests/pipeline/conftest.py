"""Quick edit options for the default bundle, and one edit shared by the pipeline tests."""

from __future__ import annotations

import pytest

from ldedit_core.pipeline import EditOptions

#: Fewer inversion steps than the default: the tests check behaviour, benchmarks/engine.py the quality.
QUICK = EditOptions(inversion={"w_steps": 15, "wplus_steps": 25})


@pytest.fixture(scope="session")
def edited(patient):
    """One 4-frame cardiomegaly edit on the shipped default bundle."""
    from ldedit_core.io import read_radiograph, read_roi
    from ldedit_core.pipeline import synthesize_followups

    image = read_radiograph(patient[0])
    roi = read_roi(patient[1], image)
    return synthesize_followups(image, roi, "cardiomegaly", n_followups=4, device="cpu", options=QUICK)
