"""Augmentation probability: per-image application, ADA's adjustment rule, exact resume, resume overrides."""

from __future__ import annotations

import json

import pytest
import torch

from ldedit_core.cli.main import main
from ldedit_core.training.augment import diff_augment
from ldedit_core.training.gan_trainer import GanTrainer, GanTrainingConfig
from ldedit_core.training.state_io import load_tensors
from tests.training.tiny_gan import tiny_config, tiny_images


def _changed(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x != y).flatten(1).any(dim=1)


def test_probability_zero_leaves_images_alone_and_one_changes_every_image():
    x = torch.randn(64, 1, 16, 16)
    policy = ("brightness", "contrast", "translation", "cutout")
    assert torch.equal(diff_augment(x, policy, torch.Generator().manual_seed(0), p=0.0), x)
    assert _changed(x, diff_augment(x, policy, torch.Generator().manual_seed(0), p=1.0)).all()


def test_each_image_is_augmented_with_probability_p():
    x = torch.randn(4000, 1, 8, 8)
    for p in (0.1, 0.3, 0.8):
        out = diff_augment(x, ("brightness",), torch.Generator().manual_seed(1), p=p)
        assert _changed(x, out).float().mean().item() == pytest.approx(p, abs=0.03)


def test_partial_probability_stays_differentiable():
    x = torch.randn(16, 1, 16, 16, requires_grad=True)
    out = diff_augment(x, ("brightness", "contrast", "translation"), torch.Generator().manual_seed(2), p=0.5)
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_ada_raises_p_while_d_is_sure_of_reals_and_lowers_it_while_it_is_not():
    trainer = GanTrainer(
        tiny_config(augment_p=0.5, ada_target=0.6, ada_kimg=1.0, ada_interval=4), tiny_images()
    )
    step = 8 * 4 / 1000  # batch * interval / (ada_kimg * 1000)
    trainer.step = 3  # the adjustment runs after every 4th step
    trainer._ada_signs[:] = torch.tensor([40.0, 40.0])  # r_t = 1 > 0.6: D overfits the reals
    trainer._adapt_augment()
    assert trainer.augment_p == pytest.approx(0.5 + step)
    assert trainer._ada_signs.tolist() == [0.0, 0.0]
    trainer._ada_signs[:] = torch.tensor([-8.0, 40.0])  # r_t = -0.2 < 0.6
    trainer._adapt_augment()
    assert trainer.augment_p == pytest.approx(0.5)
    trainer.step = 4  # not an adjustment step
    trainer._ada_signs[:] = torch.tensor([40.0, 40.0])
    trainer._adapt_augment()
    assert trainer.augment_p == pytest.approx(0.5)


def test_p_stays_in_zero_one_and_fixed_when_ada_is_off():
    low = GanTrainer(
        tiny_config(augment_p=0.0, ada_target=0.6, ada_kimg=0.001, ada_interval=1), tiny_images()
    )
    low._ada_signs[:] = torch.tensor([-8.0, 8.0])
    low._adapt_augment()
    assert low.augment_p == 0.0
    high = GanTrainer(
        tiny_config(augment_p=1.0, ada_target=0.6, ada_kimg=0.001, ada_interval=1), tiny_images()
    )
    high._ada_signs[:] = torch.tensor([8.0, 8.0])
    high._adapt_augment()
    assert high.augment_p == 1.0
    fixed = GanTrainer(tiny_config(augment_p=0.7, ada_target=0.0, ada_interval=1), tiny_images())
    for _ in range(3):
        assert fixed.train_step()["augment_p"] == 0.7
    assert fixed.augment_p == 0.7


def test_training_moves_p_and_resume_reproduces_it_exactly(tmp_path):
    cfg = {"augment_p": 0.5, "ada_kimg": 0.05, "ada_interval": 2}
    straight = GanTrainer(tiny_config(**cfg), tiny_images())
    seen = [straight.train_step()["augment_p"] for _ in range(7)]
    assert len(set(seen)) > 1, "the probability never moved"
    first = GanTrainer(tiny_config(**cfg), tiny_images())
    for _ in range(3):  # stop between two adjustments: the partial sign sums must survive the checkpoint
        first.train_step()
    resumed = GanTrainer.from_checkpoint(first.save_checkpoint(tmp_path / "c.safetensors"), tiny_images())
    for _ in range(4):
        resumed.train_step()
    assert resumed.augment_p == straight.augment_p
    for a, b in zip(straight.D.state_dict().values(), resumed.D.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_resume_overrides_change_augmentation_and_learning_rates_only(tmp_path):
    legacy = GanTrainer(tiny_config(augment_p=1.0, ada_target=0.0), tiny_images())
    legacy.train_step()
    path = legacy.save_checkpoint(tmp_path / "c.safetensors")
    resumed = GanTrainer.from_checkpoint(
        path, tiny_images(), overrides={"ada_target": 0.6, "ada_kimg": 20.0, "lr_d": 0.001}
    )
    assert (resumed.config.ada_target, resumed.config.ada_kimg) == (0.6, 20.0)
    assert resumed.augment_p == 1.0  # carried on from the checkpoint
    ratio = resumed.config.r1_interval / (resumed.config.r1_interval + 1)
    assert resumed.opt_d.param_groups[0]["lr"] == pytest.approx(0.001 * ratio)
    assert resumed.opt_g.param_groups[0]["lr"] == pytest.approx(legacy.config.lr_g)
    assert GanTrainer.from_checkpoint(path, tiny_images(), overrides={"augment_p": 0.2}).augment_p == 0.2
    with pytest.raises(ValueError, match="cannot change"):
        GanTrainer.from_checkpoint(path, tiny_images(), overrides={"batch": 4})


def test_checkpoints_from_before_ada_keep_always_on_augmentation():
    d = tiny_config().to_dict()
    for key in ("augment_p", "ada_target", "ada_kimg", "ada_interval"):
        d.pop(key)
    old = GanTrainingConfig.from_dict(d)
    assert (old.augment_p, old.ada_target) == (1.0, 0.0)
    assert (GanTrainingConfig().augment_p, GanTrainingConfig().ada_target) == (0.0, 0.6)


def test_cli_switches_a_run_to_adaptive_augmentation_on_resume(tmp_path):
    out = tmp_path / "run"
    args = ["train-gan", "--out", str(out), "--preset", "tiny16", "--num-images", "32", "--batch", "8"]
    args += ["--snapshot-kimg", "0.032", "--device", "cpu"]
    assert main([*args, "--kimg", "0.032", "--augment-p", "1", "--ada-target", "0"]) == 0
    meta = load_tensors(out / "checkpoint.safetensors")[1]
    assert (meta["config"]["ada_target"], meta["augment_p"]) == (0.0, 1.0)
    assert main([*args, "--kimg", "0.08", "--resume", "--ada-target", "0.6", "--ada-kimg", "0.01"]) == 0
    meta = load_tensors(out / "checkpoint.safetensors")[1]
    assert meta["config"]["ada_target"] == 0.6 and meta["config"]["ada_kimg"] == 0.01
    assert meta["augment_p"] != 1.0
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    p_logged = [row["augment_p"] for row in rows if "augment_p" in row]
    assert p_logged[0] == 1.0 and p_logged[-1] < 1.0
