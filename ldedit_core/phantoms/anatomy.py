"""The sampled patient: body habitus, organ geometry, positioning and exposure, drawn from a seed.

All lengths are in normalised patient units (1 unit = 20 cm, see ``raster.UNIT_CM``); x grows towards
the image right (the patient's left on a PA film), y downwards, u = lateral distance from the midline.
Every field is a plain float, int or str, so ``dataclasses.asdict`` gives JSON-ready parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ldedit_core.phantoms.diseases import CTR_MAX, CTR_NORMAL_RANGE


@dataclass(frozen=True)
class Lung:
    """Outline of one lung in its own lateral coordinate u (>= 0 towards the patient's side)."""

    apex_y: float
    apex_u: float
    lateral_u: float
    medial_upper_u: float
    medial_lower_u: float
    dome_y: float
    dome_u: float
    costophrenic_y: float
    half_depth: float
    hilum_y: float


@dataclass(frozen=True)
class Anatomy:
    """One patient. See the module docstring for units and axes."""

    sex: str
    age: int
    scale: float
    rotation_deg: float
    shift_x: float
    shift_y: float
    inspiration: float
    axial_rotation: float
    chest_half_width: float
    body_half_depth: float
    neck_half_width: float
    shoulder_y: float
    breast: float
    right_lung: Lung
    left_lung: Lung
    ctr_base: float
    heart_tilt_deg: float
    heart_height_ratio: float
    heart_right_fraction: float
    heart_half_depth: float
    spine_x: float
    scoliosis: float
    vertebra_pitch: float
    t1_y: float
    rib_drop: float
    rib_hump: float
    clavicle_y: float
    gastric_bubble: float
    scatter_fraction: float
    exposure: float
    window_low: float
    window_high: float
    contrast: float
    enhancement: float

    def lung(self, side: int) -> Lung:
        """The lung on ``side``: -1 = patient's right (image left), +1 = patient's left (image right)."""
        return self.right_lung if side < 0 else self.left_lung

    @property
    def thorax_width(self) -> float:
        """Widest inner thoracic width: the sum of both lungs' lateral extents."""
        return self.right_lung.lateral_u + self.left_lung.lateral_u


def _clipped_normal(rng: np.random.Generator, mean: float, std: float, lo: float, hi: float) -> float:
    return float(np.clip(rng.normal(mean, std), lo, hi))


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw one patient. Always draws the same number of random numbers, in the same order.

    Args:
        rng: the anatomy stream of the phantom's seed.

    Returns:
        The patient's ``Anatomy``.
    """
    u = rng.uniform(size=16)
    n = rng.standard_normal(size=40)
    sex = "F" if u[0] < 0.5 else "M"
    age = int(20 + 70 * u[1])
    inspiration = float(u[2])
    dome_shift = 0.10 * (inspiration - 0.5)
    right_dome = 0.36 + dome_shift + 0.025 * n[0]
    left_dome = right_dome + float(np.clip(0.05 + 0.02 * n[1], 0.0, 0.1))
    lat_r = float(np.clip(0.77 + 0.025 * n[2], 0.71, 0.83))
    lat_l = float(np.clip(lat_r - 0.025 + 0.015 * n[3], 0.68, 0.82))
    apex_y = -0.70 + 0.025 * n[4]
    body_depth = _clipped_normal(rng, 0.50, 0.04, 0.40, 0.62)
    depth = body_depth * float(0.6 + 0.08 * u[12])
    right = Lung(
        apex_y=apex_y,
        apex_u=0.30 + 0.02 * n[5],
        lateral_u=lat_r,
        medial_upper_u=0.115 + 0.01 * n[6],
        medial_lower_u=0.035,
        dome_y=right_dome,
        dome_u=0.40 + 0.03 * n[7],
        costophrenic_y=right_dome + 0.20 + 0.025 * n[8],
        half_depth=depth,
        hilum_y=-0.06 + 0.02 * n[9],
    )
    left = Lung(
        apex_y=apex_y + 0.02 + 0.01 * n[10],
        apex_u=0.29 + 0.02 * n[11],
        lateral_u=lat_l,
        medial_upper_u=0.125 + 0.01 * n[12],
        medial_lower_u=0.035,
        dome_y=left_dome,
        dome_u=0.42 + 0.03 * n[13],
        costophrenic_y=left_dome + 0.18 + 0.025 * n[14],
        half_depth=depth * 0.95,
        hilum_y=-0.12 + 0.02 * n[15],
    )
    lo_ctr, hi_ctr = CTR_NORMAL_RANGE
    ctr_mix = 0.7 * u[3] + 0.3 * (age - 20) / 70
    ctr_base = float(np.clip(lo_ctr + (hi_ctr - lo_ctr) * ctr_mix, lo_ctr, hi_ctr))
    return Anatomy(
        sex=sex,
        age=age,
        scale=_clipped_normal(rng, 1.0, 0.035, 0.92, 1.07),
        rotation_deg=float(np.clip(1.5 * n[16], -4.0, 4.0)),
        shift_x=float(np.clip(0.02 * n[17], -0.05, 0.05)),
        shift_y=float(np.clip(0.02 * n[18], -0.05, 0.05)),
        inspiration=inspiration,
        axial_rotation=float(np.clip(0.35 * n[19], -1.0, 1.0)),
        chest_half_width=lat_r + 0.085 + 0.02 * abs(n[20]),
        body_half_depth=body_depth,
        neck_half_width=0.22 + 0.015 * n[22],
        shoulder_y=-0.99 + 0.03 * n[23],
        breast=float(0.5 + 0.5 * u[4]) if sex == "F" else 0.0,
        right_lung=right,
        left_lung=left,
        ctr_base=ctr_base,
        heart_tilt_deg=float(28 + 14 * u[5]),
        heart_height_ratio=float(0.90 + 0.14 * u[6]),
        heart_right_fraction=float(0.27 + 0.08 * u[7]),
        heart_half_depth=float(np.clip(0.27 + 0.02 * n[24], 0.22, 0.32)),
        spine_x=0.0,
        scoliosis=float(np.clip(0.012 * n[25], -0.03, 0.03)),
        vertebra_pitch=float(np.clip(0.125 + 0.006 * n[26], 0.11, 0.14)),
        t1_y=apex_y - 0.07 + 0.02 * n[27],
        rib_drop=float(np.clip(0.52 + 0.04 * n[28], 0.42, 0.62)),
        rib_hump=float(np.clip(0.06 + 0.015 * n[29], 0.02, 0.10)),
        clavicle_y=apex_y + 0.10 + 0.025 * n[30],
        gastric_bubble=float(u[8]),
        scatter_fraction=float(0.10 + 0.12 * u[9]),
        exposure=float(np.exp(0.3 * n[31])),
        window_low=float(0.04 * n[32]),
        window_high=float(0.04 * n[33]),
        contrast=float(1.2 + 1.0 * u[10]),
        enhancement=float(0.3 + 0.7 * u[11]),
    )


@dataclass(frozen=True)
class Heart:
    """Cardiac silhouette: a tilted ellipsoid in patient coordinates."""

    cx: float
    cy: float
    a: float
    b: float
    tilt: float
    half_depth: float
    ctr: float


def heart_geometry(anatomy: Anatomy, cardiomegaly: float) -> Heart:
    """Size and place the heart so that its width over the thoracic width equals the target CTR.

    The CTR moves linearly from the patient's own (``ctr_base``) at severity 0 to ``CTR_MAX`` at 1. The
    heart grows mostly to the left and less in height, sits on the left hemidiaphragm, and turns more
    horizontal as it enlarges, as a dilated left ventricle does.

    Args:
        anatomy: the patient.
        cardiomegaly: severity in [0, 1].

    Returns:
        The ``Heart``; its ``ctr`` is exact for the returned ellipse.
    """
    ctr = anatomy.ctr_base + cardiomegaly * (CTR_MAX - anatomy.ctr_base)
    thorax = anatomy.thorax_width
    width = ctr * thorax
    wx = width / 2
    wx0 = anatomy.ctr_base * thorax / 2
    wy = anatomy.heart_height_ratio * wx0 * (1.0 + 0.45 * (wx / wx0 - 1.0))
    tilt = math.radians(anatomy.heart_tilt_deg) * (1.0 - 0.35 * cardiomegaly)
    tilt = min(tilt, 0.8 * math.atan(wy / wx))
    c2, s2 = math.cos(tilt) ** 2, math.sin(tilt) ** 2
    a = math.sqrt((wx**2 * c2 - wy**2 * s2) / (c2 - s2))
    b = math.sqrt((wy**2 * c2 - wx**2 * s2) / (c2 - s2))
    right_fraction = anatomy.heart_right_fraction * (1.0 - 0.2 * cardiomegaly)
    cx = width * (0.5 - right_fraction)
    bottom = anatomy.left_lung.dome_y + 0.07
    half_depth = anatomy.heart_half_depth * (wx / wx0) ** 1.2
    return Heart(cx=cx, cy=bottom - wy, a=a, b=b, tilt=tilt, half_depth=half_depth, ctr=ctr)
