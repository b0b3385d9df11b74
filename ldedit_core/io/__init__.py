"""Radiograph I/O: reading what hospitals store, writing synthetic follow-up studies.

Public API:
    read_radiograph, Radiograph, write_followups, write_radiograph_dicom, new_radiograph_dataset;
    read_roi, write_roi_nrrd, write_roi_seg (region-of-interest masks, docs/roi.md).
"""

from __future__ import annotations

from ldedit_core.io.dicom_create import new_radiograph_dataset, write_radiograph_dicom
from ldedit_core.io.followups import write_followups
from ldedit_core.io.radiograph import Radiograph
from ldedit_core.io.read import read_radiograph
from ldedit_core.io.roi_read import read_roi
from ldedit_core.io.roi_write import write_roi_nrrd, write_roi_seg

__all__ = [
    "Radiograph",
    "new_radiograph_dataset",
    "read_radiograph",
    "read_roi",
    "write_followups",
    "write_radiograph_dicom",
    "write_roi_nrrd",
    "write_roi_seg",
]
