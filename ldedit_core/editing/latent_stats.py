"""Population statistics of latent codes with disease labels: what Link-PCA needs, without the population.

Link-PCA (method.md section 3) runs PCA on the population's coordinates inside one image's ROI subspace U
and relates each component to the disease. Both only need second moments: for ``c = U (w - mean)`` the
covariance is ``U Σ U^T`` and ``cov(c, y) = U cov(w, y)``. So a bundle stores the mean, the covariance and
the latent-label cross-covariance per disease (a few hundred kB at ``w_dim`` 512) instead of thousands of
latents, and one image is edited without the population.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

EXTRAS_NAME = "latent_stats"
"""Name of the bundle extras group that holds these statistics."""

WEAK_LINEAR_R2 = 0.2
"""Below this :meth:`LatentStats.linear_r2`, Link-PCA (linear in W) sees too little of a disease: the shipped
bundle's diseases have 0.33-0.59; cardiomegaly on the 300-kimg default GAN, which Link-PCA could not edit,
0.09 (docs/default-bundle.md, "History")."""


@dataclass
class LatentStats:
    """Moments of a labelled latent population (all float64 on the CPU).

    Attributes:
        diseases: the label columns, in order.
        mean: ``[D]`` mean latent.
        cov: ``[D, D]`` latent covariance.
        cross: ``[n_diseases, D]`` covariance of each label with the latent, ``cov(w, y_d)``.
        label_mean: ``[n_diseases]`` label means (prevalence, or mean score).
        label_var: ``[n_diseases]`` label variances.
        n: population size.
    """

    diseases: list[str]
    mean: torch.Tensor
    cov: torch.Tensor
    cross: torch.Tensor
    label_mean: torch.Tensor
    label_var: torch.Tensor
    n: int

    @property
    def w_dim(self) -> int:
        return int(self.mean.numel())

    def index(self, disease: str) -> int:
        if disease not in self.diseases:
            raise KeyError(f"no statistics for disease {disease!r} (have: {', '.join(self.diseases)})")
        return self.diseases.index(disease)

    def mahalanobis(self, w: torch.Tensor, *, ridge: float = 1e-3) -> torch.Tensor:
        """Squared whitened distance of ``w [..., D]`` to the mean, divided by D (about 1 in distribution)."""
        cov = self.cov + ridge * torch.trace(self.cov) / self.w_dim * torch.eye(
            self.w_dim, dtype=self.cov.dtype
        )
        chol = torch.linalg.cholesky(cov).to(w)
        diff = (w - self.mean.to(w)).reshape(-1, self.w_dim).T
        z = torch.linalg.solve_triangular(chol, diff, upper=False)
        return (z.square().sum(0) / self.w_dim).reshape(w.shape[:-1])

    def linear_r2(self, *, ridge: float = 1e-6) -> torch.Tensor:
        """``[n_diseases]`` adjusted R^2 of each label's best linear fit on w, from the moments alone.

        How much of a disease a linear reading of W (Link-PCA's) can see: near 0 when the label lives in W
        but not along any direction (benchmarks/direction_linearity.py). Adjusted for the ``D`` fitted
        coefficients, so a small population does not look linear by overfitting; NaN when ``n <= D + 1``.
        """
        d = self.w_dim
        if self.n <= d + 1:
            return torch.full((len(self.diseases),), float("nan"), dtype=torch.float64)
        cov = self.cov + ridge * torch.trace(self.cov) / d * torch.eye(d, dtype=self.cov.dtype)
        # pinv: a degenerate population (e.g. an untrained encoder's codes) has a singular covariance
        explained = (self.cross * (torch.linalg.pinv(cov, hermitian=True) @ self.cross.T).T).sum(1)
        r2 = explained / self.label_var.clamp_min(1e-12)
        return 1.0 - (1.0 - r2) * (self.n - 1) / (self.n - d - 1)

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors for :func:`ldedit_core.models.bundle.save_bundle`'s ``extras`` (float32)."""
        return {
            "mean": self.mean.float(),
            "cov": self.cov.float(),
            "cross": self.cross.float(),
            "label_mean": self.label_mean.float(),
            "label_var": self.label_var.float(),
            "n": torch.tensor([self.n], dtype=torch.int64),
        }

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, torch.Tensor], diseases: Sequence[str]) -> LatentStats:
        """Inverse of :meth:`to_tensors`; ``diseases`` names the rows of ``cross``."""
        missing = {"mean", "cov", "cross", "label_mean", "label_var", "n"} - set(tensors)
        if missing:
            raise ValueError(f"latent statistics lack {sorted(missing)}")
        stats = cls(
            list(diseases),
            tensors["mean"].double().cpu(),
            tensors["cov"].double().cpu(),
            tensors["cross"].double().cpu(),
            tensors["label_mean"].double().cpu(),
            tensors["label_var"].double().cpu(),
            int(tensors["n"].reshape(-1)[0]),
        )
        d = stats.w_dim
        if stats.cov.shape != (d, d) or stats.cross.shape != (len(stats.diseases), d):
            raise ValueError(
                f"latent statistics shapes disagree: mean {d}, cov {tuple(stats.cov.shape)}, "
                f"cross {tuple(stats.cross.shape)} for {len(stats.diseases)} diseases"
            )
        return stats


def fit_latent_stats(latents: torch.Tensor, labels: torch.Tensor, diseases: Sequence[str]) -> LatentStats:
    """Moments of ``latents [N, D]`` (W codes) and ``labels [N, n_diseases]`` (0/1 or probabilities).

    Raises:
        ValueError: shapes disagree, fewer than 2 latents, or a non-finite value.
    """
    w = torch.as_tensor(latents).detach().double().cpu()
    y = torch.as_tensor(labels).detach().double().cpu()
    if w.ndim != 2 or y.ndim != 2 or w.shape[0] != y.shape[0] or y.shape[1] != len(diseases):
        raise ValueError(
            f"expected latents [N, D] and labels [N, {len(diseases)}], "
            f"got {tuple(w.shape)} and {tuple(y.shape)}"
        )
    if w.shape[0] < 2:
        raise ValueError("need at least 2 latents")
    if not (torch.isfinite(w).all() and torch.isfinite(y).all()):
        raise ValueError("latents and labels must be finite")
    n = w.shape[0]
    wc, yc = w - w.mean(0), y - y.mean(0)
    return LatentStats(
        list(diseases),
        w.mean(0),
        wc.T @ wc / (n - 1),
        yc.T @ wc / (n - 1),
        y.mean(0),
        yc.square().sum(0) / (n - 1),
        n,
    )
