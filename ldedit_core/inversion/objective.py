"""The reconstruction objective of the inversion, per image: pixel L2 + (1 - MS-SSIM) + D-feature distance.

Every term is ``[N]`` and depends only on its own image, so summing over the batch gives each image its
own gradient: a batch of N images inverts exactly as N separate runs would (Adam is per coordinate).
Optional per-image noise maps replace the synthesis network's constant noise buffers through
``torch.func.functional_call``, so the caller's generator is never modified.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ldedit_core.models.image_metrics import ms_ssim

#: Suffix of the synthesis network's per-layer constant noise buffers (``SynthesisLayer.noise_const``).
NOISE_BUFFER = "noise_const"


@dataclass(frozen=True)
class LossWeights:
    """Weights of the per-image inversion loss.

    On the shipped 64-px bundle, near the optimum for held-out phantoms, pixel MSE is about 0.007,
    ``1 - MS-SSIM`` about 0.02 and the D-feature distance about 0.001. D weight 10 makes the feature term
    count and improves reconstruction a little over weight 1; weight 30 improves it more but lets edits
    leak into the background (see docs/inversion.md for the measurements).

    Args:
        l2: pixel mean squared error (images in [-1, 1]).
        ms_ssim: ``1 - MS-SSIM`` (structure at several scales; plain L2 blurs edges).
        discriminator: mean squared difference of channel-normalised discriminator features (a perceptual
            distance that needs no downloaded VGG/LPIPS weights); used only when a discriminator is given.
        noise_regularization: StyleGAN2's autocorrelation penalty on optimised noise maps, which keeps
            them noise-like instead of absorbing image content; used only with ``noise_maps=True``.
    """

    l2: float = 1.0
    ms_ssim: float = 1.0
    discriminator: float = 10.0
    noise_regularization: float = 1e5

    def __post_init__(self) -> None:
        for name in ("l2", "ms_ssim", "discriminator", "noise_regularization"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not value >= 0 or value == float("inf"):
                raise ValueError(f"LossWeights.{name} must be a finite number >= 0, got {value!r}")
        if self.l2 == self.ms_ssim == 0 and self.discriminator == 0:
            raise ValueError("LossWeights: at least one of l2, ms_ssim, discriminator must be positive")


def noise_buffers(G: nn.Module) -> dict[str, torch.Tensor]:
    """``{name: [r, r] buffer}`` of the synthesis network's constant noise, by its name in ``G.synthesis``."""
    return {
        name: buf
        for name, buf in G.synthesis.named_buffers()
        if name.rsplit(".", 1)[-1] == NOISE_BUFFER and buf.ndim == 2
    }


def synthesize(G: nn.Module, ws: torch.Tensor, noise: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """``G.synthesis(ws, noise_mode="const")``, with per-image noise maps ``{name: [N, 1, r, r]}`` if given.

    Use it to regenerate an :class:`~ldedit_core.inversion.Inversion` made with ``noise_maps=True``.
    """
    if not noise:
        return G.synthesis(ws, noise_mode="const")
    return functional_call(G.synthesis, noise, (ws,), {"noise_mode": "const"}, strict=False)


def noise_regularization(noise: dict[str, torch.Tensor]) -> torch.Tensor:
    """StyleGAN2 projector's penalty, ``[N]``: squared autocorrelation at shift 1, pyramid down to 8 px."""
    total = 0.0
    for maps in noise.values():
        x = maps  # [N, 1, r, r]
        while True:
            total = total + (x * torch.roll(x, shifts=1, dims=3)).mean(dim=(1, 2, 3)).square()
            total = total + (x * torch.roll(x, shifts=1, dims=2)).mean(dim=(1, 2, 3)).square()
            if x.shape[-1] <= 8:
                break
            x = F.avg_pool2d(x, kernel_size=2)
    return total


@torch.no_grad()
def normalize_noise(noise: dict[str, torch.Tensor]) -> None:
    """Re-centre every map to mean 0 and standard deviation 1, in place (as StyleGAN2's projector does)."""
    for maps in noise.values():
        mean = maps.mean(dim=(1, 2, 3), keepdim=True)
        std = maps.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
        maps.sub_(mean).div_(std)


def discriminator_features(D: nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """Intermediate discriminator features, each normalised to unit length over channels."""
    _, feats = D(images, return_features=True)
    return [F.normalize(f, dim=1) for f in feats]


class Objective:
    """The loss for one batch of targets; counts single-image generator evaluations.

    The target's discriminator features are computed once here (not at every step as
    :func:`~ldedit_core.models.discriminator.feature_distance` would).
    """

    def __init__(
        self,
        G: nn.Module,
        target: torch.Tensor,
        weights: LossWeights,
        discriminator: nn.Module | None = None,
    ) -> None:
        self.G, self.target, self.weights = G, target, weights
        self.D = discriminator if weights.discriminator > 0 else None
        self.generator_evals = 0
        self.target_features = None
        if self.D is not None:
            with torch.no_grad():
                self.target_features = discriminator_features(self.D, target)

    def __call__(
        self, ws: torch.Tensor, noise: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``ws [N, num_ws, D]`` -> (images ``[N, C, R, R]``, terms ``{name: [N]}`` with ``"total"``)."""
        images = synthesize(self.G, ws, noise)
        self.generator_evals += ws.shape[0]
        w = self.weights
        terms = {
            "l2": (images - self.target).square().mean(dim=(1, 2, 3)),
            "ms_ssim": 1 - ms_ssim(images, self.target),
        }
        total = w.l2 * terms["l2"] + w.ms_ssim * terms["ms_ssim"]
        if self.D is not None:
            feats = discriminator_features(self.D, images)
            terms["discriminator"] = sum(
                (a - b).square().mean(dim=(1, 2, 3)) for a, b in zip(feats, self.target_features, strict=True)
            ) / len(feats)
            total = total + w.discriminator * terms["discriminator"]
        if noise:
            terms["noise_regularization"] = noise_regularization(noise)
            total = total + w.noise_regularization * terms["noise_regularization"]
        terms["total"] = total
        return images, terms
