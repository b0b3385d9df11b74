"""Classifier training: the loss falls, resume is bit-exact, AUROC is right, the CLI writes its files."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ldedit_core.cli.main import main
from ldedit_core.errors import InputError
from ldedit_core.models.classifier import ClassifierConfig
from ldedit_core.training.augment_classifier import AugmentedImages
from ldedit_core.training.classifier_trainer import (
    ClassifierTrainer,
    ClassifierTrainingConfig,
    auroc_per_disease,
    load_classifier,
    masked_bce,
    split_indices,
)
from ldedit_core.training.phantom_data import phantom_tensors


@pytest.fixture(scope="module")
def phantoms32():
    images, labels, _ = phantom_tensors(48, seed=3, resolution=32)
    return images, labels


def _config(**kw) -> ClassifierTrainingConfig:
    arch = ClassifierConfig(arch="densenet-small", resolution=kw.pop("resolution", 32), dropout=0.1)
    return ClassifierTrainingConfig(classifier=arch, **{"batch": 8, "epochs": 2, "val_fraction": 0.25, **kw})


def test_a_few_steps_lower_the_loss_on_64px_phantoms():
    images, labels, _ = phantom_tensors(24, seed=7, resolution=64, render_size=64)
    trainer = ClassifierTrainer(
        _config(resolution=64, batch=12, epochs=8, lr=3e-3, val_fraction=0.0, augment=False), images, labels
    )
    losses = [trainer.train_step() for _ in range(trainer.total_steps)]
    assert trainer.total_steps == 16
    assert sum(losses[-4:]) / 4 < 0.85 * sum(losses[:2]) / 2, losses


def test_resume_from_a_checkpoint_is_bit_exact(phantoms32, tmp_path):
    images, labels = phantoms32
    cfg = _config(augment=True)
    straight = ClassifierTrainer(cfg, images, labels)
    assert straight.steps_per_epoch == 4 and straight.total_steps == 8
    losses = [straight.train_step() for _ in range(8)]

    first = ClassifierTrainer(cfg, images, labels)
    head = [first.train_step() for _ in range(3)]  # stop in the middle of the first epoch
    first.save_checkpoint(tmp_path / "ckpt.safetensors")
    del first
    resumed = ClassifierTrainer.from_checkpoint(tmp_path / "ckpt.safetensors", images, labels)
    assert resumed.step == 3
    tail = [resumed.train_step() for _ in range(5)]
    assert head + tail == losses
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    a, b = straight.opt.state_dict()["state"], resumed.opt.state_dict()["state"]
    assert all(torch.equal(a[i]["exp_avg_sq"], b[i]["exp_avg_sq"]) for i in a)
    with pytest.raises(InputError, match="same data"):
        ClassifierTrainer.from_checkpoint(tmp_path / "ckpt.safetensors", images[:40], labels[:40])


def test_auroc_matches_a_hand_computed_example():
    labels = torch.tensor([[0, 1, 1], [0, math.nan, 1], [1, 0, 1], [1, 1, 1]], dtype=torch.float32)
    scores = torch.tensor([[0.1, 0.9, 0.5], [0.4, 0.0, 0.5], [0.35, 0.2, 0.5], [0.8, 0.1, 0.5]])
    auroc = auroc_per_disease(labels, scores, ["a", "b", "c"])
    # column a: of the 4 (negative, positive) pairs, only (0.4, 0.35) is ordered wrongly -> 3/4
    # column b: the NaN row is ignored; positives 0.9, 0.1 vs negative 0.2 -> 1/2; column c: one class
    assert auroc == {"a": 0.75, "b": 0.5, "c": None}
    from sklearn.metrics import roc_auc_score

    assert auroc["a"] == roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    with pytest.raises(ValueError, match="labels"):
        auroc_per_disease(labels, scores[:, :2], ["a", "b", "c"])


def test_masked_bce_ignores_unknown_labels():
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    labels = torch.tensor([[1.0, math.nan], [0.0, math.nan]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], labels[:, 0])
    assert torch.allclose(masked_bce(logits, labels), expected)


def test_split_is_deterministic_disjoint_and_seeded():
    train, val = split_indices(100, 0.2, seed=0)
    assert len(val) == 20 and len(train) == 80
    assert sorted(torch.cat([train, val]).tolist()) == list(range(100))
    assert torch.equal(split_indices(100, 0.2, seed=0)[1], val)
    assert not torch.equal(split_indices(100, 0.2, seed=1)[1], val)
    with pytest.raises(ValueError, match="val_fraction"):
        split_indices(10, 1.0, seed=0)


def test_augmentation_is_seeded_by_epoch_and_index(phantoms32):
    images, labels = phantoms32
    data = AugmentedImages(images, labels, seed=5)
    x, y = data[2]
    assert x.shape == (1, 32, 32) and x.min() >= -1 and x.max() <= 1 and torch.equal(y, labels[2])
    assert torch.equal(data[2][0], x)
    data.set_epoch(1)
    assert not torch.equal(data[2][0], x)
    plain = AugmentedImages(images, labels, augment=False)
    assert torch.equal(plain[2][0], images[2].float() / 127.5 - 1.0)


def test_bad_configs_name_the_argument(phantoms32):
    with pytest.raises(ValueError, match="epochs"):
        _config(epochs=0)
    with pytest.raises(ValueError, match="role"):
        _config(role="judge")
    images, labels = phantoms32
    with pytest.raises(ValueError, match="images: expected uint8"):
        ClassifierTrainer(_config(resolution=64), images, labels)
    with pytest.raises(ValueError, match="labels"):
        ClassifierTrainer(_config(), images, labels[:, :2])


def test_cli_trains_end_to_end_and_writes_weights_and_metrics(tmp_path, capsys):
    out = tmp_path / "guide"
    argv = ["train-classifier", "--out", str(out), "--n", "64", "--resolution", "32", "--epochs", "1"]
    argv += ["--batch", "16", "--arch", "densenet-small", "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "cardiomegaly" in printed and "AUROC" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["arch"] == "densenet-small" and metrics["role"] == "guide" and metrics["epochs"] == 1
    assert metrics["n_train"] + metrics["n_val"] == 64 and metrics["n_val"] == 13
    assert set(metrics["auroc"]) == {"cardiomegaly", "effusion", "edema", "nodule"}
    model, meta = load_classifier(out / "classifier.safetensors")
    assert meta["config"]["arch"] == "densenet-small" and meta["metrics"]["steps"] == metrics["steps"]
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 4) and not model.training
    assert (out / "data_phantoms_v2_32px_n64_s1.safetensors").is_file()
    assert main(argv) == 2  # a checkpoint exists: refuse to overwrite without --resume
    assert "--resume" in capsys.readouterr().err


def test_cli_evaluator_uses_its_own_population(tmp_path):
    out = tmp_path / "eval"
    argv = ["train-classifier", "--out", str(out), "--n", "16", "--resolution", "32", "--epochs", "1"]
    argv += ["--batch", "8", "--role", "evaluator", "--split-seed", "4", "--quiet"]
    assert main(argv) == 0
    assert (out / "data_phantoms_v2_32px_n16_s1001.safetensors").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["arch"] == "resnet10" and metrics["role"] == "evaluator" and metrics["split_seed"] == 4
