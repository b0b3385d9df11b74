"""Bones as tubes and plates: ribs (posterior and anterior arcs), clavicles, scapulae, humeri, spine.

Bones add the excess attenuation of bone over soft tissue. Long bones are hollow: a dense cortical tube
minus a marrow core, so their margins project brighter than their middle, as on a film. Ribs are hoops
in 3-D; where the beam runs along one (at the lateral chest wall) its path is longer by the
foreshortening factor, which is why the lateral rib margins look dense.
"""

from __future__ import annotations

import numpy as np

from ldedit_core.phantoms.anatomy import Anatomy
from ldedit_core.phantoms.raster import Frame, add_ellipsoid, polyline_miters, smoothstep, splat_tubes
from ldedit_core.phantoms.thorax import lung_borders
from ldedit_core.phantoms.tissues import MU_CORTEX, MU_MARROW

N_RIBS = 10
_F = np.float32


class _Tubes:
    """Collects hollow-bone segments and splats them at once."""

    def __init__(self) -> None:
        self.p0: list[np.ndarray] = []
        self.p1: list[np.ndarray] = []
        self.r0: list[np.ndarray] = []
        self.r1: list[np.ndarray] = []
        self.w: list[np.ndarray] = []
        self.m0: list[np.ndarray] = []
        self.m1: list[np.ndarray] = []
        self.core: list[np.ndarray] = []
        self.cw: list[np.ndarray] = []

    def add(
        self,
        pts: np.ndarray,
        radius: np.ndarray,
        weight: np.ndarray,
        z: np.ndarray | None = None,
        hollow: float = 0.6,
    ) -> None:
        """Add a polyline bone: ``pts`` (m, 2), per-point ``radius`` and per-segment ``weight``."""
        d2 = np.hypot(*(pts[1:] - pts[:-1]).T)
        fore = np.ones_like(d2)
        if z is not None:
            d3 = np.sqrt(d2**2 + np.diff(z) ** 2)
            fore = np.minimum(d3 / np.maximum(d2, 1e-6), 2.5)
        w = weight * fore
        m0, m1 = polyline_miters(pts)
        self.p0.append(pts[:-1])
        self.p1.append(pts[1:])
        self.r0.append(radius[:-1])
        self.r1.append(radius[1:])
        self.w.append(w * MU_CORTEX)
        self.m0.append(m0)
        self.m1.append(m1)
        self.core.append(np.full(len(w), hollow))
        self.cw.append(-w * (MU_CORTEX - MU_MARROW))

    def splat(self, acc: np.ndarray, frame: Frame) -> None:
        if self.p0:
            splat_tubes(
                acc,
                frame,
                np.concatenate(self.p0),
                np.concatenate(self.p1),
                np.concatenate(self.r0),
                np.concatenate(self.r1),
                np.concatenate(self.w),
                np.concatenate(self.m0),
                np.concatenate(self.m1),
                np.concatenate(self.core),
                np.concatenate(self.cw),
            )


def _ribs(tubes: _Tubes, anatomy: Anatomy, jitter: np.ndarray) -> None:
    depth = 0.8 * anatomy.body_half_depth
    for side in (-1, 1):
        lung = anatomy.lung(side)
        for k in range(1, N_RIBS + 1):
            j = jitter[(side > 0) * N_RIBS + k - 1]
            y0 = anatomy.t1_y + (k - 1) * anatomy.vertebra_pitch + 0.01 * j[0]
            drop = anatomy.rib_drop * (0.45 if k == 1 else 0.8 if k == 2 else 1.0) * (1 + 0.05 * j[1])
            hump = anatomy.rib_hump * (0.5 if k == 1 else 1.0)
            y_lat = np.array([y0 + drop / 2 - hump], dtype=np.float32)
            reach = float(lung_borders(lung, y_lat)[1][0]) + 0.035
            if k >= 9:
                reach = min(reach, lung.lateral_u + 0.035)
            reach = max(reach, 0.3)
            u0 = 0.085
            u_end = 0.1 if k == 1 else min(0.28 + 0.03 * k, 0.75 * reach)
            phi_end = np.pi - np.arcsin(min(u_end / reach, 1.0))
            phi = np.linspace(0.0, phi_end, 28)
            u = np.where(phi < np.pi / 2, u0 + (reach - u0) * np.sin(phi), reach * np.sin(phi))
            y = y0 + drop * (1 - np.cos(phi)) / 2 - hump * np.sin(phi) * (1 + 0.1 * j[2])
            z = -depth * np.cos(phi)
            blend = (1 - np.cos(phi)) / 2
            thick = 0.02 if k == 1 else 0.026
            radius = thick + (0.03 - thick) * blend
            seg_phi = (phi[1:] + phi[:-1]) / 2
            seg_blend = (1 - np.cos(seg_phi)) / 2
            fade = np.clip((phi_end - seg_phi) / 0.35, 0, 1)
            weight = (1.0 - 0.65 * seg_blend) * 0.8 * (0.3 + 0.7 * fade)
            tubes.add(np.stack([side * u, y], axis=1), radius, weight, z, hollow=0.72)


def _clavicles(tubes: _Tubes, anatomy: Anatomy) -> None:
    t = np.linspace(0.0, 1.0, 30)
    for side in (-1, 1):
        shift = 0.03 * anatomy.axial_rotation * side
        u = 0.035 + shift + (0.66 - 0.035) * t
        y = anatomy.clavicle_y + (-0.15) * t + 0.03 * np.sin(2 * np.pi * t)
        z = 0.45 - 0.3 * t**2
        radius = 0.032 - 0.01 * np.sin(np.pi * t) + 0.002 * t
        tubes.add(np.stack([side * u, y], axis=1), radius, np.full(29, 0.9), z, hollow=0.6)


