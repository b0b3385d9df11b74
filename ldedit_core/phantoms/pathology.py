"""Disease appearances, each driven by one severity in [0, 1] (0 = absent).

* Pleural effusion: fluid replaces lung from the costophrenic angle upwards; its surface is a meniscus
  that rises laterally, so small effusions blunt the angle and large ones hide the dome.
* Pulmonary edema: perihilar "bat-wing" increase of lung density, more in the lower zones, mottled, plus
  interstitial Kerley B lines at the lateral bases.
* Nodule / mass: a lobulated soft-tissue sphere inside a lung; severity grows its radius and density.

Cardiomegaly is not here: it resizes the heart (``anatomy.heart_geometry``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ldedit_core.phantoms.anatomy import Anatomy, Heart, Lung
from ldedit_core.phantoms.raster import Frame, ellipsoid_chord, smoothstep
from ldedit_core.phantoms.thorax import lung_borders, lung_point_depth

N_KERLEY = 16
"""Candidate Kerley B lines per side; severity decides how many are drawn."""

_F = np.float32


def effusion_fluid(
    frame: Frame, lung: Lung, side: int, box: tuple[slice, slice], lung_path: np.ndarray, severity: float
) -> np.ndarray:
    """Fluid path length replacing lung over ``box`` (never more than the lung path there)."""
    if severity <= 0:
        return np.zeros_like(lung_path)
    u = side * frame.xa[box]
    y = frame.ya[box]
    span = lung.costophrenic_y - lung.apex_y
    level = lung.costophrenic_y + 0.02 - severity * 0.8 * span
    q = np.clip((u - _F(lung.medial_lower_u)) / _F(lung.lateral_u - lung.medial_lower_u), 0.0, 1.0)
    surface = _F(level) - _F(0.08 + 0.25 * severity) * q ** _F(1.6)
    ramp = _F(0.07 + 0.12 * severity)
    fill = np.clip((y - surface) / ramp, 0.0, 1.0) ** _F(0.6)
    return lung_path * fill


def edema_weight(
    frame: Frame, lung: Lung, side: int, box: tuple[slice, slice], texture: np.ndarray
) -> np.ndarray:
    """Spatial pattern of edema over ``box``: perihilar bat-wing + lower-zone predominance, mottled."""
    u = side * frame.xa[box]
    y = frame.ya[box]
    hilum_u = lung.medial_upper_u + 0.05
    bat = np.exp(-(((u - _F(hilum_u)) / _F(0.36)) ** 2) - ((y - _F(lung.hilum_y + 0.05)) / _F(0.42)) ** 2)
    lower = _F(0.3) * smoothstep((y - _F(lung.hilum_y)) / _F(0.6))
    return (bat + lower) * np.clip(1.0 + 0.45 * texture[box], 0.2, 2.0)


def kerley_lines(
    anatomy: Anatomy, rng: np.random.Generator, severity: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Short horizontal septal lines touching the lateral pleura of both lower zones.

    Always draws ``2 * N_KERLEY * 3`` uniforms; returns ``(p0, p1, radius)`` of the first
    ``round(severity * N_KERLEY)`` lines per side.
    """
    draws = rng.uniform(size=(2, N_KERLEY, 3))
    count = round(severity * N_KERLEY)
    p0, p1 = [], []
    for s_idx, side in enumerate((-1, 1)):
        lung = anatomy.lung(side)
        for i in range(count):
            a, b, c = draws[s_idx, i]
            y = lung.hilum_y + 0.2 + (lung.costophrenic_y - 0.05 - lung.hilum_y - 0.2) * a
            lateral = float(lung_borders(lung, np.array([y], dtype=np.float32))[1][0])
            length = 0.035 + 0.05 * b
            u1 = lateral - 0.01
            p0.append([side * (u1 - length), y + 0.01 * (c - 0.5)])
            p1.append([side * u1, y])
    if not p0:
        empty = np.zeros((0, 2))
        return empty, empty, np.zeros(0)
    return np.array(p0), np.array(p1), np.full(len(p0), 0.0035)


@dataclass(frozen=True)
class Nodule:
    """A lobulated nodule: main sphere plus satellite lobes, in patient coordinates."""

    x: float
    y: float
    radius: float
    density: float
    side: int
    lobes: tuple[tuple[float, float, float], ...]


def nodule_geometry(
    anatomy: Anatomy,
    heart: Heart,
    rng: np.random.Generator,
    severity: float,
    position: tuple[float, float] | None,
) -> Nodule | None:
    """Place and size the nodule. Draws 10 uniforms whatever the arguments.

    Args:
        anatomy: the patient.
        heart: the heart, which a sampled position avoids.
        rng: the nodule stream.
        severity: in [0, 1]; 0 gives ``None``.
        position: ``(x, y)`` in patient coordinates, already checked to lie in a lung, or ``None`` to
            draw a position from the seed (same position for every severity).

    Returns:
        The ``Nodule``, or ``None`` when ``severity`` is 0.
    """
    u = rng.uniform(size=10)
    if severity <= 0:
        return None
    if position is None:
        side = -1 if u[0] < 0.55 else 1
        lung = anatomy.lung(side)
        for attempt in range(8):
            t = 0.25 + 0.45 * ((u[1] + 0.37 * attempt) % 1.0)
            y = lung.apex_y + t * (lung.costophrenic_y - lung.apex_y)
            medial, lateral, _ = lung_borders(lung, np.array([y], dtype=np.float32))
            q = 0.4 + 0.3 * ((u[2] + 0.61 * attempt) % 1.0)
            x = side * float(medial[0] + q * (lateral[0] - medial[0]))
            in_heart = (
                ellipsoid_chord(
                    np.array([x]),
                    np.array([y]),
                    heart.cx,
                    heart.cy,
                    heart.a + 0.1,
                    heart.b + 0.1,
                    1.0,
                    heart.tilt,
                )[0]
                > 0
            )
            if not in_heart and lung_point_depth(lung, side, x, y) > 0.25:
                break
    else:
        x, y = position
        side = 1 if x > 0 else -1
    radius = 0.018 + 0.072 * severity
    angles = 2 * np.pi * u[3:6]
    lobes = tuple(
        (float(0.55 * radius * np.cos(a)), float(0.55 * radius * np.sin(a)), float(radius * (0.45 + 0.2 * w)))
        for a, w in zip(angles, u[6:9], strict=True)
    )
    return Nodule(x=float(x), y=float(y), radius=radius, density=1.0 + 0.4 * severity, side=side, lobes=lobes)


def nodule_chord(frame: Frame, nodule: Nodule) -> tuple[tuple[slice, slice] | None, np.ndarray]:
    """Path length through the nodule (union of its lobes) over its box."""
    r = nodule.radius * 1.2
    box = frame.box(nodule.x - r, nodule.x + r, nodule.y - r, nodule.y + r)
    if box is None:
        return None, np.zeros((0, 0), np.float32)
    x, y = frame.xa[box], frame.ya[box]
    chord = ellipsoid_chord(x, y, nodule.x, nodule.y, nodule.radius, nodule.radius, nodule.radius)
    for dx, dy, rl in nodule.lobes:
        chord = np.maximum(chord, ellipsoid_chord(x, y, nodule.x + dx, nodule.y + dy, rl, rl, rl))
    return box, chord
