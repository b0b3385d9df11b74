"""Named architectures: ``cpu64`` trains on a laptop CPU in hours; ``gpu128`` is the default on a GPU."""

from __future__ import annotations

from ldedit_core.models import DiscriminatorConfig, GeneratorConfig

PRESETS: dict[str, dict] = {
    # ~150 kimg/h on 2 CPU cores (batch 16)
    "cpu64": {
        "resolution": 64,
        "channel_base": 1024,
        "channel_max": 64,
        "z_dim": 128,
        "w_dim": 128,
        "mapping_layers": 4,
    },
    # minutes per 100 kimg on one modern GPU
    "gpu128": {
        "resolution": 128,
        "channel_base": 8192,
        "channel_max": 256,
        "z_dim": 128,
        "w_dim": 128,
        "mapping_layers": 8,
    },
    # for tests
    "tiny16": {
        "resolution": 16,
        "channel_base": 256,
        "channel_max": 16,
        "z_dim": 16,
        "w_dim": 16,
        "mapping_layers": 2,
    },
}


def preset_configs(name: str, channels: int = 1) -> tuple[GeneratorConfig, DiscriminatorConfig]:
    """Generator and discriminator configs of a preset."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    p = PRESETS[name]
    g = GeneratorConfig(channels=channels, **p)
    d = DiscriminatorConfig(
        resolution=p["resolution"],
        channels=channels,
        channel_base=p["channel_base"],
        channel_max=p["channel_max"],
    )
    return g, d
