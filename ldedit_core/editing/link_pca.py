"""Link-PCA: the disease direction inside an image's ROI-linked subspace (method.md section 3).

Given the Link-LR directions ``U [k, D]`` and the population moments (:class:`LatentStats`): the population's
coordinates ``c = U (w - mean)`` have covariance ``U Σ U^T``; its eigenvectors are the principal
components. Each component's association with the disease is its point-biserial correlation with the
label, computed from the moments. The direction combines the components whose |correlation| is at least
``keep`` of the strongest one, each weighted by its covariance with the label. With every component kept
this is the population's label-covariance (mean-difference) direction projected into the subspace; keeping
only the strong ones drops components that mostly carry other anatomy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ldedit_core.editing.latent_stats import LatentStats


@dataclass
class DiseaseDirection:
    """The guided direction and how it was formed.

    Attributes:
        direction: ``[D]`` unit vector in W, oriented toward the disease.
        coefficients: ``[k]``: the direction is ``coefficients @ U``, so it stays in span(U).
        components: ``[n_pc, k]`` principal components of the population in U coordinates.
        variances: ``[n_pc]`` their variances.
        correlations: ``[n_pc]`` each component's correlation with the disease label.
        used: indices of the components combined.
    """

    direction: torch.Tensor
    coefficients: torch.Tensor
    components: torch.Tensor
    variances: torch.Tensor
    correlations: torch.Tensor
    used: list[int]


def link_pca(
    U: torch.Tensor, stats: LatentStats, disease: str, *, n_components: int = 10, keep: float = 0.5
) -> DiseaseDirection:
    """The disease direction inside ``span(U)``.

    Args:
        U: ``[k, D]`` ROI-linked directions (rows), e.g. ``link_lr(...).directions``.
        stats: population moments with ``disease`` among their diseases.
        disease: which label to follow.
        n_components: principal components considered (at most k).
        keep: components with ``|corr| >= keep * max |corr|`` are combined (1 keeps only the best one).

    Raises:
        KeyError: no statistics for ``disease``.
        ValueError: ``U`` does not match the statistics' ``w_dim`` or ``keep`` is outside (0, 1].
    """
    if U.ndim != 2 or U.shape[1] != stats.w_dim:
        raise ValueError(f"U must be [k, {stats.w_dim}], got {tuple(U.shape)}")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    d = stats.index(disease)
    u = U.detach().double().cpu()
    cov_c = u @ stats.cov @ u.T  # [k, k]
    cross_c = u @ stats.cross[d]  # [k]: cov(c, y)
    variances, vectors = torch.linalg.eigh(cov_c)
    order = torch.argsort(variances, descending=True)[: max(1, min(n_components, u.shape[0]))]
    variances, vectors = variances[order].clamp_min(1e-12), vectors[:, order]  # columns are components
    cov_sy = vectors.T @ cross_c  # [n_pc]: cov(score_j, y)
    label_sd = stats.label_var[d].clamp_min(1e-12).sqrt()
    correlations = cov_sy / (variances.sqrt() * label_sd)
    strongest = correlations.abs().max()
    used = [int(j) for j in torch.nonzero(correlations.abs() >= keep * strongest).flatten()]
    a = vectors[:, used] @ cov_sy[used]  # [k]
    direction = a @ u
    norm = direction.norm()
    if norm < 1e-12:
        raise ValueError(f"the population carries no {disease} signal inside this ROI subspace")
    return DiseaseDirection(
        direction=(direction / norm).float(),
        coefficients=(a / norm).float(),
        components=vectors.T.float(),
        variances=variances.float(),
        correlations=correlations.float(),
        used=used,
    )


def global_direction(stats: LatentStats, disease: str) -> torch.Tensor:
    """``[D]`` unit label-covariance direction over the whole of W (no ROI): the automatic ROI's edit."""
    d = stats.index(disease)
    direction = stats.cross[d]
    return (direction / direction.norm().clamp_min(1e-12)).float()
