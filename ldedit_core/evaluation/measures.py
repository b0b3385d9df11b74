"""The measures of ``ldedit evaluate`` (method.md, "Measures"), each a small function on known inputs.

Generator images are ``[C, R, R]`` (or ``[R, R]``) in [-1, 1]; changes are reported in display units of
[0, 1] (half the generator's). Background weights are those of Link-LR, ``1 - dilate(roi, margin)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ldedit_core.models.image_metrics import DATA_RANGE, ssim_window
from ldedit_core.training import quality


def monotonicity(probs: Sequence[float]) -> float:
    """Spearman rank correlation of ``probs`` with the frame index (1 = rises at every frame).

    A constant sequence has no rank order; it scores 0 (no progression), not NaN.

    Example:
        >>> monotonicity([0.1, 0.2, 0.15, 0.5])
        0.8
    """
    from scipy.stats import spearmanr

    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.size < 2:
        raise ValueError(f"need at least 2 frames, got {p.size}")
    if not np.isfinite(p).all():
        raise ValueError("probabilities must be finite")
    if np.ptp(p) == 0:
        return 0.0
    return float(spearmanr(np.arange(p.size), p).statistic)


def _as_chw(image: torch.Tensor | np.ndarray) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(image) if not torch.is_tensor(image) else image).detach().double().cpu()
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3:
        raise ValueError(f"expected an image [R, R] or [C, R, R], got shape {tuple(t.shape)}")
    return t


def _check_weights(weights: torch.Tensor | np.ndarray, shape: tuple[int, ...]) -> torch.Tensor:
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    if tuple(w.shape) != shape:
        raise ValueError(f"weights must have shape {shape} (the image's), got {tuple(w.shape)}")
    return w


def background_ssim(a, b, background) -> float:
    """SSIM of ``a`` and ``b`` averaged over the background pixels only (1 = untouched background).

    The SSIM map (MONAI, Gaussian window sigma 1.5, 11 px or less on small images, the same settings as
    ``ldedit_core.models.image_metrics.ssim``) is computed on the whole images; each valid window
    position is attributed to its centre pixel and the map is averaged over centres with ``background``
    > 0. Masking the images first instead would count the zeroed ROI as agreement.

    Args:
        a, b: ``[R, R]`` or ``[C, R, R]`` images in [-1, 1].
        background: ``[R, R]`` weights, e.g. ``background_mask(roi, margin)``.

    Returns:
        The mean SSIM over background window centres; NaN when none lies in the valid region.
    """
    from monai.metrics.regression import compute_ssim_and_cs

    x, y = _as_chw(a), _as_chw(b)
    if x.shape != y.shape:
        raise ValueError(f"a and b differ in shape: {tuple(x.shape)} and {tuple(y.shape)}")
    bg = _check_weights(background, tuple(x.shape[-2:])) > 0
    win = ssim_window(min(x.shape[-2:]))
    ssim_map, _ = compute_ssim_and_cs(
        x[None],
        y[None],
        spatial_dims=2,
        kernel_size=[win, win],
        kernel_sigma=[1.5, 1.5],
        data_range=DATA_RANGE,
    )  # [1, C, R - win + 1, R - win + 1]; entry (i, j) is the window centred at (i + win//2, j + win//2)
    h = win // 2
    centres = bg[h : bg.shape[0] - h, h : bg.shape[1] - h]
    if not centres.any():
        return float("nan")
    return float(ssim_map[0].mean(0)[centres].mean())


def background_psnr(a, b, background) -> float:
    """PSNR in dB (range 2, [-1, 1] images) over the background pixels; ``inf`` for identical ones."""
    x, y = _as_chw(a), _as_chw(b)
    bg = _check_weights(background, tuple(x.shape[-2:])) > 0
    if not bg.any():
        return float("nan")
    mse = float((x - y).square().mean(0)[bg].mean())
    return float("inf") if mse == 0 else float(10.0 * np.log10(DATA_RANGE**2 / mse))


def mean_change(a, b, weights) -> float:
    """Weighted mean ``|b - a|`` in display units ([0, 1] images; half the generator's [-1, 1] units).

    With the ROI as ``weights`` this is the change the edit puts into the region; with the background
    weights, what leaks out of it.
    """
    x, y = _as_chw(a), _as_chw(b)
    w = _check_weights(weights, tuple(x.shape[-2:]))
    total = float(w.sum())
    if total <= 0:
        return float("nan")
    return float(((y - x).abs().mean(0) * w).sum() / total / 2.0)


def outside_identical(source: np.ndarray, frames: Sequence[np.ndarray], weights: np.ndarray) -> bool:
    """Whether every frame equals ``source`` exactly (``np.array_equal``) wherever ``weights == 0``."""
    outside = np.asarray(weights) == 0
    src = np.asarray(source)
    return all(np.array_equal(np.asarray(f)[outside], src[outside]) for f in frames)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """Frechet distance of two feature sets ``[N, F]`` (MONAI ``FIDMetric``); None with fewer than 2 each."""
    if len(a) < 2 or len(b) < 2:
        return None
    return quality.frechet_distance(a.cpu(), b.cpu())


def quantiles(values: Sequence[float], qs: Sequence[float] = (0.25, 0.5, 0.75)) -> list[float]:
    """Quantiles of the finite ``values`` (NaN when there are none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return [float("nan")] * len(qs)
    return [float(q) for q in np.quantile(v, qs)]