def _scapulae(tubes: _Tubes, acc: np.ndarray, frame: Frame, anatomy: Anatomy) -> None:
    for side in (-1, 1):
        sup = np.array([0.5, anatomy.shoulder_y + 0.02])
        lat = np.array([0.83, anatomy.shoulder_y + 0.1])
        inf = np.array([0.64 + 0.05 * anatomy.axial_rotation * side, anatomy.shoulder_y + 0.75])
        tri = np.stack([sup, lat, inf]) * [side, 1]
        lo, hi = tri.min(axis=0) - 0.03, tri.max(axis=0) + 0.03
        box = frame.box(lo[0], hi[0], lo[1], hi[1])
        if box is not None:
            x, y = frame.xa[box], frame.ya[box]
            dist = np.full(x.shape, np.inf, dtype=np.float32)
            centre = tri.mean(axis=0)
            for a, b in ((0, 1), (1, 2), (2, 0)):
                ex, ey = tri[b] - tri[a]
                nx, ny = -ey, ex
                if nx * (centre[0] - tri[a][0]) + ny * (centre[1] - tri[a][1]) < 0:
                    nx, ny = -nx, -ny
                norm = np.hypot(nx, ny)
                dist = np.minimum(dist, ((x - tri[a][0]) * nx + (y - tri[a][1]) * ny) / norm)
            acc[box] += _F(MU_CORTEX * 0.022) * smoothstep(dist / _F(0.02))
        border = np.stack([lat + np.array([-0.02, 0.05]), inf]) * [side, 1]
        pts = np.linspace(border[0], border[1], 6)
        tubes.add(pts, np.linspace(0.022, 0.012, 6), np.full(5, 0.5))
        add_ellipsoid(acc, frame, side * 0.855, anatomy.shoulder_y + 0.14, 0.035, 0.065, 0.05, MU_CORTEX)
        head = (side * 1.0, anatomy.shoulder_y + 0.17)
        add_ellipsoid(acc, frame, *head, 0.12, 0.13, 0.11, MU_CORTEX * 0.6)
        add_ellipsoid(acc, frame, *head, 0.1, 0.11, 0.09, -(MU_CORTEX - MU_MARROW) * 0.6)


def _spine(acc: np.ndarray, frame: Frame, anatomy: Anatomy) -> None:
    box = frame.box(-0.25, 0.25, -1.3, 1.3)
    if box is None:
        return
    x, y = frame.xa[box], frame.ya[box]
    centre = _F(anatomy.spine_x) + _F(anatomy.scoliosis) * np.sin(_F(np.pi / 2) * (y + 1))
    half = _F(0.055) + _F(0.015) * np.clip(y + 1, 0, 2)
    e = (x - centre) / half
    phase = (y - _F(anatomy.t1_y)) / _F(anatomy.vertebra_pitch) + _F(0.5)
    f = phase - np.floor(phase)
    body_v = np.sqrt(np.clip(1 - ((f - _F(0.42)) / _F(0.40)) ** 2, 0, 1))
    body_h = np.sqrt(np.clip(1 - e**2, 0, 1))
    inner_v = np.sqrt(np.clip(1 - ((f - _F(0.42)) / _F(0.36)) ** 2, 0, 1))
    inner_h = np.sqrt(np.clip(1 - (e / _F(0.9)) ** 2, 0, 1))
    outer = body_v * body_h
    out = _F(2 * 0.07) * (_F(MU_CORTEX) * outer - _F(MU_CORTEX - MU_MARROW) * inner_v * inner_h)
    for cx, cf, rx, rf, depth, hollow in (
        (-0.75, 0.33, 0.17, 0.2, 0.02, 0.6),
        (0.75, 0.33, 0.17, 0.2, 0.02, 0.6),
        (-1.2, 0.3, 0.35, 0.11, 0.012, 0.0),
        (1.2, 0.3, 0.35, 0.11, 0.012, 0.0),
        (0.0, 0.72, 0.1, 0.22, 0.015, 0.0),
    ):
        ex = e - _F(cx + (0.35 * anatomy.axial_rotation if cx == 0.0 else 0.0))
        rho = (ex / _F(rx)) ** 2 + ((f - _F(cf)) / _F(rf)) ** 2
        ring = np.sqrt(np.clip(1 - rho, 0, 1))
        if hollow:
            rho_in = (ex / _F(rx * hollow)) ** 2 + ((f - _F(cf)) / _F(rf * hollow)) ** 2
            ring = ring - _F(0.8) * np.sqrt(np.clip(1 - rho_in, 0, 1))
        out += _F(2 * depth * MU_CORTEX) * ring
    acc[box] += _F(0.4) * out


def bone_chord(frame: Frame, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """Excess attenuation x path of all bones (1/cm x patient units), ``(size, size)``.

    Args:
        frame: the pixel grid.
        anatomy: the patient.
        rng: the skeleton stream; a fixed number of draws.
    """
    jitter = rng.standard_normal((2 * N_RIBS, 3))
    acc = np.zeros((frame.size, frame.size), np.float32)
    tubes = _Tubes()
    _ribs(tubes, anatomy, jitter)
    _clavicles(tubes, anatomy)
    _scapulae(tubes, acc, frame, anatomy)
    tubes.splat(acc, frame)
    _spine(acc, frame, anatomy)
    return acc
