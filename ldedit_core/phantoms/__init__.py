"""Procedural PA chest-radiograph phantoms: training data, test data and ground truth of LDEdit.

Public API:
    make_phantom, Phantom, sample_population, chexpert_labels, DISEASES, Disease, SEVERITY_ARGS,
    CHEXPERT_COLUMNS.

This layer depends on numpy and scipy only; it does not import ``ldedit_core.io``.
"""

from __future__ import annotations

from ldedit_core.phantoms.diseases import DISEASES, SEVERITY_ARGS, Disease
from ldedit_core.phantoms.labels import CHEXPERT_COLUMNS, chexpert_labels
from ldedit_core.phantoms.phantom import Phantom, make_phantom
from ldedit_core.phantoms.population import sample_population

__all__ = [
    "CHEXPERT_COLUMNS",
    "DISEASES",
    "SEVERITY_ARGS",
    "Disease",
    "Phantom",
    "chexpert_labels",
    "make_phantom",
    "sample_population",
]
