"""Closed-form projected path lengths on the pixel grid: the phantom's "ray tracer".

A parallel beam along z crosses each anatomical solid along a chord whose length has a closed form:
``2 c sqrt(1 - (x/a)^2 - (y/b)^2)`` for an ellipsoid, ``2 sqrt(r^2 - d^2)`` for a tube at distance ``d``
from its axis. Summing ``mu * chord`` over solids gives the exact line integral of a voxel phantom
without ever building the voxels. Anatomy lives in normalised patient coordinates (x to the image right,
which is the patient's left on a PA film; y downwards; 1 unit = ``UNIT_CM`` cm); ``Frame`` maps them to
pixels through the patient's positioning (scale, in-plane rotation, shift).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNIT_CM = 20.0
"""Centimetres per normalised unit: the 2-unit wide field of view is 40 cm."""

_MIN_RADIUS_PX = 0.8
"""Thinner tubes are drawn this wide with the same cross-section area, so they do not alias."""


@dataclass(frozen=True)
class Frame:
    """Pixel grid of one phantom and the map from patient coordinates to it.

    Attributes:
        size: image side in pixels.
        scale: patient size relative to the field of view (1 = nominal).
        angle: in-plane rotation of the patient, radians.
        shift: (dx, dy) displacement of the patient in normalised image coordinates.
        xa: patient x coordinate of every pixel centre, ``(size, size)`` float32.
        ya: patient y coordinate of every pixel centre, ``(size, size)`` float32.
    """

    size: int
    scale: float
    angle: float
    shift: tuple[float, float]
    xa: np.ndarray
    ya: np.ndarray

    @classmethod
    def build(cls, size: int, scale: float, angle: float, shift: tuple[float, float]) -> Frame:
        """Make the frame of a ``size`` x ``size`` image for a patient placed as given."""
        c = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
        xi = c[None, :] - np.float32(shift[0])
        yi = c[:, None] - np.float32(shift[1])
        cos, sin = np.float32(np.cos(angle) / scale), np.float32(np.sin(angle) / scale)
        xa = cos * xi + sin * yi
        ya = -sin * xi + cos * yi
        return cls(size, float(scale), float(angle), (float(shift[0]), float(shift[1])), xa, ya)

    @property
    def px_per_unit(self) -> float:
        """Pixels per patient unit."""
        return self.scale * self.size / 2.0

    def to_image(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Patient coordinates -> normalised image coordinates in [-1, 1]."""
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        return (
            self.scale * (cos * x - sin * y) + self.shift[0],
            self.scale * (sin * x + cos * y) + self.shift[1],
        )

    def to_patient(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Normalised image coordinates -> patient coordinates."""
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        x = np.asarray(x, dtype=np.float64) - self.shift[0]
        y = np.asarray(y, dtype=np.float64) - self.shift[1]
        return (cos * x + sin * y) / self.scale, (-sin * x + cos * y) / self.scale

    def to_pixel(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Patient coordinates -> (column, row) pixel coordinates (pixel centres at integers)."""
        xi, yi = self.to_image(x, y)
        return (xi + 1.0) * self.size / 2.0 - 0.5, (yi + 1.0) * self.size / 2.0 - 0.5

    def box(self, x0: float, x1: float, y0: float, y1: float) -> tuple[slice, slice] | None:
        """Pixel slices ``(rows, cols)`` covering the patient rectangle; ``None`` when off the image."""
        cols, rows = self.to_pixel(np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]))
        r0, r1 = max(int(np.floor(rows.min())) - 1, 0), min(int(np.ceil(rows.max())) + 2, self.size)
        c0, c1 = max(int(np.floor(cols.min())) - 1, 0), min(int(np.ceil(cols.max())) + 2, self.size)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)


