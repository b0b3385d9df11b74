"""Smooth fields at any resolution: resampling matrices, seeded noise textures and wide blurs.

Everything wide (scatter, unsharp masking) or random at an anatomical scale (parenchymal texture, edema
mottling) is computed on a small fixed grid and interpolated to the output size with separable matrices.
That keeps the cost of a 2048 x 2048 phantom low, and it makes these fields independent of the output
size: the same seed gives the same texture at 64 and at 1024 pixels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

LOW_RES = 64
"""Side of the grid on which wide blurs are computed."""


def _keys_weights(s: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel (a = -0.5) at distances ``s``."""
    s = np.abs(s)
    w = np.zeros_like(s)
    near = s <= 1
    far = (s > 1) & (s < 2)
    w[near] = 1.5 * s[near] ** 3 - 2.5 * s[near] ** 2 + 1
    w[far] = -0.5 * s[far] ** 3 + 2.5 * s[far] ** 2 - 4 * s[far] + 2
    return w


@lru_cache(maxsize=32)
def upsample_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Matrix ``(n_out, n_in)`` interpolating a pixel-centred 1-D signal with cubic convolution.

    Both grids span the same interval; samples sit at pixel centres. Edges are clamped.
    """
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    base = np.floor(pos).astype(int)
    m = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    for off in (-1, 0, 1, 2):
        idx = base + off
        w = _keys_weights(pos - idx)
        np.add.at(m, (rows, np.clip(idx, 0, n_in - 1)), w)
    m /= m.sum(axis=1, keepdims=True)
    m.setflags(write=False)
    return m.astype(np.float32)


@lru_cache(maxsize=32)
def downsample_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Matrix ``(n_out, n_in)`` averaging a 1-D signal over each output pixel's footprint (box filter)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    m = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        lo, hi = edges[i], edges[i + 1]
        j0, j1 = int(np.floor(lo)), int(np.ceil(hi))
        for j in range(j0, min(j1, n_in)):
            m[i, j] = min(hi, j + 1) - max(lo, j)
    m /= m.sum(axis=1, keepdims=True)
    return m.astype(np.float32)


def resize(field: np.ndarray, size: int) -> np.ndarray:
    """Resample a square 2-D ``field`` to ``(size, size)``: cubic when enlarging, box average otherwise."""
    n = field.shape[0]
    if n == size:
        return field.astype(np.float32, copy=True)
    m = upsample_matrix(size, n) if size > n else downsample_matrix(size, n)
    return (m @ field.astype(np.float32) @ m.T).astype(np.float32)


def noise_field(rng: np.random.Generator, grid: int, sigma: float) -> np.ndarray:
    """Gaussian noise on a ``grid x grid`` lattice, smoothed by ``sigma`` lattice cells, unit std.

    Draws exactly ``grid**2`` normals from ``rng`` whatever else happens, so later draws do not shift.
    """
    white = rng.standard_normal((grid, grid))
    smooth = ndimage.gaussian_filter(white, sigma, mode="wrap")
    smooth /= smooth.std() + 1e-12
    return smooth.astype(np.float32)


def wide_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``image`` with a standard deviation of ``sigma`` image widths (e.g. 0.05).

    Computed on a ``LOW_RES`` grid and interpolated back, so it only suits blurs wider than a few
    low-resolution cells (sigma >= ~0.03).
    """
    size = image.shape[0]
    small = resize(image, LOW_RES) if size != LOW_RES else image.astype(np.float32)
    small = ndimage.gaussian_filter(small, sigma * LOW_RES, mode="nearest")
    return resize(small, size)
