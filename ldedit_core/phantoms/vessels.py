"""Pulmonary vessel trees: seeded branching from each hilum, drawn as tapering tubes.

Each lung gets five lobar trunks that branch dichotomously for ``GENERATIONS`` generations (radius x
~0.72 and length x ~0.8 per generation), with jittered branching angles and gently curved segments.
The number of random draws is fixed, so the tree of a seed never changes with the disease arguments.
Upper-zone vessels are thinner than lower-zone ones (gravity); edema dilates the upper ones
(redistribution).
"""

from __future__ import annotations

import numpy as np

from ldedit_core.phantoms.anatomy import Anatomy

GENERATIONS = 6
_TRUNKS = (  # angle from lateral (deg, y down), length, radius
    (-100.0, 0.13, 0.017),
    (-55.0, 0.15, 0.021),
    (-10.0, 0.14, 0.022),
    (35.0, 0.16, 0.027),
    (75.0, 0.17, 0.027),
)


def vessel_segments(
    anatomy: Anatomy, rng: np.random.Generator, edema: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments of both vessel trees in patient coordinates.

    Args:
        anatomy: the patient.
        rng: the vessel stream; always ``2 * 5 * 2**GENERATIONS * 5`` normals.
        edema: edema severity, dilating upper-zone vessels by up to 50 %.

    Returns:
        ``(p0, p1, r0, r1)``: segment starts and ends ``(n, 2)`` and radii ``(n,)``.
    """
    leaves = 2**GENERATIONS
    draws = rng.standard_normal((2, len(_TRUNKS), leaves, 5))
    p0s, p1s, r0s, r1s = [], [], [], []
    for s_idx, side in enumerate((-1, 1)):
        lung = anatomy.lung(side)
        hilum = np.array([lung.medial_upper_u + 0.05, lung.hilum_y])
        for t_idx, (angle, length, radius) in enumerate(_TRUNKS):
            upper = angle < -30
            r = radius * (1 + 0.5 * edema if upper else 1.0)
            start = hilum + ([0.0, -0.05] if upper else [0.0, 0.03])
            pos = start[None, :]
            ang = np.array([np.radians(angle)])
            lens = np.array([length])
            rad = np.array([r])
            for g in range(GENERATIONS):
                n = len(pos)
                d = draws[s_idx, t_idx, :n]
                bend = ang + 0.12 * d[:, 0]
                mid = pos + 0.5 * lens[:, None] * np.stack([np.cos(ang), np.sin(ang)], 1)
                end = mid + 0.5 * lens[:, None] * np.stack([np.cos(bend), np.sin(bend)], 1)
                r_end = rad * 0.9
                r_mid = (rad + r_end) / 2
                for a, b, ra, rb in ((pos, mid, rad, r_mid), (mid, end, r_mid, r_end)):
                    p0s.append(a * [side, 1])
                    p1s.append(b * [side, 1])
                    r0s.append(ra)
                    r1s.append(rb)
                if g == GENERATIONS - 1:
                    break
                spread = np.radians(24 + 6 * d[:, 1])
                major = 0.55 + 0.15 * np.tanh(d[:, 2])
                pos = np.repeat(end, 2, axis=0)
                ang = np.stack([bend + spread * (1 - major), bend - spread * major], 1).ravel()
                lens = np.repeat(lens, 2) * (0.78 + 0.06 * np.stack([d[:, 3], d[:, 4]], 1).ravel())
                rad = np.stack([r_end * 0.84, r_end * 0.72], 1).ravel()
    return (np.concatenate(p0s), np.concatenate(p1s), np.concatenate(r0s), np.concatenate(r1s))
