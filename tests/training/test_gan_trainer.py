"""GAN training: it learns, it resumes exactly, and 2 processes stay in lockstep."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ldedit_core.cli.main import main
from ldedit_core.errors import InputError
from ldedit_core.training.augment import diff_augment
from ldedit_core.training.gan_trainer import GanTrainer
from ldedit_core.training.state_io import load_tensors
from tests.training.tiny_gan import tiny_config, tiny_images

REPO = Path(__file__).resolve().parents[2]


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_a_few_iterations_lower_the_discriminator_loss():
    torch.manual_seed(0)
    trainer = GanTrainer(tiny_config(seed=0), tiny_images())
    losses = [trainer.train_step()["loss_d"] for _ in range(40)]
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:5])
    assert trainer.kimg == pytest.approx(40 * 8 / 1000)


def test_checkpoint_resume_reproduces_an_uninterrupted_run(tmp_path):
    straight = GanTrainer(tiny_config(micro_batch=4), tiny_images())
    for _ in range(6):
        straight.train_step()
    first = GanTrainer(tiny_config(micro_batch=4), tiny_images())
    for _ in range(3):
        first.train_step()
    path = first.save_checkpoint(tmp_path / "ckpt.safetensors")
    resumed = GanTrainer.from_checkpoint(path, tiny_images())
    assert resumed.step == 3
    for _ in range(3):
        resumed.train_step()
    for name in ("G", "D", "G_ema"):
        assert _same(getattr(straight, name), getattr(resumed, name)), name
    assert resumed.opt_g.state_dict()["state"][0]["exp_avg"].equal(
        straight.opt_g.state_dict()["state"][0]["exp_avg"]
    )


def test_checkpoint_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors at all")
    with pytest.raises(InputError, match=r"bad\.safetensors"):
        GanTrainer.from_checkpoint(bad, tiny_images())
    with pytest.raises(InputError, match="no such checkpoint"):
        GanTrainer.from_checkpoint(tmp_path / "missing.safetensors", tiny_images())


def test_bad_training_data_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        GanTrainer(tiny_config(), torch.zeros(32, 1, 16, 16))
    with pytest.raises(ValueError, match="at least batch"):
        GanTrainer(tiny_config(), torch.zeros(4, 1, 16, 16, dtype=torch.uint8))


def test_diff_augment_is_differentiable_and_seeded():
    x = torch.randn(4, 1, 16, 16, requires_grad=True)
    policy = ("brightness", "contrast", "translation", "cutout")
    a = diff_augment(x, policy, torch.Generator().manual_seed(1))
    b = diff_augment(x, policy, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, x)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="unknown augmentation"):
        diff_augment(x, ("flip",), torch.Generator())


def test_cli_trains_and_resumes(tmp_path):
    out = tmp_path / "run"
    args = [
        "train-gan",
        "--out",
        str(out),
        "--preset",
        "tiny16",
        "--num-images",
        "32",
        "--batch",
        "8",
        "--snapshot-kimg",
        "0.04",
        "--device",
        "cpu",
    ]
    assert main([*args, "--kimg", "0.048"]) == 0
    _, meta = load_tensors(out / "checkpoint.safetensors")
    assert meta["step"] == 6
    assert (out / "samples_latest.png").is_file() and (out / "losses.png").is_file()
    with pytest.raises(SystemExit, match="--resume"):
        main([*args, "--kimg", "0.08"])
    assert main([*args, "--kimg", "0.08", "--resume"]) == 0
    assert load_tensors(out / "checkpoint.safetensors")[1]["step"] == 10


def _torchrun(tmp_path: Path, *args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    _torchrun(tmp_path, str(REPO / "tests" / "training" / "ddp_worker.py"), str(tmp_path))
    rank0, meta0 = load_tensors(tmp_path / "rank0.safetensors")
    rank1, meta = load_tensors(tmp_path / "rank1.safetensors")
    assert meta["world"] == 2
    # the adaptive augmentation probability moved, by the same all-reduced statistic on both ranks
    assert meta0["augment_p"] == meta["augment_p"] != 0.5
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    # and they trained: differs from a fresh initialisation
    fresh = GanTrainer(tiny_config(), tiny_images())
    assert not torch.equal(rank0["G.synthesis.blocks.0.const"], fresh.G.synthesis.blocks[0].const.detach())


def test_torchrun_cli(tmp_path):
    out = tmp_path / "ddp-run"
    _torchrun(
        tmp_path,
        "-m",
        "ldedit_core.cli.main",
        "train-gan",
        "--out",
        str(out),
        "--preset",
        "tiny16",
        "--num-images",
        "32",
        "--batch",
        "8",
        "--kimg",
        "0.032",
        "--device",
        "cpu",
    )
    assert load_tensors(out / "checkpoint.safetensors")[1]["step"] == 4


def test_a_signal_stops_between_steps_with_an_exact_checkpoint(tmp_path):
    """SIGTERM mid-run: the checkpoint holds the last finished step, and resuming matches a straight run."""
    import signal

    from ldedit_core.training.gan_loop import run_training

    class Interrupting(GanTrainer):
        def train_step(self):
            stats = super().train_step()
            if self.step == 3:
                signal.raise_signal(signal.SIGTERM)  # arrives inside the step in a real run
            return stats

    run = Interrupting(tiny_config(), tiny_images())
    with pytest.raises(KeyboardInterrupt):
        run_training(run, tmp_path, total_kimg=1.0, progress=False)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    resumed = GanTrainer.from_checkpoint(tmp_path / "checkpoint.safetensors", tiny_images())
    assert resumed.step == 3
    straight = GanTrainer(tiny_config(), tiny_images())
    for _ in range(5):
        straight.train_step()
    for _ in range(2):
        resumed.train_step()
    assert _same(straight.G, resumed.G) and _same(straight.D, resumed.D)


def test_stats_rows_are_one_per_snapshot_and_never_empty(tmp_path):
    """A run ending on a snapshot, and a finished run resumed to the same length, add no empty rows."""
    import json

    from ldedit_core.training.gan_loop import run_training

    def rows() -> list[dict]:
        return [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]

    run = GanTrainer(tiny_config(), tiny_images())
    run_training(run, tmp_path, total_kimg=0.032, snapshot_kimg=0.016, progress=False)  # 4 steps of 8
    assert [r["kimg"] for r in rows()] == [0.016, 0.032]
    assert all("loss_g" in r and "loss_d" in r for r in rows())
    again = GanTrainer.from_checkpoint(tmp_path / "checkpoint.safetensors", tiny_images())
    run_training(again, tmp_path, total_kimg=0.032, snapshot_kimg=0.016, progress=False)
    assert [r["kimg"] for r in rows()] == [0.016, 0.032]
    longer = GanTrainer.from_checkpoint(tmp_path / "checkpoint.safetensors", tiny_images())
    run_training(longer, tmp_path, total_kimg=0.04, snapshot_kimg=0.016, progress=False)  # ends mid-window
    assert [r["kimg"] for r in rows()] == [0.016, 0.032, 0.04] and "loss_g" in rows()[-1]
