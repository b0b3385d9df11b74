"""Shared by the GAN training tests: a 32-image, 16 px data set and a tiny16 training config."""

from __future__ import annotations

import torch

from ldedit_core.training.gan_trainer import GanTrainingConfig
from ldedit_core.training.presets import preset_configs


def tiny_images() -> torch.Tensor:
    imgs = torch.zeros(32, 1, 16, 16, dtype=torch.uint8)
    imgs[:16, :, 4:12, 4:12] = 255
    imgs[16:, :, :8] = 200
    return imgs


def tiny_config(**kw) -> GanTrainingConfig:
    g, d = preset_configs("tiny16")
    return GanTrainingConfig(generator=g, discriminator=d, batch=8, r1_interval=4, r1_gamma=0.01, **kw)
