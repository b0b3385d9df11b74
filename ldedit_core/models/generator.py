"""StyleGAN2 generator: ``G.mapping(z) -> w``, ``G.synthesis(ws) -> image``, built from a JSON-able config."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ldedit_core.models.mapping import MappingNetwork
from ldedit_core.models.synthesis import SynthesisNetwork


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of a generator; stored in ``bundle.json`` so weights can be loaded without code pickles.

    Args:
        resolution: output side, a power of two in 64..1024 (4..32 allowed for tests).
        channels: 1 (grey radiographs) or 3.
        z_dim, w_dim: latent sizes (StyleGAN2 uses 512; smaller is faster for Link-LR, which costs
            ``w_dim`` forward passes).
        mapping_layers: depth of the mapping MLP.
        channel_base, channel_max: feature maps at resolution r are ``min(channel_base // r, channel_max)``.
    """

    resolution: int = 128
    channels: int = 1
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    channel_base: int = 4096
    channel_max: int = 128

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if not 4 <= self.resolution <= 1024:
            raise ValueError(f"resolution must be in 4..1024, got {self.resolution}")
        for name in ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


class Generator(nn.Module):
    """StyleGAN2 generator.

    Example:
        >>> G = Generator(GeneratorConfig(resolution=64))
        >>> w = G.mapping(torch.randn(2, G.z_dim))          # [2, w_dim]
        >>> img = G.synthesis(G.broadcast(w))                # [2, 1, 64, 64]
    """

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config or GeneratorConfig()
        c = self.config
        self.z_dim, self.w_dim, self.img_resolution, self.img_channels = (
            c.z_dim,
            c.w_dim,
            c.resolution,
            c.channels,
        )
        self.mapping = MappingNetwork(z_dim=c.z_dim, w_dim=c.w_dim, num_layers=c.mapping_layers)
        self.synthesis = SynthesisNetwork(
            w_dim=c.w_dim,
            img_resolution=c.resolution,
            img_channels=c.channels,
            channel_base=c.channel_base,
            channel_max=c.channel_max,
        )
        self.num_ws = self.synthesis.num_ws

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """``w [N, w_dim] -> ws [N, num_ws, w_dim]`` (the same w for every layer)."""
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)

    def forward(
        self, z: torch.Tensor, *, truncation_psi: float = 1.0, noise_mode: str = "const"
    ) -> torch.Tensor:
        return self.synthesis(self.broadcast(self.mapping(z, truncation_psi=truncation_psi)), noise_mode)
