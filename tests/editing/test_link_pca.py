"""Population moments and Link-PCA: moments match a direct computation, the direction follows the label."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from ldedit_core.editing.latent_stats import LatentStats, fit_latent_stats
from ldedit_core.editing.link_pca import global_direction, link_pca

D, K = 12, 5


@pytest.fixture(scope="module")
def population() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Latents whose disease lives along ``truth``; the rest is anisotropic noise."""
    gen = torch.Generator().manual_seed(0)
    n = 4000
    truth = torch.zeros(D)
    truth[2], truth[5] = 0.6, 0.8
    labels = (torch.rand(n, generator=gen) < 0.3).double()
    noise = torch.randn(n, D, generator=gen, dtype=torch.float64) * torch.linspace(0.5, 2.0, D).double()
    w = noise + 3.0 * labels[:, None] * truth.double()
    return w, labels[:, None], truth


def test_moments_match_numpy(population):
    w, y, _ = population
    stats = fit_latent_stats(w, y, ["nodule"])
    assert torch.allclose(stats.mean, w.mean(0))
    assert torch.allclose(stats.cov, torch.from_numpy(np.cov(w.numpy(), rowvar=False)), atol=1e-10)
    expected = torch.from_numpy(np.cov(np.c_[w.numpy(), y.numpy()], rowvar=False)[-1, :-1])
    assert torch.allclose(stats.cross[0], expected, atol=1e-10)
    assert stats.n == len(w)


def test_round_trip_through_tensors(population):
    w, y, _ = population
    stats = fit_latent_stats(w, y, ["nodule"])
    back = LatentStats.from_tensors(stats.to_tensors(), ["nodule"])
    assert back.n == stats.n and torch.allclose(back.cov, stats.cov.float().double())
    with pytest.raises(ValueError, match="lack"):
        LatentStats.from_tensors({"mean": stats.mean}, ["nodule"])


def test_pca_components_match_sklearn(population):
    w, y, _ = population
    stats = fit_latent_stats(w, y, ["nodule"])
    U = torch.linalg.qr(torch.randn(D, K, generator=torch.Generator().manual_seed(3)))[0].T.float()
    result = link_pca(U, stats, "nodule", n_components=K)
    coords = (w - w.mean(0)).float() @ U.T
    ref = PCA(n_components=K).fit(coords.numpy())
    assert np.allclose(result.variances.numpy(), ref.explained_variance_, rtol=1e-3)
    cos = np.abs((result.components.numpy() * ref.components_).sum(1))
    assert (cos > 0.999).all()


def test_direction_follows_the_label(population):
    w, y, truth = population
    stats = fit_latent_stats(w, y, ["nodule"])
    U = torch.eye(D)[[2, 5, 0, 9, 11]]  # the subspace contains the disease
    result = link_pca(U, stats, "nodule", keep=0.1)
    assert torch.isclose(result.direction.norm(), torch.tensor(1.0))
    assert float(result.direction @ truth) > 0.95  # mostly the true direction, oriented to the disease
    assert torch.allclose(result.coefficients @ U, result.direction, atol=1e-5)  # inside span(U)
    assert float(global_direction(stats, "nodule") @ truth) > 0.9


def test_projection_mean_scores_rise_with_disease(population):
    w, y, _ = population
    stats = fit_latent_stats(w, y, ["nodule"])
    U = torch.eye(D)[:K]
    n = link_pca(U, stats, "nodule").direction.double()
    scores = w @ n
    assert scores[y[:, 0] > 0].mean() > scores[y[:, 0] == 0].mean()


def test_bad_inputs(population):
    w, y, _ = population
    stats = fit_latent_stats(w, y, ["nodule"])
    with pytest.raises(ValueError, match="U must be"):
        link_pca(torch.eye(3), stats, "nodule")
    with pytest.raises(KeyError, match="edema"):
        link_pca(torch.eye(D)[:K], stats, "edema")
    with pytest.raises(ValueError, match="keep"):
        link_pca(torch.eye(D)[:K], stats, "nodule", keep=0)
    with pytest.raises(ValueError, match="labels"):
        fit_latent_stats(w, y, ["nodule", "edema"])
    with pytest.raises(ValueError, match="finite"):
        fit_latent_stats(torch.full((3, D), float("nan")), torch.zeros(3, 1), ["nodule"])
