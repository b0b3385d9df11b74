"""MS-SSIM for small images: the scale rule, agreement with MONAI and SSIM, and safe gradients."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from ldedit_core.models.image_metrics import ms_ssim, ms_ssim_scales, ssim


def _noisy(a: torch.Tensor, sigma: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (a + sigma * torch.randn(a.shape, generator=g)).clamp(-1, 1)


def _smooth_images(n: int, side: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(n, 1, side // 8, side // 8, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(side, side), mode="bilinear", align_corners=False)


def test_identical_images_score_one_and_noise_lowers_it_monotonically():
    a = _smooth_images(3, 64)
    assert torch.allclose(ms_ssim(a, a), torch.ones(3))
    values = [ms_ssim(_noisy(a, s), a) for s in (0.05, 0.1, 0.2, 0.4)]
    for better, worse in pairwise(values):
        assert (worse < better).all()
    assert (values[0] < 1).all()


@pytest.mark.parametrize(("side", "scales"), [(8, 1), (16, 1), (22, 2), (32, 2), (64, 3), (128, 4), (176, 5)])
def test_scale_rule_keeps_the_window_inside_the_coarsest_scale(side, scales):
    assert ms_ssim_scales(side) == scales


def test_five_scales_match_monai():
    from monai.metrics.regression import compute_ms_ssim

    a = _smooth_images(2, 176)
    b = _noisy(a, 0.1)
    theirs = compute_ms_ssim(b, a, spatial_dims=2, data_range=2.0).flatten()
    assert torch.allclose(ms_ssim(b, a), theirs, atol=1e-5)


def test_one_scale_is_ssim():
    a = _smooth_images(2, 16)
    b = _noisy(a, 0.2)
    assert torch.allclose(ms_ssim(b, a), ssim(b, a), atol=1e-6)


def test_gradient_is_finite_even_for_anticorrelated_images():
    a = _smooth_images(2, 64)
    b = (-a).requires_grad_(True)  # negative contrast-structure at every scale
    value = ms_ssim(b, a)
    (1 - value).sum().backward()
    assert value.shape == (2,) and torch.isfinite(b.grad).all()
    c = _noisy(a, 0.2).requires_grad_(True)
    (1 - ms_ssim(c, a)).sum().backward()
    assert c.grad.abs().sum() > 0


def test_bad_arguments_are_named():
    a = torch.zeros(1, 1, 16, 16)
    with pytest.raises(ValueError, match=r"scales must be in 1\.\.5"):
        ms_ssim(a, a, scales=4)
    with pytest.raises(ValueError, match="must both have shape"):
        ms_ssim(a, torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="at least 3 x 3"):
        ms_ssim_scales(2)
