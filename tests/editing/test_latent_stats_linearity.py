"""``LatentStats.linear_r2``: how much of a label a linear reading of W (Link-PCA's) can see."""

from __future__ import annotations

import math

import pytest
import torch

from ldedit_core.editing.latent_stats import WEAK_LINEAR_R2, fit_latent_stats


@pytest.fixture(scope="module")
def latents() -> torch.Tensor:
    return torch.randn(6000, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_linear_and_non_linear_labels(latents):
    w = latents
    labels = torch.stack(
        [
            torch.sigmoid(3.0 * w[:, 0] - w[:, 1]),  # a soft score along one direction
            (w[:, 2] > 0.5).double(),  # a half-space: a hard label, still mostly linear
            ((w[:, 0] * w[:, 1]) > 0).double(),  # XOR: present in W, along no direction
            (w[:, 3].square() > 1).double(),  # a shell: the same
        ],
        1,
    )
    r2 = fit_latent_stats(w, labels, ["soft", "half", "xor", "shell"]).linear_r2()
    assert r2[0] > 0.85 and r2[1] > 0.5
    assert r2[2].abs() < 0.01 and r2[3].abs() < 0.01
    assert r2[1] > WEAK_LINEAR_R2 > r2[2]


def test_adjusted_for_the_dimensions_fitted(latents):
    noise = torch.rand(200, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    small = fit_latent_stats(latents[:200], noise, ["noise"])
    # unadjusted, 16 coefficients on 200 samples explain about 8 % of pure noise
    assert small.linear_r2()[0].abs() < 0.05
    few = fit_latent_stats(latents[:17], noise[:17], ["noise"])
    assert math.isnan(float(few.linear_r2()[0]))  # n <= D + 1: not measurable
