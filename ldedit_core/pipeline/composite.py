"""Back to the patient's own image (method.md section 5): source + upsampled generator change, inside the ROI.

Outside the ROI the output *is* the source (the same float values, hence the same stored values after
``Radiograph.to_stored``); inside, a feather ramps the change in from the ROI's edge so no seam shows.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def feather_weights(roi: np.ndarray, feather_px: float) -> np.ndarray:
    """Weights in [0, 1]: 0 outside the ROI, rising over ``feather_px`` pixels inside its edge.

    A soft ROI (values between 0 and 1) scales the weights; ``feather_px`` <= 0 gives the ROI itself.
    """
    roi = np.clip(np.asarray(roi, dtype=np.float32), 0.0, 1.0)
    inside = roi > 0
    if feather_px <= 0:
        return roi
    depth = ndimage.distance_transform_edt(inside).astype(np.float32)  # 1 at the edge pixels
    return np.where(inside, np.clip(depth / float(feather_px), 0.0, 1.0) * roi, 0.0).astype(np.float32)


def composite(source: np.ndarray, difference: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``source + weights * difference`` clipped to [0, 1]; exactly ``source`` wherever ``weights`` is 0."""
    if source.shape != difference.shape or source.shape != weights.shape:
        raise ValueError(
            f"shapes differ: source {source.shape}, difference {difference.shape}, weights {weights.shape}"
        )
    edited = np.clip(source + weights * difference, 0.0, 1.0).astype(source.dtype)
    return np.where(weights > 0, edited, source)
