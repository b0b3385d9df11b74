"""Soft-tissue anatomy in closed form: body outline, lungs, heart, mediastinum, airways and stomach gas.

Each function returns projected path lengths (patient units) of one tissue class. The lungs are shaped
by an outline (apex, lateral wall, medial border, diaphragmatic dome) with an elliptical depth profile
across, so their edges against the chest wall and the domes are as sharp as a tangent surface makes
them on a film.
"""

from __future__ import annotations

import numpy as np

from ldedit_core.phantoms.anatomy import Anatomy, Heart, Lung
from ldedit_core.phantoms.raster import Frame, add_ellipsoid, ellipsoid_chord, smoothstep, splat_tubes

_F = np.float32


def body_chord(frame: Frame, anatomy: Anatomy) -> np.ndarray:
    """Soft tissue path through the trunk, neck, shoulders and breasts, ``(size, size)``."""
    x, y = frame.xa, frame.ya
    ax = np.abs(x)
    width = _F(anatomy.chest_half_width) * (1.0 - _F(0.05) * np.clip(y - _F(0.3), 0.0, 1.0))
    width += _F(0.2) * (1.0 - smoothstep((y - _F(anatomy.shoulder_y + 0.1)) / _F(0.5)))
    depth = _F(anatomy.body_half_depth) * (1.0 + _F(0.08) * np.clip(y, 0.0, 1.0))
    trunk = 2.0 * depth * np.sqrt(np.clip(1.0 - (x / width) ** 2, 0.0, 1.0))
    neck_w = _F(anatomy.neck_half_width)
    slope = np.clip((ax - neck_w) / _F(0.55), 0.0, 1.0)
    shoulder_line = _F(anatomy.shoulder_y) - _F(0.14) * (1.0 - slope) ** 2
    trunk *= np.sqrt(smoothstep((y - shoulder_line) / _F(0.16)))
    neck = _F(1.4 * neck_w) * np.sqrt(np.clip(1.0 - (x / neck_w) ** 2, 0.0, 1.0))
    body = np.maximum(trunk, neck)
    for side in (-1, 1):
        add_ellipsoid(body, frame, side * 1.04, anatomy.shoulder_y + 0.45, 0.22, 0.55, 0.2, 1.0)
        if anatomy.breast > 0:
            add_ellipsoid(
                body,
                frame,
                side * 0.47,
                anatomy.lung(side).dome_y - 0.06,
                0.32,
                0.22 + 0.05 * anatomy.breast,
                0.06 * anatomy.breast,
                1.0,
            )
    return body


def lung_box(frame: Frame, lung: Lung, side: int) -> tuple[slice, slice] | None:
    """Pixel box around one lung."""
    lo, hi = sorted((side * (lung.medial_lower_u - 0.05), side * (lung.lateral_u + 0.03)))
    return frame.box(lo, hi, lung.apex_y - 0.03, lung.costophrenic_y + 0.03)


def dome_y(lung: Lung, u: np.ndarray) -> np.ndarray:
    """Height of the diaphragm under lateral coordinate ``u``: apex at ``dome_u``, lowest laterally."""
    lateral = (u - _F(lung.dome_u)) / _F(lung.lateral_u - lung.dome_u)
    medial = (_F(lung.dome_u) - u) / _F(lung.dome_u - lung.medial_lower_u)
    return np.where(
        u > lung.dome_u,
        _F(lung.dome_y) + _F(lung.costophrenic_y - lung.dome_y) * lateral**2,
        _F(lung.dome_y) + _F(0.14) * medial**2,
    ).astype(np.float32)


