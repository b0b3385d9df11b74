"""Radiograph I/O: reading what hospitals store, writing synthetic follow-up studies.

Public API:
    read_radiograph, Radiograph, write_followups, write_radiograph_dicom, new_radiograph_dataset.
"""

from __future__ import annotations

from ldedit_core.io.dicom_create import new_radiograph_dataset, write_radiograph_dicom
from ldedit_core.io.followups import write_followups
from ldedit_core.io.radiograph import Radiograph
from ldedit_core.io.read import read_radiograph

__all__ = [
    "Radiograph",
    "new_radiograph_dataset",
    "read_radiograph",
    "write_followups",
    "write_radiograph_dicom",
]
