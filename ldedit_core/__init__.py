"""LDEdit: local, disease-guided editing of chest radiographs into synthetic follow-up studies.

Research use only: every output is synthetic and not for diagnosis.

Layers (each imports only the ones below it): ``io`` and ``phantoms`` -> ``models`` -> ``training`` |
``inversion`` -> ``editing`` -> ``pipeline`` -> ``evaluation`` | ``service`` | ``cli``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ldedit_core.errors import InputError

__all__ = ["InputError", "__version__", "load_bundle"]


def __getattr__(name: str):
    """Lazy exports, so that ``import ldedit_core`` does not import torch."""
    if name == "load_bundle":
        from ldedit_core.models.bundle import load_bundle

        return load_bundle
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
