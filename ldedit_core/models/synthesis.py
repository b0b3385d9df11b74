"""StyleGAN2 synthesis network: ``ws [N, num_ws, w_dim] -> image [N, C, R, R]``, a pure function of ``ws``.

Noise modes: ``"const"`` uses the fixed per-layer noise buffers (deterministic; what inversion and
Link-LR use), ``"random"`` draws fresh noise (training), ``"none"`` disables it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ldedit_core.models.layers import EqualLinear, lrelu, modulated_conv2d

NOISE_MODES = ("const", "random", "none")


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    return int(min(channel_base // resolution, channel_max))


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution + per-pixel noise + bias + leaky ReLU (optionally upsampling first)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, *, up: bool = False) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.weight_gain = 1.0 / math.sqrt(in_ch * 9)
        self.up, self.resolution = up, resolution

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if self.up:
            x = _up(x)
        x = modulated_conv2d(x, self.weight * self.weight_gain, self.affine(w))
        if noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        elif noise_mode == "random":
            noise = torch.randn(
                x.shape[0], 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype
            )
            x = x + noise * self.noise_strength
        return lrelu(x + self.bias.reshape(1, -1, 1, 1))


class ToImage(nn.Module):
    """Modulated 1x1 convolution to image channels, without demodulation (StyleGAN2's ToRGB)."""

    def __init__(self, in_ch: int, img_channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain = 1.0 / math.sqrt(in_ch)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        return modulated_conv2d(x, self.weight, styles, demodulate=False) + self.bias.reshape(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    """One resolution: (upsample) two modulated convs, and a skip-connected image output."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, img_channels: int) -> None:
        super().__init__()
        self.first = resolution == 4
        if self.first:
            self.const = nn.Parameter(torch.randn(out_ch, 4, 4))
        else:
            self.conv0 = SynthesisLayer(in_ch, out_ch, w_dim, resolution, up=True)
        self.conv1 = SynthesisLayer(out_ch, out_ch, w_dim, resolution)
        self.to_image = ToImage(out_ch, img_channels, w_dim)
        self.num_ws = 2 if self.first else 3  # convs + ToImage (which shares its w with the next conv0)

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # ws: [N, num_ws, w_dim] slice for this block
        if self.first:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        y = self.to_image(x, ws[:, -1])
        img = y if img is None else _up(img) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """The synthesis network; ``num_ws = 2 * log2(resolution) - 2`` per-layer latents (W+)."""

    def __init__(
        self, *, w_dim: int, img_resolution: int, img_channels: int, channel_base: int, channel_max: int
    ) -> None:
        super().__init__()
        log2 = int(math.log2(img_resolution))
        if img_resolution < 4 or 2**log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.resolutions = [2**i for i in range(2, log2 + 1)]
        blocks, in_ch = [], 0
        for res in self.resolutions:
            out_ch = channels_at(res, channel_base, channel_max)
            blocks.append(SynthesisBlock(in_ch, out_ch, w_dim, res, img_channels))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.num_ws = 2 * log2 - 2

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """``ws [N, num_ws, w_dim]`` -> images ``[N, img_channels, R, R]`` (about [-1, 1])."""
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        x = img = None
        start = 0
        for block in self.blocks:
            # a block reads num_ws latents; its ToImage latent is the next block's first
            x, img = block(x, img, ws[:, start : start + block.num_ws], noise_mode)
            start += block.num_ws - 1
        return img