def ellipsoid_chord(
    x: np.ndarray, y: np.ndarray, cx: float, cy: float, a: float, b: float, depth: float, angle: float = 0.0
) -> np.ndarray:
    """Path length along z through an ellipsoid with semi-axes ``a``, ``b`` (in plane) and ``depth`` (z).

    Args:
        x: patient x coordinates.
        y: patient y coordinates.
        cx: centre x.
        cy: centre y.
        a: semi-axis along the ellipse's own x axis.
        b: semi-axis along its own y axis.
        depth: semi-axis along the beam.
        angle: rotation of the ellipse's x axis towards +y, radians.

    Returns:
        ``2 depth sqrt(1 - rho^2)`` inside, 0 outside, float32.
    """
    dx, dy = x - np.float32(cx), y - np.float32(cy)
    if angle:
        cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
        dx, dy = cos * dx + sin * dy, -sin * dx + cos * dy
    rho2 = (dx / np.float32(a)) ** 2 + (dy / np.float32(b)) ** 2
    return np.float32(2.0 * depth) * np.sqrt(np.maximum(np.float32(1.0) - rho2, np.float32(0.0)))


def add_ellipsoid(
    acc: np.ndarray,
    frame: Frame,
    cx: float,
    cy: float,
    a: float,
    b: float,
    depth: float,
    weight: float,
    angle: float = 0.0,
) -> None:
    """Add ``weight * ellipsoid_chord(...)`` to ``acc`` over the ellipsoid's bounding box only."""
    r = max(a, b)
    box = frame.box(cx - r, cx + r, cy - r, cy + r)
    if box is None:
        return
    acc[box] += np.float32(weight) * ellipsoid_chord(frame.xa[box], frame.ya[box], cx, cy, a, b, depth, angle)


