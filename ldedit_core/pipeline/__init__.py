"""The pipeline's public API: what the CLI, the service and the Slicer module call.

Example:
    >>> from ldedit_core.io import read_radiograph, read_roi
    >>> from ldedit_core.pipeline import synthesize_followups, write_outputs
    >>> image = read_radiograph("chest.dcm")
    >>> roi = read_roi("heart.seg.nrrd", image)
    >>> result = synthesize_followups(image, roi, "cardiomegaly", n_followups=10)
    >>> write_outputs(result, "followups-out")
"""

from __future__ import annotations

from ldedit_core.pipeline.bundles import bundle_diseases
from ldedit_core.pipeline.followups import (
    EditOptions,
    FollowUps,
    synthesize_followups,
    synthesize_followups_batch,
)
from ldedit_core.pipeline.outputs import write_outputs
from ldedit_core.progress import Cancelled

__all__ = [
    "Cancelled",
    "EditOptions",
    "FollowUps",
    "bundle_diseases",
    "synthesize_followups",
    "synthesize_followups_batch",
    "write_outputs",
]
