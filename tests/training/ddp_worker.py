"""Run by tests through ``torchrun``: a few GAN steps on 2 gloo ranks, each rank saving its own weights."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ldedit_core.training.distributed import init_from_env
from ldedit_core.training.gan_trainer import GanTrainer, GanTrainingConfig
from ldedit_core.training.presets import preset_configs
from ldedit_core.training.state_io import prefixed, save_tensors


def main(out: str) -> None:
    torch.set_num_threads(1)
    info, device = init_from_env("cpu")
    g, d = preset_configs("tiny16")
    images = (torch.arange(32 * 256) % 251).to(torch.uint8).reshape(32, 1, 16, 16)
    # a fast-moving adaptive augmentation probability: every rank must agree on it
    cfg = GanTrainingConfig(
        generator=g,
        discriminator=d,
        batch=8,
        r1_interval=2,
        seed=3,
        augment_p=0.5,
        ada_kimg=0.01,
        ada_interval=1,
    )
    trainer = GanTrainer(cfg, images, device=device, dist_info=info)
    for _ in range(3):
        trainer.train_step()
    tensors = {**prefixed("G", trainer.G), **prefixed("D", trainer.D), **prefixed("G_ema", trainer.G_ema)}
    save_tensors(
        Path(out) / f"rank{info.rank}.safetensors",
        tensors,
        {"world": info.world_size, "augment_p": trainer.augment_p},
    )
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
