"""GAN inversion: images -> W+ latents (encoder start, W then W+ optimisation), and a projector baseline."""

from __future__ import annotations

from ldedit_core.inversion.baseline import project_baseline
from ldedit_core.inversion.common import Inversion
from ldedit_core.inversion.invert import invert, invert_with_bundle
from ldedit_core.inversion.objective import LossWeights, synthesize
from ldedit_core.inversion.schedule import EarlyStop

__all__ = [
    "EarlyStop",
    "Inversion",
    "LossWeights",
    "invert",
    "invert_with_bundle",
    "project_baseline",
    "synthesize",
]
