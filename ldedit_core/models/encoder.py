"""Image -> W+ encoder (pSp/e4e style) that initialises GAN inversion.

A residual CNN halves the resolution block by block down to 4 x 4; a feature pyramid (1x1 lateral
convolutions plus top-down upsampling, as in pSp) gives three maps, and each group of W+ layers is read
from one of them: *coarse* layers (generator resolutions 4-8) from the 4 x 4 map, *medium* layers
(16-32) from the 8 x 8 map, *fine* layers (64 and up) from the map at ``max(16, R / 4)``. The output is an
offset added to the generator's ``w_avg``, which the encoder keeps as a buffer so a saved encoder is
self-contained; the last layer of every head starts at zero, so a new encoder returns ``w_avg``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ldedit_core.models.layers import EqualConv2d, EqualLinear, lrelu
from ldedit_core.models.synthesis import channels_at

if TYPE_CHECKING:
    from ldedit_core.models.generator import GeneratorConfig

#: W+ layer groups, by the generator resolution a layer acts at (``4 * 2 ** (i // 2)`` for layer ``i``).
GROUPS = ("coarse", "medium", "fine")


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of an encoder; JSON-able so weights load from safetensors without pickles.

    Args:
        resolution: input side, a power of two in 8..1024 (the generator's).
        channels: image channels, 1 or 3.
        w_dim: latent size (the generator's).
        num_ws: number of W+ layers (the generator's ``num_ws``, ``2 log2(R) - 2``).
        channel_base, channel_max: feature maps at resolution r are ``min(channel_base // r, channel_max)``.
        fpn_channels: width of the pyramid maps the heads read.
        head_hidden: hidden width of each group's head.
    """

    resolution: int = 128
    channels: int = 1
    w_dim: int = 128
    num_ws: int = 12
    channel_base: int = 1024
    channel_max: int = 128
    fpn_channels: int = 64
    head_hidden: int = 256

    def __post_init__(self) -> None:
        r = self.resolution
        if r < 8 or r > 1024 or r & (r - 1):
            raise ValueError(f"resolution must be a power of two in 8..1024, got {r}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        for name in ("w_dim", "num_ws", "channel_base", "channel_max", "fpn_channels", "head_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def for_generator(cls, generator_config: GeneratorConfig, **options: int) -> EncoderConfig:
        """The config matching a ``GeneratorConfig`` (resolution, channels, w_dim, num_ws) + widths."""
        g = generator_config
        num_ws = 2 * int(math.log2(g.resolution)) - 2
        return cls(resolution=g.resolution, channels=g.channels, w_dim=g.w_dim, num_ws=num_ws, **options)


def layer_groups(num_ws: int) -> dict[str, list[int]]:
    """W+ layer indices per group: coarse acts at 4-8 px, medium at 16-32 px, fine at 64 px and up."""
    if num_ws < 1:
        raise ValueError(f"num_ws must be positive, got {num_ws}")
    groups: dict[str, list[int]] = {g: [] for g in GROUPS}
    for i in range(num_ws):
        res = 4 * 2 ** (i // 2)
        groups["coarse" if res <= 8 else "medium" if res <= 32 else "fine"].append(i)
    return groups


def group_resolutions(resolution: int) -> dict[str, int]:
    """Side of the pyramid map each group reads (coarse 4, medium 8, fine ``max(16, R / 4)``, capped at R)."""
    return {"coarse": 4, "medium": min(8, resolution), "fine": min(max(16, resolution // 4), resolution)}


class StridedConv(nn.Module):
    """3x3 convolution with equalised learning rate and stride 2 (computes only the kept outputs)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.weight_gain = 1.0 / math.sqrt(in_ch * 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return lrelu(F.conv2d(x, self.weight * self.weight_gain, self.bias, stride=2, padding=1))


class EncoderBlock(nn.Module):
    """Residual block halving the resolution (ResNet basic block): strided 3x3, 3x3, pooled 1x1 skip."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv0 = StridedConv(in_ch, out_ch)
        self.conv1 = EqualConv2d(out_ch, out_ch, 3)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False, activation=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [N, in_ch, r, r] -> [N, out_ch, r / 2, r / 2]
        return (self.skip(F.avg_pool2d(x, 2)) + self.conv1(self.conv0(x))) * math.sqrt(0.5)


class StyleHead(nn.Module):
    """Pyramid map ``[N, C, r, r]`` -> offsets ``[N, n_ws, w_dim]`` (pooled to 4 x 4 to keep layout)."""

    def __init__(self, in_ch: int, hidden: int, n_ws: int, w_dim: int) -> None:
        super().__init__()
        self.n_ws, self.w_dim = n_ws, w_dim
        self.fc = EqualLinear(in_ch * 16, hidden, activation=True)
        self.out = EqualLinear(hidden, n_ws * w_dim)
        with torch.no_grad():
            self.out.weight.zero_()  # a new encoder outputs w_avg exactly

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(x, 4).flatten(1)  # [N, C * 16]
        return self.out(self.fc(x)).reshape(-1, self.n_ws, self.w_dim)


class Encoder(nn.Module):
    """``E(img [N, C, R, R] in [-1, 1]) -> ws [N, num_ws, w_dim] = w_avg + offsets``.

    Example:
        >>> G = Generator(GeneratorConfig(resolution=64))
        >>> E = Encoder(EncoderConfig.for_generator(G.config), w_avg=G.mapping.w_avg)
        >>> ws = E(torch.rand(2, 1, 64, 64) * 2 - 1)        # [2, G.num_ws, G.w_dim]
        >>> img = G.synthesis(ws, noise_mode="const")
    """

    def __init__(self, config: EncoderConfig | None = None, *, w_avg: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = c = config or EncoderConfig()
        self.num_ws, self.w_dim = c.num_ws, c.w_dim
        ch = lambda r: channels_at(r, c.channel_base, c.channel_max)  # noqa: E731
        log2 = int(math.log2(c.resolution))
        self.stem = EqualConv2d(c.channels, ch(c.resolution), 3)
        # block i maps resolution 2 ** (log2 - i) to half of it, down to 4 x 4
        self.blocks = nn.ModuleList(EncoderBlock(ch(2**k), ch(2 ** (k - 1))) for k in range(log2, 2, -1))
        self.groups = {g: idx for g, idx in layer_groups(c.num_ws).items() if idx}
        self.group_res = group_resolutions(c.resolution)
        levels = sorted({self.group_res[g] for g in self.groups})  # pyramid sides used, small first
        self.levels = levels
        self.lateral = nn.ModuleDict(
            {str(r): EqualConv2d(ch(r), c.fpn_channels, 1, activation=False) for r in levels}
        )
        self.heads = nn.ModuleDict(
            {g: StyleHead(c.fpn_channels, c.head_hidden, len(idx), c.w_dim) for g, idx in self.groups.items()}
        )
        self.register_buffer("w_avg", torch.zeros(c.w_dim))
        if w_avg is not None:
            self.set_w_avg(w_avg)

    def set_w_avg(self, w_avg: torch.Tensor) -> None:
        """Copy the generator's average latent ``[w_dim]`` into the encoder."""
        if not torch.is_tensor(w_avg) or tuple(w_avg.shape) != (self.w_dim,):
            shape = tuple(w_avg.shape) if torch.is_tensor(w_avg) else type(w_avg).__name__
            raise ValueError(f"w_avg must be a tensor of shape [{self.w_dim}], got {shape}")
        with torch.no_grad():
            self.w_avg.copy_(w_avg.detach().to(self.w_avg))

    def pyramid(self, img: torch.Tensor) -> dict[int, torch.Tensor]:
        """Top-down feature pyramid: side -> ``[N, fpn_channels, side, side]``, for the sides heads read."""
        c = self.config
        if img.ndim != 4 or tuple(img.shape[1:]) != (c.channels, c.resolution, c.resolution):
            raise ValueError(
                f"img must have shape [N, {c.channels}, {c.resolution}, {c.resolution}], "
                f"got {tuple(img.shape)}"
            )
        x = self.stem(img)
        feats = {c.resolution: x}
        for block in self.blocks:
            x = block(x)
            feats[x.shape[-1]] = x
        out: dict[int, torch.Tensor] = {}
        top = None
        for r in self.levels:  # coarse to fine
            p = self.lateral[str(r)](feats[r])
            if top is not None:
                p = p + F.interpolate(top, size=(r, r), mode="bilinear", align_corners=False)
            out[r] = top = p
        return out

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """``img [N, C, R, R]`` in [-1, 1] -> ``ws [N, num_ws, w_dim]``."""
        maps = self.pyramid(img)
        # groups hold consecutive layers, coarse first, so concatenating them gives layers 0..num_ws-1
        delta = torch.cat([self.heads[g](maps[self.group_res[g]]) for g in self.groups], dim=1)
        return self.w_avg.reshape(1, 1, -1) + delta  # [N, num_ws, w_dim]
