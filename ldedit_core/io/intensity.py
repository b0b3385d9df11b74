"""Exact, invertible maps between stored pixel values and LDEdit's [0, 1] display domain.

Every reader builds one of these so that the writer can put edited pixels back into the source's own
stored-value domain (same bit depth, same LUTs) and leave untouched pixels bit-identical.
A lookup table over every possible stored value handles any DICOM Modality/VOI LUT (linear, sigmoid or
tabulated) without special cases, and inverting it is a nearest-value search over that table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class LookupMap:
    """Integer stored values ``lo .. lo + len(table) - 1`` -> display values ``table`` in [0, 1].

    Args:
        lo: the smallest representable stored value (``-2**(bits-1)`` for signed data, else 0).
        table: float32 display value of each stored value, clipped to [0, 1].
        dtype: numpy dtype of the stored values (what the writer must produce).
    """

    lo: int
    table: np.ndarray
    dtype: np.dtype

    def __post_init__(self) -> None:
        order = np.argsort(self.table, kind="stable")
        object.__setattr__(self, "_order", order)
        object.__setattr__(self, "_sorted", self.table[order])

    @property
    def hi(self) -> int:
        return self.lo + len(self.table) - 1

    def forward(self, stored: np.ndarray) -> np.ndarray:
        """Stored values -> float32 display values in [0, 1]."""
        idx = np.clip(stored.astype(np.int64) - self.lo, 0, len(self.table) - 1)
        return self.table[idx]

    def inverse(self, pixels: np.ndarray) -> np.ndarray:
        """Display values -> the stored value whose display value is nearest (ties: the lower one)."""
        p = np.clip(np.asarray(pixels, dtype=np.float32), 0.0, 1.0)
        srt = self._sorted  # type: ignore[attr-defined]
        right = np.clip(np.searchsorted(srt, p, side="left"), 0, len(srt) - 1)
        left = np.clip(right - 1, 0, len(srt) - 1)
        take_left = np.abs(p - srt[left]) <= np.abs(srt[right] - p)
        pos = np.where(take_left, left, right)
        return (self._order[pos] + self.lo).astype(self.dtype)  # type: ignore[attr-defined]


@dataclass(frozen=True, eq=False)
class LinearMap:
    """Floating-point stored values (e.g. a float NRRD): ``pixel = (stored - offset) / scale``."""

    offset: float
    scale: float
    dtype: np.dtype

    def forward(self, stored: np.ndarray) -> np.ndarray:
        out = (stored.astype(np.float64) - self.offset) / self.scale
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def inverse(self, pixels: np.ndarray) -> np.ndarray:
        return (np.asarray(pixels, dtype=np.float64) * self.scale + self.offset).astype(self.dtype)


IntensityMap = LookupMap | LinearMap


def normalise_table(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Scale ``values`` linearly so that ``lo -> 0`` and ``hi -> 1`` (default: their min and max), clipped."""
    values = values.astype(np.float64)
    lo = float(values.min()) if lo is None else lo
    hi = float(values.max()) if hi is None else hi
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.float32)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
