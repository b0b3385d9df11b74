"""Build a network from its architecture name and JSON config: how bundles load weights without pickles.

Each network kind registers a constructor taking the config dict. ``build_network("generator", cfg)``
returns a freshly initialised module whose ``state_dict`` the caller then fills from safetensors.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from torch import nn

_BUILDERS: dict[str, Callable[[dict], nn.Module]] = {}


def register_network(kind: str, builder: Callable[[dict], nn.Module]) -> None:
    """Make ``build_network(kind, config)`` call ``builder(config)``."""
    _BUILDERS[kind] = builder


def network_kinds() -> list[str]:
    _register_builtin()
    return sorted(_BUILDERS)


def build_network(kind: str, config: dict) -> nn.Module:
    """A new network of ``kind`` built from ``config`` (a dict as stored in ``bundle.json``).

    Raises:
        ValueError: unknown kind (with the closest known one) or a config the constructor rejects.
    """
    _register_builtin()
    if kind not in _BUILDERS:
        close = difflib.get_close_matches(kind, _BUILDERS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown network kind {kind!r} (known: {sorted(_BUILDERS)}){hint}")
    try:
        return _BUILDERS[kind](dict(config))
    except TypeError as exc:
        raise ValueError(f"invalid config for a {kind}: {exc}") from exc


def _register_builtin() -> None:
    if "generator" in _BUILDERS:
        return
    from ldedit_core.models.classifier import build_classifier
    from ldedit_core.models.discriminator import Discriminator, DiscriminatorConfig
    from ldedit_core.models.encoder import Encoder, EncoderConfig
    from ldedit_core.models.generator import Generator, GeneratorConfig

    register_network("generator", lambda c: Generator(GeneratorConfig(**c)))
    register_network("discriminator", lambda c: Discriminator(DiscriminatorConfig(**c)))
    register_network("classifier", build_classifier)
    register_network("encoder", lambda c: Encoder(EncoderConfig(**c)))
