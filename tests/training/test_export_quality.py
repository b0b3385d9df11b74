"""Bundles built from training outputs, and the generator-quality measures behind docs/default-bundle.md."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ldedit_core import load_bundle
from ldedit_core.cli.main import main
from ldedit_core.models import DiscriminatorConfig, GeneratorConfig
from ldedit_core.models.classifier import ClassifierConfig
from ldedit_core.training.classifier_trainer import ClassifierTrainingConfig, train_classifier
from ldedit_core.training.gan_trainer import GanTrainer, GanTrainingConfig
from ldedit_core.training.phantom_data import phantom_tensors
from ldedit_core.training.quality import c2st_accuracy, frechet_distance, generator_quality, to_model_range

SMALL = {"channel_base": 256, "channel_max": 16}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny 32-px GAN checkpoint and two tiny classifiers, as the training commands write them."""
    root = tmp_path_factory.mktemp("runs")
    torch.manual_seed(0)
    images, labels, _ = phantom_tensors(48, seed=5, resolution=32)
    g = GeneratorConfig(resolution=32, z_dim=16, w_dim=16, mapping_layers=2, **SMALL)
    cfg = GanTrainingConfig(generator=g, discriminator=DiscriminatorConfig(resolution=32, **SMALL), batch=8)
    gan = GanTrainer(cfg, images)
    gan.train_step()
    gan.save_checkpoint(root / "gan.safetensors")
    for role, arch in (("guide", "densenet-small"), ("evaluator", "resnet10")):
        c = ClassifierTrainingConfig(
            classifier=ClassifierConfig(arch=arch, resolution=32), epochs=1, batch=8, role=role, augment=False
        )
        train_classifier(c, images, labels, out_dir=root / role, progress=False)
    return root, images, labels


def test_bundle_build_cli_and_quality(runs, tmp_path):
    root, images, labels = runs
    out = tmp_path / "bundle"
    assert (
        main(
            [
                "bundle",
                "build",
                "--out",
                str(out),
                "--gan",
                str(root / "gan.safetensors"),
                "--guide",
                str(root / "guide"),
                "--evaluator",
                str(root / "evaluator"),
                "--name",
                "tiny",
                "--data",
                "48 phantoms",
            ]
        )
        == 0
    )
    bundle = load_bundle(out)
    assert bundle.generator is not None and bundle.guide is not None and bundle.evaluator is not None
    assert bundle.meta["training"]["data"] == "48 phantoms"
    assert "auroc" in str(bundle.meta["training"]["evaluator"]).lower()
    assert bundle.meta["networks"]["generator"]["dtype"] == "float16"
    assert "bundle build" in bundle.meta["provenance"]["command"]
    q = generator_quality(bundle.generator, bundle.evaluator, images, labels, n_generated=48)
    assert set(q["evaluator_auroc"]) == set(bundle.evaluator.config.diseases)
    assert 0.0 <= q["c2st_accuracy"] <= 1.0 and q["fid_real_vs_generated"] >= 0
    assert all(0.0 <= v <= 1.0 for v in q["disease_rate_generated"].values())
    assert q["disease_rate_real"]["cardiomegaly"] == pytest.approx(float(labels[:, 0].mean()))
    with torch.no_grad():
        called = (torch.sigmoid(bundle.evaluator(to_model_range(images))) > 0.5).float().mean(0)
    for j, d in enumerate(bundle.evaluator.config.diseases):
        assert q["disease_rate_real_by_evaluator"][d] == pytest.approx(float(called[j]))


def test_c2st_tells_apart_only_what_differs():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    assert abs(c2st_accuracy(a, b) - 0.5) < 0.08
    assert c2st_accuracy(a, b + 3.0) > 0.95


def test_frechet_distance_is_zero_for_a_set_and_itself():
    x = torch.randn(200, 6, dtype=torch.float64)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(x, x + 2.0) == pytest.approx(6 * 4.0, rel=1e-3)  # |mean difference|^2
