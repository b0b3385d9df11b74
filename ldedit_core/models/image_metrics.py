"""Per-image reconstruction metrics for images in [-1, 1]: SSIM (MONAI's Gaussian-window SSIM) and PSNR.

Both return one value per image (``[N]``) and are differentiable, so ``1 - ssim(a, b)`` serves as a loss
(the encoder's training) and the mean as a metric (its evaluation, the inversion's reports).

Example:
    >>> a = torch.rand(2, 1, 32, 32) * 2 - 1
    >>> ssim(a, a)                       # tensor([1., 1.])
    >>> psnr(a, a.clamp(-0.9, 0.9))      # high, in dB
"""

from __future__ import annotations

import torch

#: Value range of images in [-1, 1].
DATA_RANGE = 2.0


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
