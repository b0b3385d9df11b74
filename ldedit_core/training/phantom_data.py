"""The phantom population as in-memory training tensors (for the GAN, the encoder and the classifiers)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ldedit_core.phantoms import DISEASES, chexpert_labels, sample_population

#: CheXpert column of each canonical disease.
LABEL_COLUMNS = {
    "cardiomegaly": "Cardiomegaly",
    "effusion": "Pleural Effusion",
    "edema": "Edema",
    "nodule": "Lung Lesion",
}


def phantom_tensors(
    n: int,
    *,
    seed: int,
    resolution: int,
    render_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """Render ``n`` phantoms and area-downsample them to ``resolution``, as a detector image is binned.

    Args:
        n: how many.
        seed: population seed (the same seed gives the same population).
        resolution: output side.
        render_size: side the phantoms are rendered at (default ``2 * resolution``).
        progress: called with ``(done, n)``.

    Returns:
        ``images`` uint8 ``[n, 1, R, R]``, ``labels`` float32 ``[n, len(DISEASES)]`` (1 = present), and
        each phantom's ``params``.
    """
    render = render_size or max(2 * resolution, 64)  # phantoms render at 64 px or more
    if render % resolution:
        raise ValueError(f"render_size {render} must be a multiple of resolution {resolution}")
    images = torch.empty(n, 1, resolution, resolution, dtype=torch.uint8)
    labels = torch.zeros(n, len(DISEASES))
    params = []
    for i, ph in enumerate(sample_population(n, seed, size=render)):
        img = torch.from_numpy(np.ascontiguousarray(ph.image))[None, None]
        img = F.avg_pool2d(img, render // resolution) if render != resolution else img
        images[i] = torch.round(img.clamp(0, 1) * 255).to(torch.uint8)[0]
        lab = chexpert_labels(ph)
        labels[i] = torch.tensor([lab[LABEL_COLUMNS[d]] for d in DISEASES])
        params.append(ph.params)
        if progress is not None:
            progress(i + 1, n)
    return images, labels, params