def lung_borders(lung: Lung, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Medial and lateral lung borders (in u) and the apex-to-base coordinate t at heights ``y``."""
    t = (y - _F(lung.apex_y)) / _F(lung.costophrenic_y - lung.apex_y)
    g_lat = np.sqrt(1.0 - (1.0 - np.clip(t / _F(0.6), 0.0, 1.0)) ** 2)
    lateral = _F(lung.apex_u) + _F(lung.lateral_u - lung.apex_u) * g_lat
    g_med = np.sqrt(1.0 - (1.0 - np.clip(t / _F(0.22), 0.0, 1.0)) ** 2)
    medial = _F(lung.apex_u) - _F(lung.apex_u - lung.medial_upper_u) * g_med
    medial = medial + _F(lung.medial_lower_u - lung.medial_upper_u) * smoothstep((t - _F(0.68)) / _F(0.25))
    return medial, lateral, t


def lung_chord(frame: Frame, lung: Lung, side: int, box: tuple[slice, slice]) -> np.ndarray:
    """Air-filled lung path length over ``box`` (before anything displaces it)."""
    u = side * frame.xa[box]
    y = frame.ya[box]
    medial, lateral, t = lung_borders(lung, y)
    q = np.clip((u - medial) / np.maximum(lateral - medial, _F(1e-3)), 0.0, 1.0) ** _F(0.8)
    across = np.sqrt(np.clip(1.0 - (2.0 * q - 1.0) ** 2, 0.0, 1.0))
    across *= (u > medial) & (u < lateral)
    base = np.sqrt(np.clip((dome_y(lung, u) - y) / _F(0.16), 0.0, 1.0))
    top = np.sqrt(np.clip(t / _F(0.05), 0.0, 1.0)) * (_F(0.55) + _F(0.45) * np.clip(t / _F(0.5), 0.0, 1.0))
    return _F(2 * lung.half_depth) * across * base * top


def lung_point_depth(lung: Lung, side: int, x: float, y: float) -> float:
    """Lung path length at one patient point (used to place nodules)."""
    medial, lateral, t = lung_borders(lung, np.array([y], dtype=np.float32))
    u = side * x
    if not medial[0] < u < lateral[0] or t[0] <= 0:
        return 0.0
    q = ((u - medial[0]) / (lateral[0] - medial[0])) ** 0.8
    base = np.sqrt(np.clip((dome_y(lung, np.array([u], dtype=np.float32))[0] - y) / 0.16, 0.0, 1.0))
    across = np.sqrt(max(1 - (2 * q - 1) ** 2, 0.0))
    return float(2 * lung.half_depth * across * base * min(t[0] / 0.05, 1) ** 0.5)


def heart_chord(frame: Frame, heart: Heart) -> tuple[tuple[slice, slice] | None, np.ndarray]:
    """Cardiac path length over its box."""
    r = max(heart.a, heart.b)
    box = frame.box(heart.cx - r, heart.cx + r, heart.cy - r, heart.cy + r)
    if box is None:
        return None, np.zeros((0, 0), np.float32)
    chord = ellipsoid_chord(
        frame.xa[box], frame.ya[box], heart.cx, heart.cy, heart.a, heart.b, heart.half_depth, heart.tilt
    )
    return box, chord


def add_mediastinum(displace: np.ndarray, frame: Frame, anatomy: Anatomy, heart: Heart) -> None:
    """Add the great vessels (aortic knob, pulmonary trunk, aorta, SVC) to the lung-displacing path."""
    top = heart.cy - np.hypot(heart.a * np.sin(heart.tilt), heart.b * np.cos(heart.tilt))
    knob_y = min(top - 0.2, anatomy.left_lung.apex_y + 0.36)
    add_ellipsoid(displace, frame, 0.085, knob_y, 0.07, 0.065, 0.07, 1.0)
    add_ellipsoid(displace, frame, 0.12, (knob_y + top) / 2 + 0.03, 0.055, 0.06, 0.05, 1.0)
    pts = np.array([[0.06, knob_y], [0.055, top + 0.2], [0.045, anatomy.left_lung.dome_y + 0.1]])
    splat_tubes(displace, frame, pts[:-1], pts[1:], np.full(2, 0.04), np.full(2, 0.04), np.ones(2))
    pts = np.array([[-0.075, anatomy.right_lung.apex_y + 0.12], [-0.1, top + 0.02], [-0.11, heart.cy]])
    splat_tubes(displace, frame, pts[:-1], pts[1:], np.full(2, 0.045), np.full(2, 0.05), np.ones(2))


def airway_chord(frame: Frame, anatomy: Anatomy) -> np.ndarray:
    """Air path in the trachea, main bronchi and gastric fundus, ``(size, size)``."""
    air = np.zeros((frame.size, frame.size), np.float32)
    carina = np.array([0.005, anatomy.right_lung.hilum_y - 0.2])
    trachea = np.array([[0.0, -1.2], [-0.012, carina[1] - 0.3], carina])
    right = carina + np.array([[0.0, 0.0], [-0.11, 0.12], [-0.17, 0.2]])
    left = carina + np.array([[0.0, 0.0], [0.14, 0.11], [0.21, 0.16]])
    p0 = np.concatenate([trachea[:-1], right[:-1], left[:-1]])
    p1 = np.concatenate([trachea[1:], right[1:], left[1:]])
    r0 = np.array([0.034, 0.032, 0.022, 0.017, 0.02, 0.016])
    r1 = np.array([0.032, 0.03, 0.017, 0.012, 0.016, 0.012])
    splat_tubes(air, frame, p0, p1, r0, r1, np.array([1.0, 1.0, 0.9, 0.7, 0.9, 0.7]))
    if anatomy.gastric_bubble > 0.2:
        size = 0.5 + anatomy.gastric_bubble
        add_ellipsoid(
            air,
            frame,
            0.4,
            anatomy.left_lung.dome_y + 0.13 + 0.03 * size,
            0.09 * size,
            0.05 * size,
            0.05 * size,
            1.0,
        )
    return air
