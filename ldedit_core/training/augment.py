"""Differentiable augmentation for GAN training on small medical data sets (DiffAugment, Zhao et al. 2020).

Applied to every image the discriminator sees, real and generated, so D cannot overfit a few thousand
radiographs while G still learns the un-augmented distribution. Hand-written because it must be
differentiable with respect to the image and seeded by an explicit ``torch.Generator`` (exact resume);
MONAI's random transforms are neither. Policies suited to radiographs: brightness, contrast (exposure and
processing vary), translation (positioning) and cutout; no colour or flips (anatomy is lateralised).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("brightness", "contrast", "translation", "cutout")


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """Augment a batch ``[N, C, H, W]`` (values about [-1, 1]) with the given policies, differentiably."""
    unknown = set(policy) - set(POLICIES)
    if unknown:
        raise ValueError(f"unknown augmentation policies {sorted(unknown)}; choose from {POLICIES}")
    n = x.shape[0]

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator).to(x.device, x.dtype)

    if "brightness" in policy:
        x = x + (rand(n, 1, 1, 1) - 0.5) * 0.4
    if "contrast" in policy:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (rand(n, 1, 1, 1) * 0.6 + 0.7) + mean
    if "translation" in policy:
        x = _translate(x, rand(n, 2) - 0.5, ratio=0.125)
    if "cutout" in policy:
        x = _cutout(x, rand(n, 2), ratio=0.25)
    return x


def _translate(x: torch.Tensor, u: torch.Tensor, ratio: float) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size (whole pixels), padding with the border."""
    n, _, h, w = x.shape
    shift = torch.round(u * 2 * ratio * torch.tensor([w, h], device=x.device, dtype=x.dtype))
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2] = shift[:, 0] * 2 / w
    theta[:, 1, 2] = shift[:, 1] * 2 / h
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="border", align_corners=False)


def _cutout(x: torch.Tensor, u: torch.Tensor, ratio: float) -> torch.Tensor:
    """Zero a square of side ``ratio`` x size at a random place in each image."""
    n, _, h, w = x.shape
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    cy = (u[:, 0] * h).view(n, 1, 1)
    cx = (u[:, 1] * w).view(n, 1, 1)
    inside = ((ys - cy).abs() < ratio * h / 2) & ((xs - cx).abs() < ratio * w / 2)
    return x * (~inside).unsqueeze(1).to(x.dtype)
