"""What both inversions share: the result type, input checks, freezing the caller's networks, best-so-far."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from ldedit_core.models.image_metrics import psnr, ssim


@dataclass
class Inversion:
    """The result of inverting ``N`` images; every tensor is detached, float32, on the images' device.

    Attributes:
        ws: ``[N, num_ws, D]`` final W+ latents; ``G.synthesis(ws, noise_mode="const")`` reproduces
            ``reconstructions`` (with :func:`~ldedit_core.inversion.synthesize` and ``noise`` when noise maps
            were optimised).
        w: ``[N, D]`` result of the W stage (one latent per image, for edits that need W).
        reconstructions: ``[N, C, R, R]`` generator output for ``ws``, about [-1, 1].
        ssim, psnr: ``[N]`` reconstruction quality against the input images.
        generator_evals: single-image ``G.synthesis`` evaluations spent (batch size x forward calls), so
            methods can be compared on cost.
        steps: optimisation steps actually run, over all stages (early stops count what ran).
        history: one dict per step: ``stage``, ``step``, ``lr``, ``loss`` (batch mean) and its terms.
        noise: per-image noise maps ``{buffer name: [N, 1, r, r]}`` when ``noise_maps=True``, else ``None``.
    """

    ws: torch.Tensor
    w: torch.Tensor
    reconstructions: torch.Tensor
    ssim: torch.Tensor
    psnr: torch.Tensor
    generator_evals: int
    steps: int
    history: list[dict] = field(default_factory=list)
    noise: dict[str, torch.Tensor] | None = None


def generator_device(G: nn.Module) -> torch.device:
    """The device of G's parameters (where the inversion runs)."""
    for p in G.parameters():
        return p.device
    return torch.device("cpu")


def check_images(G: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``images`` as float32 on G's device, after checking they are ``[N, C, R, R]`` for G and finite.

    Raises:
        TypeError: not a tensor.
        ValueError: wrong shape for G, empty batch, or non-finite values.
    """
    if not torch.is_tensor(images):
        raise TypeError(f"images must be a torch.Tensor [N, C, R, R], got {type(images).__name__}")
    c, r = G.img_channels, G.img_resolution
    if images.ndim != 4 or tuple(images.shape[1:]) != (c, r, r):
        raise ValueError(
            f"images must have shape [N, {c}, {r}, {r}] for this generator "
            f"(channels {c}, resolution {r}), got {tuple(images.shape)}"
        )
    if images.shape[0] == 0:
        raise ValueError("images is an empty batch (N = 0)")
    if not images.is_floating_point():
        raise ValueError(f"images must be floating point in [-1, 1], got dtype {images.dtype}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or infinite values")
    return images.detach().to(device=generator_device(G), dtype=torch.float32)


def check_steps(**steps: int) -> None:
    for name, value in steps.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


def check_positive(**values: float) -> None:
    for name, value in values.items():
        if not isinstance(value, int | float) or not 0 < value < float("inf"):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


@contextmanager
def frozen(*modules: nn.Module | None) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` on every parameter for the block; both restored afterwards.

    Gradients then reach only the latents, and dropout/batch-norm layers (if any) behave deterministically.
    """
    mods = [m for m in modules if m is not None]
    grads = {id(p): (p, p.requires_grad) for m in mods for p in m.parameters()}
    modes = {id(s): (s, s.training) for m in mods for s in m.modules()}
    try:
        for p, _ in grads.values():
            p.requires_grad_(False)
        for m in mods:
            m.eval()
        yield
    finally:
        for p, flag in grads.values():
            p.requires_grad_(flag)
        for s, mode in modes.values():
            s.train(mode)


class Best:
    """Per-image best-so-far of a set of tensors (latents, noise maps, images), by a per-image loss."""

    def __init__(self, n: int, device: torch.device) -> None:
        self.loss = torch.full((n,), float("inf"), device=device)
        self.state: dict[str, torch.Tensor] = {}

    def update(self, loss: torch.Tensor, **state: torch.Tensor) -> None:
        """Keep ``state[k][i]`` for every image ``i`` whose ``loss[i]`` beats its best so far."""
        loss = loss.detach()
        better = loss < self.loss  # [N]
        if not self.state:
            self.state = {k: v.detach().clone() for k, v in state.items()}
        else:
            for k, v in state.items():
                self.state[k][better] = v.detach()[better]
        self.loss = torch.where(better, loss, self.loss)


def finish(
    images: torch.Tensor,
    *,
    ws: torch.Tensor,
    w: torch.Tensor,
    reconstructions: torch.Tensor,
    generator_evals: int,
    steps: int,
    history: list[dict],
    noise: dict[str, torch.Tensor] | None,
    out_device: torch.device,
) -> Inversion:
    """Measure SSIM/PSNR against the targets and move everything to ``out_device``."""
    out = lambda t: t.detach().to(device=out_device, dtype=torch.float32)  # noqa: E731
    with torch.no_grad():
        s, p = ssim(reconstructions, images), psnr(reconstructions, images)
    return Inversion(
        ws=out(ws),
        w=out(w),
        reconstructions=out(reconstructions),
        ssim=out(s),
        psnr=out(p),
        generator_evals=int(generator_evals),
        steps=int(steps),
        history=history,
        noise=None if noise is None else {k: out(v) for k, v in noise.items()},
    )
