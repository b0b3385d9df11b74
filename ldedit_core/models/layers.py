"""StyleGAN2 building blocks with equalised learning rate, as small shape-checked functions and modules.

Written here rather than taken from a library because nothing installable provides a StyleGAN2 whose
synthesis is a pure function of ``ws`` (no in-place updates, no data-dependent branching), which Link-LR
needs for ``torch.func.jvp``/``vmap``. Resampling is bilinear (``F.interpolate``) and average pooling
instead of StyleGAN2's FIR filters (upfirdn2d): the same role, with batching rules under ``vmap``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) scaled to keep unit variance, as in StyleGAN2."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def modulated_conv2d(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool = True
) -> torch.Tensor:
    """Per-sample modulated (and demodulated) convolution as one grouped convolution.

    Args:
        x: ``[N, Cin, H, W]`` input.
        weight: ``[Cout, Cin, k, k]`` base weight (already scaled by the equalised-lr gain).
        styles: ``[N, Cin]`` per-sample input-channel scales.
        demodulate: normalise each output filter to unit norm (StyleGAN2's weight demodulation).

    Returns:
        ``[N, Cout, H, W]``.
    """
    n, cin, h, w_ = x.shape
    cout, _, k, _ = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(n, 1, cin, 1, 1)  # [N, Cout, Cin, k, k]
    if demodulate:
        w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    out = F.conv2d(x.reshape(1, n * cin, h, w_), w.reshape(n * cout, cin, k, k), padding=k // 2, groups=n)
    return out.reshape(n, cout, h, w_)


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate (weights scaled at run time)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.bias_gain = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return lrelu(x) if self.activation else x


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate; optional 2x average-pool downsampling after it."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        bias: bool = True,
        activation: bool = True,
        down: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.activation, self.down, self.padding = activation, down, kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)
        if self.down:
            x = F.avg_pool2d(x, 2)
        return lrelu(x) if self.activation else x
