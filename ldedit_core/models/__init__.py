"""Networks: StyleGAN2 generator and discriminator, encoder, disease classifiers."""

from __future__ import annotations

from ldedit_core.models.discriminator import Discriminator, DiscriminatorConfig, feature_distance
from ldedit_core.models.generator import Generator, GeneratorConfig
from ldedit_core.models.registry import build_network, network_kinds, register_network

__all__ = [
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "build_network",
    "feature_distance",
    "network_kinds",
    "register_network",
]
