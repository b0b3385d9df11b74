"""Disease classifiers: each architecture gives logits and features, is differentiable, rebuilds from JSON."""

from __future__ import annotations

import json

import pytest
import torch

from ldedit_core.models import build_network
from ldedit_core.models.classifier import (
    ARCHITECTURES,
    ClassifierConfig,
    DiseaseClassifier,
    build_classifier,
    classifier_features,
)
from ldedit_core.phantoms import DISEASES


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_logits_features_and_input_gradient(arch):
    torch.manual_seed(0)
    model = build_classifier(ClassifierConfig(arch=arch, resolution=64)).eval()
    x = (torch.rand(2, 1, 64, 64) * 2 - 1).requires_grad_(True)
    logits = model(x)
    feats = classifier_features(model, x)
    assert logits.shape == (2, len(DISEASES))
    assert feats.shape == (2, model.num_features) and model.num_features >= 64
    assert torch.allclose(model.head(feats), logits, atol=1e-5)
    (grad,) = torch.autograd.grad(logits[:, 0].sum(), x)
    assert grad.shape == x.shape and grad.abs().sum() > 0 and torch.isfinite(grad).all()


def test_smallest_resolution_and_disease_subset():
    model = build_classifier(ClassifierConfig(arch="densenet-small", resolution=32, diseases=["effusion"]))
    assert model(torch.zeros(3, 1, 32, 32)).shape == (3, 1)


def test_config_round_trips_through_json_and_the_registry():
    cfg = ClassifierConfig(arch="resnet10", resolution=48, diseases=("nodule", "edema"), dropout=0.1)
    d = json.loads(json.dumps(cfg.to_dict()))
    assert ClassifierConfig(**d) == cfg
    net = build_network("classifier", d)
    assert isinstance(net, DiseaseClassifier) and net.config == cfg
    assert build_classifier(d).config == cfg


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"arch.*did you mean 'densenet121'"):
        ClassifierConfig(arch="densenet12")
    with pytest.raises(ValueError, match=r"diseases.*pneumonia"):
        ClassifierConfig(diseases=("pneumonia",))
    with pytest.raises(ValueError, match="resolution"):
        ClassifierConfig(resolution=16)
    with pytest.raises(ValueError, match="dropout"):
        ClassifierConfig(dropout=1.5)
    model = build_classifier(ClassifierConfig(resolution=32))
    with pytest.raises(ValueError, match=r"x: expected images \[N, 1, 32, 32\]"):
        model(torch.zeros(1, 1, 64, 64))
    with pytest.raises(TypeError, match="model"):
        classifier_features(torch.nn.Identity(), torch.zeros(1, 1, 32, 32))
