"""The automatic ROI (method.md section 6), also the "unsupervised lesion segmentation" of the paper.

A global disease edit (the population's label direction over all of W, no ROI) is applied to the inverted
image; where the generator image changes most is where the disease lives for this patient.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from ldedit_core.editing.link_lr import shift_ws


@torch.no_grad()
def automatic_roi(
    G: nn.Module, ws0: torch.Tensor, direction: torch.Tensor, step: float, *, threshold: float = 0.35
) -> np.ndarray:
    """``[R, R]`` float32 mask from ``|G(w0 + step * direction) - G(w0)|``.

    The change map is smoothed, thresholded at ``threshold`` of its maximum, opened to drop specks,
    holes are filled, and components smaller than a tenth of the largest are removed.
    """
    ws = shift_ws(G, ws0, torch.stack([torch.zeros_like(direction), step * direction]).to(ws0))
    img = G.synthesis(ws, noise_mode="const").float()
    change = (img[1] - img[0]).abs().mean(0).cpu().numpy()
    change = ndimage.gaussian_filter(change, sigma=max(1.0, change.shape[0] / 64))
    mask = change >= threshold * change.max()
    mask = ndimage.binary_opening(mask, iterations=1)
    mask = ndimage.binary_fill_holes(mask)
    labels, count = ndimage.label(mask)
    if count > 1:
        sizes = ndimage.sum(mask, labels, index=np.arange(1, count + 1))
        mask = np.isin(labels, 1 + np.nonzero(sizes >= 0.1 * sizes.max())[0])
    if not mask.any():  # a flat change map: fall back to the strongest pixels
        mask = change >= np.quantile(change, 0.95)
    return mask.astype(np.float32)
