"""A sampled latent population with the guide's scores: what the global baselines are fitted on.

:func:`ldedit_core.editing.population.sampled_population` keeps only the moments, which is all Link-PCA
needs; InterFaceGAN's SVM needs the samples themselves, so the evaluation draws them once per run and
fits every population-based baseline (and, when the bundle ships none, the Link-PCA moments) on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ldedit_core.editing.latent_stats import LatentStats, fit_latent_stats
from ldedit_core.editing.population import scored_samples
from ldedit_core.progress import ProgressCallback


@dataclass
class LatentSample:
    """Generator samples in W with the guide's probabilities.

    Attributes:
        ws: ``[P, D]`` float64 W codes (``G.mapping(z)``), on the CPU.
        probs: ``[P, n_diseases]`` float64 guide probabilities of ``G.synthesis`` of each code.
        diseases: the guide's disease order (columns of ``probs``).
        seed: the sampling seed.
    """

    ws: torch.Tensor
    probs: torch.Tensor
    diseases: list[str]
    seed: int

    def __post_init__(self) -> None:
        if self.ws.ndim != 2 or self.probs.shape != (self.ws.shape[0], len(self.diseases)):
            raise ValueError(
                f"expected ws [P, D] and probs [P, {len(self.diseases)}], "
                f"got {tuple(self.ws.shape)} and {tuple(self.probs.shape)}"
            )

    def __len__(self) -> int:
        return self.ws.shape[0]

    def scores(self, disease: str) -> torch.Tensor:
        """``[P]`` guide probability of ``disease``."""
        if disease not in self.diseases:
            raise KeyError(f"no scores for disease {disease!r} (have: {', '.join(self.diseases)})")
        return self.probs[:, self.diseases.index(disease)]

    def correlations(self, directions: torch.Tensor, disease: str) -> torch.Tensor:
        """``[k]`` Pearson correlation of each projection ``ws @ directions[i]`` with the disease score."""
        proj = (self.ws - self.ws.mean(0)) @ directions.double().T  # [P, k]
        y = self.scores(disease) - self.scores(disease).mean()
        denom = proj.norm(dim=0) * y.norm()
        return (proj.T @ y) / denom.clamp_min(1e-12)

    def stats(self) -> LatentStats:
        """The Link-PCA moments of this population (as ``sampled_population`` would give them)."""
        return fit_latent_stats(self.ws, self.probs, self.diseases)


@torch.no_grad()
def sample_latents(
    G: nn.Module,
    guide: nn.Module,
    diseases: list[str],
    *,
    n: int = 5000,
    seed: int = 0,
    batch: int = 256,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> LatentSample:
    """``n`` codes ``w = G.mapping(z)``, ``z`` seeded, scored by ``guide`` on ``G.synthesis`` (const noise).

    The same seed and batch give the same codes as ``sampled_population``.

    Raises:
        ValueError: ``n`` < 2.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    ws, probs = scored_samples(G, guide, n=n, seed=seed, batch=batch, progress=progress, cancel=cancel)
    return LatentSample(ws, probs, list(diseases), seed)
