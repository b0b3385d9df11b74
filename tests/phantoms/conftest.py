"""Shared helpers for the phantom tests: noiseless phantoms at a small size, cached per argument set."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ldedit_core.phantoms import Phantom, make_phantom

SIZE = 192


@lru_cache(maxsize=64)
def _cached(seed: int, size: int, items: tuple[tuple[str, float], ...]) -> Phantom:
    return make_phantom(seed, size, noise=False, **dict(items))


def phantom(seed: int, size: int = SIZE, **severity: float) -> Phantom:
    """A noiseless phantom; identical calls share one rendering."""
    return _cached(seed, size, tuple(sorted(severity.items())))


def column_extent(mask: np.ndarray) -> int:
    """Number of columns between the mask's leftmost and rightmost pixel, inclusive."""
    cols = np.nonzero(mask.any(axis=0))[0]
    return int(cols[-1] - cols[0] + 1) if len(cols) else 0
