"""From line integral to displayed film: Beer-Lambert, scatter, detector blur, quantum noise, processing.

``I = exp(-integral mu dz)`` is the primary fluence; a wide blur of it times the patient's
scatter-to-primary fraction is added (scatter lifts the dense mediastinum more than the lungs); the
detector blurs by half a pixel and counts photons (Poisson noise, approximated as Gaussian, per pixel
area, so finer images are noisier per pixel as real detectors are); the log image is unsharp-masked
like a CR/DR processing chain, windowed on the patient's own lung and mediastinum levels and mapped
through a film-like S curve so that bone and heart are bright and lungs dark.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ldedit_core.phantoms.anatomy import Anatomy
from ldedit_core.phantoms.fields import wide_blur
from ldedit_core.phantoms.raster import UNIT_CM
from ldedit_core.phantoms.tissues import MU_LUNG, MU_SOFT

PHOTONS_AT_2048 = 4000.0
"""Unattenuated photons per pixel of a 2048-pixel image at nominal exposure."""
LUNG_LEVEL, DENSE_LEVEL = 0.40, 0.80
"""Display levels (before the S curve) of a mid-lung ray and of a mediastinal soft-tissue ray."""
SCATTER_SIGMA = 0.08
"""Width of the scatter kernel, fraction of the image width."""
UNSHARP_SIGMA = 0.05
"""Width of the processing chain's unsharp mask, fraction of the image width."""


def expose(line_integral: np.ndarray, anatomy: Anatomy, rng: np.random.Generator | None) -> np.ndarray:
    """Turn a line-integral map (dimensionless, ``mu * cm``) into a displayed radiograph in [0, 1].

    Args:
        line_integral: ``(size, size)`` float32 total attenuation along each ray.
        anatomy: the patient, for its exposure, scatter and display parameters.
        rng: the noise stream, or ``None`` for a noiseless image.

    Returns:
        ``(size, size)`` float32 image in [0, 1], brighter = more attenuation.
    """
    size = line_integral.shape[0]
    primary = np.exp(-line_integral)
    primary = ndimage.gaussian_filter(primary, 0.5, mode="nearest")
    detected = primary + np.float32(anatomy.scatter_fraction) * wide_blur(primary, SCATTER_SIGMA)
    if rng is not None:
        photons = PHOTONS_AT_2048 * (2048.0 / size) ** 2 * anatomy.exposure
        noise = rng.standard_normal((size, size), dtype=np.float32)
        detected += np.sqrt(detected / np.float32(photons)) * noise
    log = -np.log(np.maximum(detected, np.float32(1e-4)))
    log += np.float32(anatomy.enhancement) * (log - wide_blur(log, UNSHARP_SIGMA))
    lung_log, dense_log = reference_levels(anatomy)
    lung_level = LUNG_LEVEL + anatomy.window_low
    gain = (DENSE_LEVEL + anatomy.window_high - lung_level) / (dense_log - lung_log)
    v = np.float32(lung_level) + np.float32(gain) * (log - np.float32(lung_log))
    k = np.float32(anatomy.contrast)
    shown = 0.5 + 0.5 * np.tanh(k * (v - 0.5)) / np.tanh(k / 2)
    return np.clip(shown, 0.0, 1.0).astype(np.float32)


def reference_levels(anatomy: Anatomy) -> tuple[float, float]:
    """Log signals of a mid-lung ray and of a mediastinal ray of this patient, without disease.

    The display window is anchored on them, like the exposure recognition of a CR reader, but from the
    healthy anatomy only: a disease never shifts the window, so follow-ups of one seed stay comparable.
    """
    cm = UNIT_CM * anatomy.scale
    body = 2 * anatomy.body_half_depth * cm
    lung = 2 * 0.9 * anatomy.right_lung.half_depth * cm
    lung_t = np.exp(-(MU_SOFT * (body - lung) + MU_LUNG * lung))
    dense_t = np.exp(-MU_SOFT * body)
    scatter = anatomy.scatter_fraction * 0.6 * lung_t
    return float(-np.log(lung_t + scatter)), float(-np.log(dense_t + scatter))
