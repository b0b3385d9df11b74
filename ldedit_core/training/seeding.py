"""Seeds derived from named parts: how every trainer makes each step's random draws reproducible.

Seeding each draw from ``(seed, step, purpose, ...)`` instead of carrying generator state means a run
resumed from a checkpoint draws exactly what the uninterrupted run would have, with no RNG state to save.
"""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 63-bit seed that depends only on ``parts`` (stable across runs, processes and platforms)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)
