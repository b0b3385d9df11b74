"""Labelled latent populations for Link-PCA: generator samples scored by the guide, or encoded images.

Two sources, as method.md section 3 allows: (a) samples ``w = mapping(z)`` scored by the guide classifier
(no data needed; what the default bundle ships), (b) a user's labelled images, encoded (and optionally
inverted) into W. Their moments (:class:`LatentStats`) go into the bundle with
:func:`ldedit_core.models.bundle_update.update_bundle`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ldedit_core.editing.latent_stats import LatentStats, fit_latent_stats
from ldedit_core.progress import ProgressCallback, check_cancel, report


@torch.no_grad()
def scored_samples(
    G: nn.Module,
    guide: nn.Module,
    *,
    n: int,
    seed: int = 0,
    batch: int = 256,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` codes ``w = G.mapping(z)`` (``z`` seeded) and the guide's probabilities on their images.

    Returns:
        float64 CPU tensors ``w [n, D]`` and ``probs [n, n_diseases]``.
    """
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    ws, probs = [], []
    for start in range(0, n, batch):
        check_cancel(cancel)
        z = torch.randn(min(batch, n - start), G.z_dim, generator=gen).to(device)
        w = G.mapping(z)
        img = G.synthesis(G.broadcast(w), noise_mode="const")
        ws.append(w.double().cpu())
        probs.append(torch.sigmoid(guide(img).double()).cpu())
        report(progress, "population", (start + len(z)) / n, f"{start + len(z)}/{n} samples")
    return torch.cat(ws), torch.cat(probs)


def sampled_population(
    G: nn.Module,
    guide: nn.Module,
    diseases: list[str],
    *,
    n: int = 20000,
    seed: int = 0,
    batch: int = 256,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> LatentStats:
    """Moments of ``n`` generator samples' W codes with the guide's probabilities as soft labels."""
    ws, probs = scored_samples(G, guide, n=n, seed=seed, batch=batch, progress=progress, cancel=cancel)
    return fit_latent_stats(ws, probs, diseases)


@torch.no_grad()
def encoded_population(
    encoder: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    diseases: list[str],
    *,
    batch: int = 128,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> LatentStats:
    """Moments of labelled images ``[N, C, R, R]`` in [-1, 1] encoded to W (mean of the encoder's W+)."""
    device = next(encoder.parameters()).device
    ws = []
    for start in range(0, len(images), batch):
        check_cancel(cancel)
        x = images[start : start + batch].to(device).float()
        ws.append(encoder(x).mean(1).double().cpu())
        report(progress, "population", (start + len(x)) / len(images), f"{start + len(x)} images encoded")
    return fit_latent_stats(torch.cat(ws), labels.double(), diseases)
