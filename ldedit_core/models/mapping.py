"""StyleGAN2 mapping network ``z -> w`` with a tracked average ``w_avg`` for truncation."""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from ldedit_core.models.layers import EqualLinear, normalize_2nd_moment


class MappingNetwork(nn.Module):
    """MLP with learning-rate multiplier 0.01; ``w_avg`` is an exponential average of training outputs."""

    def __init__(
        self, *, z_dim: int, w_dim: int, num_layers: int = 8, lr_mul: float = 0.01, w_avg_beta: float = 0.995
    ) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * num_layers
        self.layers = nn.Sequential(
            *[EqualLinear(a, b, lr_mul=lr_mul, activation=True) for a, b in pairwise(dims)]
        )
        self.z_dim, self.w_dim, self.w_avg_beta = z_dim, w_dim, w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self, z: torch.Tensor, *, truncation_psi: float = 1.0, update_w_avg: bool = False
    ) -> torch.Tensor:
        """``z [N, z_dim] -> w [N, w_dim]``; ``truncation_psi < 1`` pulls w towards ``w_avg``."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape [N, {self.z_dim}], got {tuple(z.shape)}")
        w = self.layers(normalize_2nd_moment(z))
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        if truncation_psi != 1.0:
            w = self.w_avg.lerp(w, truncation_psi)
        return w
