"""The evaluation's patients: held-out healthy phantoms, the ROI a user would paint, diseased references.

Seeds start at 9001 by default. Training phantoms get 31-bit patient seeds drawn from their population seed
(``ldedit_core.phantoms.sample_population``), so small consecutive seeds are, for practical purposes,
patients no network has seen.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ldedit_core.phantoms import DISEASES, Disease, Phantom, make_phantom

#: Nodule ROI radius as a fraction of the image side (about 2.5 cm on a 43 cm film).
NODULE_RADIUS = 0.06
#: Offset added to the healthy seeds for the diseased reference phantoms (realism), so none is a source.
REFERENCE_SEED_OFFSET = 100_000


def disease_roi(phantom: Phantom, disease: str | Disease, size: int | None = None) -> np.ndarray:
    """The region where ``disease`` appears on this patient: what a user would paint.

    A healthy phantom gets the region the disease would occupy: cardiomegaly the heart of the same patient
    rendered at ``cardiomegaly=1`` (CTR 0.70), together with its own heart, dilated by 2 % of the side;
    effusion the lower 45 % of both lung fields and the costophrenic angles (it holds a severity-0.5
    effusion); edema both lungs; nodule a disc of radius :data:`NODULE_RADIUS` of the side, centred at a
    lung point drawn from the patient's seed (deterministic) among those where the disc fits in the lung.

    The demo's cardiomegaly ROI (the heart dilated by 5 % of the side) holds only about 60 % of a CTR-0.70
    heart, which caps how far the heart can grow in the composited output; the phantom model knows where
    the enlarged heart goes, so the evaluation paints that.

    Args:
        phantom: from :func:`ldedit_core.phantoms.make_phantom`.
        disease: one of ``ldedit_core.phantoms.DISEASES``.
        size: side of the returned mask; ``None`` = the phantom's. Other sizes are area-resampled
            (fractional weights in [0, 1] along the edge).

    Returns:
        float32 ``[size, size]`` mask in [0, 1] (0/1 at the phantom's own size).

    Raises:
        ValueError: an unknown disease, or ``size`` not a positive integer.

    Example:
        >>> roi = disease_roi(make_phantom(9001, 256), "cardiomegaly")    # [256, 256], 0/1
    """
    name = Disease.parse(disease).value
    masks = phantom.masks
    side = phantom.image.shape[0]
    if name == "cardiomegaly":
        enlarged = _twin(phantom, cardiomegaly=1.0).masks["heart"]
        mask = ndimage.binary_dilation(masks["heart"] | enlarged, iterations=max(1, side // 50))
    elif name == "effusion":
        lungs = masks["lungs"]
        rows = np.nonzero(lungs.any(1))[0]
        mask = lungs.copy()
        mask[: rows[0] + int(0.55 * (rows[-1] - rows[0]))] = False
        mask = ndimage.binary_dilation(mask, iterations=max(1, side // 40))
    elif name == "edema":
        mask = masks["lungs"].copy()
    else:
        mask = _nodule_disc(phantom, NODULE_RADIUS * side)
    roi = mask.astype(np.float32)
    if size is None or size == side:
        return roi
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer or None, got {size!r}")
    resized = F.interpolate(torch.from_numpy(roi)[None, None], size=(size, size), mode="area")
    return resized[0, 0].numpy()


def _twin(phantom: Phantom, **severities: float) -> Phantom:
    """The same patient (seed, size, noise setting) rendered with other disease severities."""
    p = phantom.params
    return make_phantom(int(p["seed"]), int(p["size"]), noise=bool(p.get("noise", True)), **severities)


def nodule_centre(phantom: Phantom, radius: float) -> tuple[int, int]:
    """``(row, col)`` of a lung point, drawn from the patient's seed, where a disc of ``radius`` fits."""
    depth = ndimage.distance_transform_edt(phantom.masks["lungs"])
    candidates = np.argwhere(depth >= radius)
    if len(candidates) == 0:  # a small lung: the deepest point
        return tuple(int(i) for i in np.unravel_index(int(np.argmax(depth)), depth.shape))
    rng = np.random.default_rng([int(phantom.params["seed"]), 0x40D])
    row, col = candidates[int(rng.integers(len(candidates)))]
    return int(row), int(col)


def _nodule_disc(phantom: Phantom, radius: float) -> np.ndarray:
    row, col = nodule_centre(phantom, radius)
    yy, xx = np.mgrid[: phantom.image.shape[0], : phantom.image.shape[1]]
    return (yy - row) ** 2 + (xx - col) ** 2 <= radius**2


def healthy_phantoms(n: int, seed: int, size: int) -> list[Phantom]:
    """Patients ``seed .. seed + n - 1`` without disease."""
    return [make_phantom(seed + i, size) for i in range(n)]


def diseased_phantoms(disease: str, n: int, seed: int, size: int) -> list[Phantom]:
    """Held-out patients with ``disease`` at severity 0.5-1 (seeds from ``seed + REFERENCE_SEED_OFFSET``).

    They are the "real" side of the realism measure: what the edited frames should look like. Effusion
    goes to one side (drawn per patient); nodules sit where the phantom model puts them.
    """
    if disease not in DISEASES:
        raise ValueError(f"unknown disease {disease!r} (expected one of {', '.join(DISEASES)})")
    rng = np.random.default_rng([seed, 0xD15])
    out = []
    for i in range(n):
        severity = float(rng.uniform(0.5, 1.0))
        if disease == "effusion":
            kwargs = {"effusion_left" if rng.random() < 0.5 else "effusion_right": severity}
        else:
            kwargs = {disease: severity}
        out.append(make_phantom(seed + REFERENCE_SEED_OFFSET + i, size, **kwargs))
    return out
