"""How good is a generator? Measured with the independent evaluator classifier, never the guide.

- evaluator AUROC per disease on held-out real images;
- realism: a classifier two-sample test (C2ST: logistic regression on the evaluator's penultimate
  features, real vs generated, 5-fold; 0.5 = indistinguishable) and the Frechet distance on the same
  features (MONAI ``FIDMetric``) next to the real-vs-real distance of two held-out halves;
- coverage: the rate at which the evaluator finds each disease among generated samples vs real ones.
"""

from __future__ import annotations

import numpy as np
import torch

from ldedit_core.models.classifier import DiseaseClassifier, classifier_features
from ldedit_core.models.generator import Generator


@torch.no_grad()
def sample_images(
    G: Generator,
    n: int,
    *,
    seed: int,
    truncation_psi: float = 1.0,
    batch: int = 128,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """``n`` generator samples ``[n, C, R, R]`` in [-1, 1] from seeded latents (noise const)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=gen)
    out = [
        G(z[i : i + batch].to(device), truncation_psi=truncation_psi).clamp(-1, 1).cpu()
        for i in range(0, n, batch)
    ]
    return torch.cat(out)


@torch.no_grad()
def _apply(model: DiseaseClassifier, images: torch.Tensor, fn, batch: int, device) -> torch.Tensor:
    return torch.cat(
        [fn(model, images[i : i + batch].to(device)).float().cpu() for i in range(0, len(images), batch)]
    )


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in [-1, 1]; float images are returned as they are."""
    return images.float() / 127.5 - 1.0 if images.dtype == torch.uint8 else images


def c2st_accuracy(real: np.ndarray, fake: np.ndarray, *, folds: int = 5, seed: int = 0) -> float:
    """Mean cross-validated accuracy of a logistic regression telling ``real`` from ``fake`` features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([real, fake])
    y = np.concatenate([np.ones(len(real)), np.zeros(len(fake))])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, x, y, cv=cv, scoring="accuracy").mean())


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance between two feature sets ``[N, F]`` (MONAI ``FIDMetric``)."""
    from monai.metrics import FIDMetric

    return float(FIDMetric()(a.double(), b.double()))


def generator_quality(
    G: Generator,
    evaluator: DiseaseClassifier,
    real_images: torch.Tensor,
    real_labels: torch.Tensor,
    *,
    n_generated: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    batch: int = 128,
) -> dict:
    """All figures of this module for one generator, as a JSON-able dict.

    Args:
        G: the generator (EMA weights), eval mode.
        evaluator: the independent classifier.
        real_images: held-out real images, uint8 ``[N, 1, R, R]`` (or floats in [-1, 1]), never seen by
            the evaluator or the generator in training.
        real_labels: ``[N, D]`` 0/1 labels of ``real_images`` in the evaluator's disease order.
        n_generated: generated samples to compare (default ``N``).
    """
    diseases = list(evaluator.config.diseases)
    real = to_model_range(real_images)
    fake = sample_images(G, n_generated or len(real), seed=seed, device=device, batch=batch)
    logits_real = _apply(evaluator, real, lambda m, x: m(x), batch, device)
    logits_fake = _apply(evaluator, fake, lambda m, x: m(x), batch, device)
    feats_real = _apply(evaluator, real, classifier_features, batch, device)
    feats_fake = _apply(evaluator, fake, classifier_features, batch, device)
    from sklearn.metrics import roc_auc_score

    auroc = {
        d: float(roc_auc_score(real_labels[:, j].numpy(), logits_real[:, j].numpy()))
        for j, d in enumerate(diseases)
    }
    half = len(feats_real) // 2
    rate_real = real_labels.float().mean(0)
    rate_fake = (torch.sigmoid(logits_fake) > 0.5).float().mean(0)
    # the same call on the real images: how much of a gap is the evaluator missing faint cases, not the GAN
    rate_real_called = (torch.sigmoid(logits_real) > 0.5).float().mean(0)
    return {
        "n_real": len(real),
        "n_generated": len(fake),
        "diseases": diseases,
        "evaluator_auroc": auroc,
        "c2st_accuracy": c2st_accuracy(feats_real.numpy(), feats_fake.numpy(), seed=seed),
        "fid_real_vs_generated": frechet_distance(feats_real, feats_fake),
        "fid_real_vs_real": frechet_distance(feats_real[:half], feats_real[half : 2 * half]),
        "disease_rate_real": dict(zip(diseases, rate_real.tolist(), strict=True)),
        "disease_rate_generated": dict(zip(diseases, rate_fake.tolist(), strict=True)),
        "disease_rate_real_by_evaluator": dict(zip(diseases, rate_real_called.tolist(), strict=True)),
    }
