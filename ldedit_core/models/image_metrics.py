"""Per-image reconstruction metrics for images in [-1, 1]: SSIM (MONAI's Gaussian-window SSIM), MS-SSIM, PSNR.

All return one value per image (``[N]``) and are differentiable, so ``1 - ssim(a, b)`` serves as a loss
(the encoder's training; ``1 - ms_ssim`` in the inversion) and the mean as a metric (their evaluation, the
inversion's reports).

Example:
    >>> a = torch.rand(2, 1, 32, 32) * 2 - 1
    >>> ssim(a, a)                       # tensor([1., 1.])
    >>> psnr(a, a.clamp(-0.9, 0.9))      # high, in dB
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Value range of images in [-1, 1].
DATA_RANGE = 2.0
#: Wang, Simoncelli & Bovik (2003) scale weights, finest first (MONAI's and pytorch-msssim's defaults).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if not (torch.is_tensor(a) and torch.is_tensor(b)):
        raise TypeError(f"a and b must be tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim != 4 or a.shape != b.shape:
        raise ValueError(
            f"a and b must both have shape [N, C, H, W] and match, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def ssim_window(size: int) -> int:
    """MONAI's default 11-pixel window, shrunk to the largest odd size that fits a small image."""
    if size < 3:
        raise ValueError(f"SSIM needs images of at least 3 x 3 pixels, got side {size}")
    return min(11, size if size % 2 else size - 1)


def ssim(
    a: torch.Tensor, b: torch.Tensor, *, data_range: float = DATA_RANGE, win_size: int | None = None
) -> torch.Tensor:
    """Structural similarity of each image pair (Gaussian window, sigma 1.5, k1 0.01, k2 0.03).

    Args:
        a, b: ``[N, C, H, W]`` images (reconstruction and target; SSIM is symmetric).
        data_range: ``max - min`` of the pixel values (2 for [-1, 1]).
        win_size: odd window side; default 11, or less for images smaller than 11 pixels.

    Returns:
        ``[N]`` SSIM averaged over channels and the valid window positions (1 = identical).

    Raises:
        ValueError: shapes differ or are not 4-D, or the window does not fit.
    """
    from monai.metrics.regression import compute_ssim_and_cs

    _check_pair(a, b)
    side = min(a.shape[-2:])
    win = win_size if win_size is not None else ssim_window(side)
    if win < 1 or win % 2 == 0 or win > side:
        raise ValueError(f"win_size must be an odd number in 1..{side}, got {win}")
    ssim_map, _ = compute_ssim_and_cs(
        a, b, spatial_dims=2, kernel_size=[win, win], kernel_sigma=[1.5, 1.5], data_range=data_range
    )  # [N, C, H - win + 1, W - win + 1]
    return ssim_map.mean(dim=(1, 2, 3))


def psnr(a: torch.Tensor, b: torch.Tensor, *, data_range: float = DATA_RANGE) -> torch.Tensor:
    """Peak signal-to-noise ratio of each pair in dB, ``10 log10(range^2 / MSE)`` (MSE floored at 1e-10).

    Returns:
        ``[N]``.
    """
    _check_pair(a, b)
    mse = (a.float() - b.float()).square().mean(dim=(1, 2, 3)).clamp_min(1e-10)  # [N]
    return 10.0 * torch.log10(data_range**2 / mse)


def ms_ssim_scales(size: int, *, win_size: int = 11) -> int:
    """Scales MS-SSIM uses for images of side ``size``: as many as keep the window inside the coarsest one.

    Each scale halves the image, so scale ``s`` (0-based) has side ``size // 2**s``; the rule is the largest
    count up to 5 (the standard) whose coarsest side is still at least ``win_size``. 176 px and up get all 5;
    64 px gets 3 (64, 32, 16); 16-21 px get 1, which makes MS-SSIM plain SSIM.
    """
    if size < 3:
        raise ValueError(f"MS-SSIM needs images of at least 3 x 3 pixels, got side {size}")
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and size // 2**scales >= win_size:
        scales += 1
    return scales


def ms_ssim(
    a: torch.Tensor, b: torch.Tensor, *, data_range: float = DATA_RANGE, scales: int | None = None
) -> torch.Tensor:
    """Multi-scale SSIM of each image pair, for images too small for the standard 5 scales.

    MONAI's ``compute_ms_ssim`` insists on 5 scales (about 176 px and up) and maps negative values through
    ``relu``, whose zero makes the weighted power's gradient NaN. This one uses MONAI's SSIM/contrast maps
    at :func:`ms_ssim_scales` scales, takes the first ``scales`` standard weights renormalised to sum 1, and
    floors each scale's value at 1e-6 so ``1 - ms_ssim`` is a safe loss. At 5 scales it equals MONAI's value
    (when no scale is negative); at 1 scale it equals :func:`ssim`.

    Args:
        a, b: ``[N, C, H, W]`` images (reconstruction and target).
        data_range: ``max - min`` of the pixel values (2 for [-1, 1]).
        scales: number of scales, 1..5; default :func:`ms_ssim_scales` of the smaller side.

    Returns:
        ``[N]``, 1 for identical images.

    Raises:
        ValueError: shapes differ or are not 4-D, or ``scales`` does not fit the image.

    Example:
        >>> a = torch.rand(2, 1, 64, 64) * 2 - 1
        >>> ms_ssim(a, a)                    # tensor([1., 1.]), over 3 scales
    """
    from monai.metrics.regression import compute_ssim_and_cs

    _check_pair(a, b)
    side = min(a.shape[-2:])
    n = ms_ssim_scales(side) if scales is None else scales
    if not 1 <= n <= len(MS_SSIM_WEIGHTS) or side // 2 ** (n - 1) < 3:
        raise ValueError(
            f"scales must be in 1..{len(MS_SSIM_WEIGHTS)} and leave the coarsest scale at least 3 pixels "
            f"wide (side {side}), got {scales}"
        )
    win = ssim_window(side // 2 ** (n - 1))  # 11, or less where one scale of a small image is all there is
    weights = torch.tensor(MS_SSIM_WEIGHTS[:n], device=a.device, dtype=torch.float32)
    weights = weights / weights.sum()
    values = []
    for scale in range(n):
        ssim_map, cs_map = compute_ssim_and_cs(
            a, b, spatial_dims=2, kernel_size=[win, win], kernel_sigma=[1.5, 1.5], data_range=data_range
        )  # [N, C, h - win + 1, w - win + 1] each
        # contrast-structure at the finer scales, full SSIM (with luminance) at the coarsest
        values.append((ssim_map if scale == n - 1 else cs_map).mean(dim=(1, 2, 3)))
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    per_scale = torch.stack(values).clamp_min(1e-6)  # [n, N]
    return (per_scale ** weights.unsqueeze(1)).prod(dim=0)
