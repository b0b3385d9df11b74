"""Loaded bundles, kept per (folder, device) so the service and the Slicer module load each once."""

from __future__ import annotations

import os
import threading
from typing import Any

import torch

from ldedit_core.editing.latent_stats import EXTRAS_NAME, LatentStats
from ldedit_core.errors import InputError
from ldedit_core.models.bundle import Bundle, load_bundle
from ldedit_core.models.bundle_locate import resolve_bundle

_CACHE: dict[tuple[str, str], Bundle] = {}
_LOCK = threading.Lock()
REQUIRED = ("generator", "encoder", "discriminator", "guide", "evaluator")


def get_bundle(bundle: Bundle | str | os.PathLike | None, device: torch.device) -> Bundle:
    """``bundle`` itself, or the one at that path/name (default ``"default"``) loaded on ``device``."""
    if isinstance(bundle, Bundle):
        return bundle
    folder = resolve_bundle(bundle if bundle is not None else "default")
    key = (str(folder.resolve()), str(device))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = load_bundle(folder, device=device)
        return _CACHE[key]


def bundle_diseases(bundle: Bundle | str | os.PathLike | None = None) -> list[str]:
    """The disease names a bundle edits (its metadata only; the networks are not loaded)."""
    if isinstance(bundle, Bundle):
        return bundle.diseases
    import json

    folder = resolve_bundle(bundle if bundle is not None else "default")
    try:
        return list(json.loads((folder / "bundle.json").read_text())["diseases"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a bundle folder: bundle.json missing or unreadable ({exc})", folder) from exc


def editing_parts(bundle: Bundle) -> dict[str, Any]:
    """The networks and statistics an edit needs, with a clear error naming what a bundle lacks."""
    missing = [role for role in REQUIRED if getattr(bundle, role) is None]
    if missing:
        raise InputError(
            f"bundle lacks {', '.join(missing)}; an edit needs {', '.join(REQUIRED)}", bundle.path
        )
    if EXTRAS_NAME not in bundle.extras:
        raise InputError(
            "bundle has no disease directions; compute them with `ldedit fit-directions --bundle ...`",
            bundle.path,
        )
    stats = LatentStats.from_tensors(bundle.extras[EXTRAS_NAME], bundle.meta["directions"]["diseases"])
    return {role: getattr(bundle, role) for role in REQUIRED} | {"stats": stats}
