"""Directions of the methods LDEdit is compared with, each a unit vector in W oriented toward the disease.

- ReSeFa / LowRankGAN: the ROI's top Link-LR direction at the image's latent, without Link-PCA (the
  closed-form generalized eigenproblem of ReSeFa; LowRankGAN solves a robust-PCA version of the same).
- InterFaceGAN: the normal of a linear SVM separating sampled codes the guide calls diseased (p > 0.5)
  from the others.
- GANSpace: of the top principal components of sampled W codes, the one most correlated with the disease.
- SeFa: of the top eigenvectors of ``A^T A`` (``A`` the stacked style-affine weights of the synthesis
  convolutions, each channel's row normalised as in SeFa's code), the one most correlated with the disease.

The global baselines (the last three) are found once per disease; they know nothing of the ROI. "Oriented"
means a positive projection on the population's latent-label covariance ``stats.cross``, the axis along
which the guide's score grows, so every method walks toward the disease.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ldedit_core.editing.latent_stats import LatentStats
from ldedit_core.evaluation.population import LatentSample
from ldedit_core.models.synthesis import SynthesisLayer, ToImage


@dataclass
class Direction:
    """One method's direction and how it was chosen.

    Attributes:
        direction: ``[D]`` float32 unit vector, oriented toward the disease.
        info: JSON-able facts (chosen component, its correlation, SVM accuracy, ...).
    """

    direction: torch.Tensor
    info: dict = field(default_factory=dict)


def orient(direction: torch.Tensor, stats: LatentStats, disease: str) -> torch.Tensor:
    """``direction [D]`` scaled to unit norm and flipped, if needed, to a positive projection on
    ``stats.cross`` of ``disease``.

    Raises:
        ValueError: a zero or non-finite vector, or one of the wrong size.
    """
    v = torch.as_tensor(direction).detach().double().cpu().reshape(-1)
    if v.numel() != stats.w_dim:
        raise ValueError(f"direction must have {stats.w_dim} elements, got {v.numel()}")
    norm = v.norm()
    if not torch.isfinite(norm) or norm < 1e-12:
        raise ValueError("direction is zero or not finite")
    v = v / norm
    if float(v @ stats.cross[stats.index(disease)]) < 0:
        v = -v
    return v.float()


def resefa_direction(U: torch.Tensor, stats: LatentStats, disease: str) -> Direction:
    """The top Link-LR direction ``U[0]`` (largest ROI-to-background ratio), oriented."""
    if U.ndim != 2 or U.shape[0] < 1:
        raise ValueError(f"U must be [k, D] with k >= 1, got {tuple(U.shape)}")
    return Direction(orient(U[0], stats, disease), {"component": 0})


def _pick_most_correlated(
    candidates: torch.Tensor, sample: LatentSample, stats: LatentStats, disease: str
) -> Direction:
    corr = sample.correlations(candidates, disease)
    best = int(corr.abs().argmax())
    return Direction(
        orient(candidates[best], stats, disease),
        {"component": best, "correlation": round(abs(float(corr[best])), 4), "candidates": len(candidates)},
    )


def interfacegan_direction(
    sample: LatentSample,
    stats: LatentStats,
    disease: str,
    *,
    threshold: float = 0.5,
    C: float = 1.0,
    seed: int = 0,
) -> Direction:
    """Normal of a linear SVM (scikit-learn ``LinearSVC``, balanced class weights) on the sampled codes.

    Labels are ``guide probability > threshold``. InterFaceGAN trains on equal numbers of the most and
    least likely samples; balanced class weights play that part here without discarding samples.

    Raises:
        ValueError: fewer than 2 samples on either side of ``threshold`` (the guide never or always
            sees the disease in generator samples; no boundary to learn).
    """
    from sklearn.svm import LinearSVC

    y = (sample.scores(disease) > threshold).numpy()
    positives = int(y.sum())
    if positives < 2 or len(y) - positives < 2:
        raise ValueError(
            f"InterFaceGAN needs samples on both sides of p = {threshold} for {disease}; "
            f"{positives} of {len(y)} generator samples are above it"
        )
    x = (sample.ws - sample.ws.mean(0)).numpy()
    svm = LinearSVC(C=C, class_weight="balanced", dual="auto", max_iter=20000, random_state=seed)
    svm.fit(x, y)
    normal = torch.from_numpy(svm.coef_.reshape(-1))
    return Direction(
        orient(normal, stats, disease),
        {"positives": positives, "samples": len(y), "train_accuracy": round(float(svm.score(x, y)), 4)},
    )


def ganspace_components(sample: LatentSample, n_components: int = 10) -> torch.Tensor:
    """``[n_components, D]`` top principal components (rows, unit norm) of the sampled W codes."""
    centred = sample.ws - sample.ws.mean(0)
    cov = centred.T @ centred / (len(sample) - 1)
    values, vectors = torch.linalg.eigh(cov)
    order = torch.argsort(values, descending=True)[:n_components]
    return vectors[:, order].T


def ganspace_direction(
    sample: LatentSample, stats: LatentStats, disease: str, *, n_components: int = 10
) -> Direction:
    """Of the top ``n_components`` principal components of W, the one most correlated with the disease."""
    return _pick_most_correlated(ganspace_components(sample, n_components), sample, stats, disease)


def style_weights(G: nn.Module, *, include_to_image: bool = False) -> torch.Tensor:
    """``A [channels, D]``: the style-affine weights of every synthesis convolution, stacked (float64).

    Each row is one modulated channel's weight vector as used at run time (``weight * weight_gain``),
    normalised to unit norm as SeFa's code does. ToImage (ToRGB) layers are left out unless asked for,
    as in SeFa's default.

    Raises:
        TypeError: ``G`` has no synthesis convolutions with style affines.
    """
    kinds = (SynthesisLayer, ToImage) if include_to_image else (SynthesisLayer,)
    rows = [
        (m.affine.weight * m.affine.weight_gain).detach().double().cpu()
        for m in G.synthesis.modules()
        if isinstance(m, kinds)
    ]
    if not rows:
        raise TypeError("G.synthesis has no modulated layers with a style affine (SynthesisLayer.affine)")
    a = torch.cat(rows)
    return a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)


def sefa_components(G: nn.Module, n_components: int = 10) -> torch.Tensor:
    """``[n_components, D]`` SeFa's semantic factors: top eigenvectors of ``A^T A`` (rows, unit norm)."""
    a = style_weights(G)
    values, vectors = torch.linalg.eigh(a.T @ a)
    order = torch.argsort(values, descending=True)[:n_components]
    return vectors[:, order].T


def sefa_direction(
    G: nn.Module, sample: LatentSample, stats: LatentStats, disease: str, *, n_components: int = 10
) -> Direction:
    """Of SeFa's top ``n_components`` factors, the one whose projection correlates most with the disease."""
    return _pick_most_correlated(sefa_components(G, n_components), sample, stats, disease)
