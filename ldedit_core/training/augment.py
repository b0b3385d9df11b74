"""Differentiable augmentation for GAN training on small medical data sets (DiffAugment, Zhao et al. 2020).

Applied to every image the discriminator sees, real and generated, so D cannot overfit a few thousand
radiographs while G still learns the un-augmented distribution. Hand-written because it must be
differentiable with respect to the image and seeded by an explicit ``torch.Generator`` (exact resume);
MONAI's random transforms are neither. Policies suited to radiographs: brightness, contrast (exposure and
processing vary), translation (positioning) and cutout; no colour or flips (anatomy is lateralised).

Each policy is applied to each image with probability ``p``: 1 is DiffAugment (always on); the trainer can
instead adapt ``p`` as StyleGAN2-ADA does (raise it while D overfits, lower it while D does not), because
always-on augmentation spends a small discriminator's capacity on invariances it does not need while the
data set is large against the training length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("brightness", "contrast", "translation", "cutout")


def diff_augment(
    x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator, p: float = 1.0
) -> torch.Tensor:
    """Augment a batch ``[N, C, H, W]`` (values about [-1, 1]) with the given policies, differentiably.

    Each policy is applied to each image with probability ``p`` (drawn from ``generator``); ``p >= 1``
    applies every policy to every image and draws exactly what earlier versions drew.
    """
    unknown = set(policy) - set(POLICIES)
    if unknown:
        raise ValueError(f"unknown augmentation policies {sorted(unknown)}; choose from {POLICIES}")
    if p <= 0:
        return x
    n = x.shape[0]

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator).to(x.device, x.dtype)

    def maybe(augmented: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
        if p >= 1:
            return augmented
        keep = rand(n, 1, 1, 1) >= p
        return torch.where(keep, original, augmented)

    if "brightness" in policy:
        x = maybe(x + (rand(n, 1, 1, 1) - 0.5) * 0.4, x)
    if "contrast" in policy:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = maybe((x - mean) * (rand(n, 1, 1, 1) * 0.6 + 0.7) + mean, x)
    if "translation" in policy:
        x = maybe(_translate(x, rand(n, 2) - 0.5, ratio=0.125), x)
    if "cutout" in policy:
        x = maybe(_cutout(x, rand(n, 2), ratio=0.25), x)
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