def splat_tubes(
    acc: np.ndarray,
    frame: Frame,
    p0: np.ndarray,
    p1: np.ndarray,
    r0: np.ndarray,
    r1: np.ndarray,
    weight: np.ndarray,
    miter0: np.ndarray | None = None,
    miter1: np.ndarray | None = None,
    core: np.ndarray | None = None,
    core_weight: np.ndarray | None = None,
) -> None:
    """Add the projected chords of many straight tube segments to ``acc``, vectorised over all of them.

    Each segment is a cone frustum of circular cross-section from ``p0`` to ``p1`` (patient coordinates)
    with radii ``r0`` -> ``r1``; at image distance ``d`` from its axis the beam crosses ``2 sqrt(r^2 - d^2)``
    of it. ``weight`` scales each segment (attenuation x cross-section flattening x foreshortening).
    Segment ends are flat, so consecutive segments of a polyline do not double-count their joints.

    Args:
        acc: ``(size, size)`` float32 accumulator, modified in place.
        frame: the pixel grid.
        p0: ``(n, 2)`` start points.
        p1: ``(n, 2)`` end points.
        r0: ``(n,)`` radii at the start.
        r1: ``(n,)`` radii at the end.
        weight: ``(n,)`` factors.
        miter0: ``(n, 2)`` normals of the cut planes at the starts (the bisector of the joint with the
            previous segment of a polyline); default: each segment's own direction (a square cut).
        miter1: ``(n, 2)`` normals of the cut planes at the ends; default as ``miter0``.
            Mitred joints leave neither gaps nor double-counted wedges where a polyline bends.
        core: ``(n,)`` optional inner radius fraction of a coaxial core (e.g. bone marrow) ...
        core_weight: ``(n,)`` ... whose chord is added with this weight (negative for a lighter core).
    """
    n = len(p0)
    if n == 0:
        return
    size, ppu = frame.size, frame.px_per_unit
    ax, ay = frame.to_pixel(p0[:, 0], p0[:, 1])
    bx, by = frame.to_pixel(p1[:, 0], p1[:, 1])
    ra, rb = np.asarray(r0, dtype=np.float64) * ppu, np.asarray(r1, dtype=np.float64) * ppu
    reach = np.maximum(np.maximum(ra, rb), _MIN_RADIUS_PX) + 1.0
    c0 = np.clip(np.floor(np.minimum(ax, bx) - reach), 0, size).astype(np.int64)
    c1 = np.clip(np.ceil(np.maximum(ax, bx) + reach) + 1, 0, size).astype(np.int64)
    q0 = np.clip(np.floor(np.minimum(ay, by) - reach), 0, size).astype(np.int64)
    q1 = np.clip(np.ceil(np.maximum(ay, by) + reach) + 1, 0, size).astype(np.int64)
    w, h = np.maximum(c1 - c0, 0), np.maximum(q1 - q0, 0)
    count = w * h
    keep = count > 0
    if not keep.any():
        return
    idx = np.nonzero(keep)[0]
    count, w = count[idx], w[idx]
    seg = np.repeat(np.arange(len(idx)), count)
    local = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    cols = (c0[idx][seg] + local % w[seg]).astype(np.float32)
    rows = (q0[idx][seg] + local // w[seg]).astype(np.float32)
    sax, say = ax[idx].astype(np.float32)[seg], ay[idx].astype(np.float32)[seg]
    dx = (bx - ax)[idx].astype(np.float32)
    dy = (by - ay)[idx].astype(np.float32)
    length2 = np.maximum(dx * dx + dy * dy, 1e-6)
    px, py = cols - sax, rows - say
    t = (px * dx[seg] + py * dy[seg]) / length2[seg]
    ex, ey = px - t * dx[seg], py - t * dy[seg]
    d2 = ex * ex + ey * ey
    ra32, rb32 = ra[idx].astype(np.float32), rb[idx].astype(np.float32)
    r = ra32[seg] + np.clip(t, 0, 1) * (rb32 - ra32)[seg]
    r_draw = np.maximum(r, np.float32(_MIN_RADIUS_PX))
    gain = (r / r_draw) ** 2 * np.asarray(weight, dtype=np.float32)[idx][seg] / np.float32(ppu)
    chord = 2.0 * np.sqrt(np.maximum(r_draw * r_draw - d2, 0.0)) * gain
    if core is not None and core_weight is not None:
        frac = np.asarray(core, dtype=np.float32)[idx][seg]
        rc = r * frac
        rc_draw = np.maximum(rc, np.float32(_MIN_RADIUS_PX))
        c_gain = (rc / rc_draw) ** 2 * np.asarray(core_weight, dtype=np.float32)[idx][seg] / np.float32(ppu)
        chord += 2.0 * np.sqrt(np.maximum(rc_draw * rc_draw - d2, 0.0)) * c_gain
    if miter0 is None:
        chord[(t < 0) | (t >= 1)] = 0.0
    else:
        cos, sin = np.cos(frame.angle), np.sin(frame.angle)
        rot = np.array([[cos, -sin], [sin, cos]])
        m0 = (np.asarray(miter0) @ rot.T)[idx].astype(np.float32)
        m1 = (np.asarray(miter1 if miter1 is not None else miter0) @ rot.T)[idx].astype(np.float32)
        inside = px * m0[seg, 0] + py * m0[seg, 1] >= 0
        inside &= (px - dx[seg]) * m1[seg, 0] + (py - dy[seg]) * m1[seg, 1] < 0
        chord[~inside] = 0.0
    flat = rows.astype(np.int64) * size + cols.astype(np.int64)
    lo, hi = int(flat.min()), int(flat.max()) + 1
    acc.reshape(-1)[lo:hi] += np.bincount(flat - lo, weights=chord, minlength=hi - lo).astype(np.float32)


def smoothstep(t: np.ndarray) -> np.ndarray:
    """``3t^2 - 2t^3`` of ``t`` clipped to [0, 1]: a soft 0 -> 1 edge."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def polyline_miters(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut-plane normals ``(starts, ends)`` of the ``m - 1`` segments of an ``(m, 2)`` polyline.

    Interior joints are cut along the bisector of the two segments; the two free ends square.
    """
    d = np.diff(points, axis=0)
    d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    joint = d[:-1] + d[1:]
    joint /= np.maximum(np.linalg.norm(joint, axis=1, keepdims=True), 1e-12)
    return np.concatenate([d[:1], joint]), np.concatenate([joint, d[-1:]])
