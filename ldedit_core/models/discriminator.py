"""StyleGAN2 residual discriminator with minibatch standard deviation; exposes its intermediate features.

The features double as a perceptual distance for inversion: VGG/LPIPS weights cannot be downloaded here,
and a discriminator trained on radiographs is a better judge of radiograph structure anyway.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ldedit_core.models.layers import EqualConv2d, EqualLinear
from ldedit_core.models.synthesis import channels_at


@dataclass(frozen=True)
class DiscriminatorConfig:
    resolution: int = 128
    channels: int = 1
    channel_base: int = 4096
    channel_max: int = 128
    mbstd_group: int = 4

    def to_dict(self) -> dict:
        return asdict(self)


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convs, the second halving the resolution, with a 1x1 residual skip."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_ch, in_ch, 3)
        self.conv1 = EqualConv2d(in_ch, out_ch, 3, down=True)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False, activation=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(x) + self.conv1(self.conv0(x))) * math.sqrt(0.5)


def minibatch_stddev(x: torch.Tensor, group: int) -> torch.Tensor:
    """Append one channel: the mean standard deviation over groups of samples (StyleGAN2's mbstd)."""
    n, c, h, w = x.shape
    g = min(group, n)
    if n % g:
        g = 1
    y = x.reshape(g, n // g, c, h, w)
    y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # [n // g]
    y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    """``D(img) -> logits [N]``; ``D(img, return_features=True) -> (logits, [features...])``."""

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or DiscriminatorConfig()
        log2 = int(math.log2(c.resolution))
        ch = lambda r: channels_at(r, c.channel_base, c.channel_max)  # noqa: E731
        self.from_image = EqualConv2d(c.channels, ch(c.resolution), 1)
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(ch(2**i), ch(2 ** (i - 1))) for i in range(log2, 2, -1)
        )
        self.conv = EqualConv2d(ch(4) + 1, ch(4), 3)
        self.fc = EqualLinear(ch(4) * 16, ch(4), activation=True)
        self.out = EqualLinear(ch(4), 1)

    def forward(self, img: torch.Tensor, *, return_features: bool = False):
        c = self.config
        if img.ndim != 4 or img.shape[1:] != (c.channels, c.resolution, c.resolution):
            raise ValueError(
                f"img must have shape [N, {c.channels}, {c.resolution}, {c.resolution}], "
                f"got {tuple(img.shape)}"
            )
        feats = []
        x = self.from_image(img)
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        x = self.conv(minibatch_stddev(x, c.mbstd_group))
        logits = self.out(self.fc(x.flatten(1))).squeeze(1)
        return (logits, feats) if return_features else logits


def feature_distance(D: Discriminator, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample perceptual distance: mean squared difference of channel-normalised D features."""
    _, fa = D(a, return_features=True)
    _, fb = D(b, return_features=True)
    total = 0.0
    for x, y in zip(fa, fb, strict=True):
        x = F.normalize(x, dim=1)
        y = F.normalize(y, dim=1)
        total = total + (x - y).square().mean(dim=(1, 2, 3))
    return total / len(fa)
