"""``make_phantom``: one procedural PA chest radiograph with its masks and ground truth.

The phantom is an analytic 3-D attenuation model, projected exactly: every structure is a solid whose
chord length along the beam has a closed form (ellipsoids, tubes, profiled lungs), evaluated on the 2-D
pixel grid and summed with its attenuation coefficient into ``integral mu dz``. No voxel volume is built,
so any size from 64 to 2048 pixels renders the same patient fast. The detector chain (Beer-Lambert,
scatter, noise, display) is in ``detector``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from ldedit_core.phantoms import pathology, thorax
from ldedit_core.phantoms.anatomy import Anatomy, heart_geometry, sample_anatomy
from ldedit_core.phantoms.detector import expose
from ldedit_core.phantoms.diseases import SEVERITY_ARGS, check_severity
from ldedit_core.phantoms.fields import noise_field, resize
from ldedit_core.phantoms.raster import UNIT_CM, Frame, ellipsoid_chord, splat_tubes
from ldedit_core.phantoms.skeleton import bone_chord
from ldedit_core.phantoms.tissues import MU_EDEMA, MU_LUNG, MU_SOFT
from ldedit_core.phantoms.vessels import vessel_segments

PHANTOM_VERSION = "1.0"
MIN_SIZE, MAX_SIZE = 64, 2048
LUNG_MASK_PATH = 0.03
"""Lung path (patient units, 1 unit = 20 cm) above which a pixel belongs to the lung mask."""
FLUID_MASK_PATH = 0.01
EDEMA_MASK_LEVEL = 0.12
_STREAMS = ("anatomy", "skeleton", "vessels", "texture", "nodule", "kerley", "noise")


@dataclass(frozen=True)
class Phantom:
    """One synthetic radiograph.

    Attributes:
        image: ``(size, size)`` float32 in [0, 1]; brighter = more attenuation, as a displayed PA film.
        masks: boolean ``(size, size)`` masks: ``lungs``, ``right_lung``, ``left_lung`` (the patient's
            sides; the right lung is on the image left), ``heart``, and the lesions ``effusion``,
            ``edema``, ``nodule`` (always present, empty when the disease is absent). Lung masks exclude
            the heart, like the JSRT/Montgomery lung segmentations.
        params: JSON-serialisable ground truth: seed, size, severities, ``ctr``, the sampled anatomy,
            positioning and exposure, and the nodule geometry (normalised image coordinates).
    """

    image: np.ndarray
    masks: dict[str, np.ndarray]
    params: dict[str, Any]


def _check_seed_size(seed: object, size: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"seed: expected a non-negative integer, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if isinstance(size, bool) or not isinstance(size, Integral):
        raise TypeError(f"size: expected an integer in [{MIN_SIZE}, {MAX_SIZE}], got {type(size).__name__}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size: expected an integer in [{MIN_SIZE}, {MAX_SIZE}], got {size!r}")


def _nodule_patient_position(
    position: object, frame: Frame, anatomy: Anatomy, heart: Any
) -> tuple[float, float] | None:
    if position is None:
        return None
    if (
        not isinstance(position, (tuple, list))
        or len(position) != 2
        or not all(isinstance(v, Real) and math.isfinite(float(v)) for v in position)
    ):
        raise ValueError(f"nodule_position: expected (x, y) normalised image coordinates, got {position!r}")
    xi, yi = (float(v) for v in position)
    if not (-1 <= xi <= 1 and -1 <= yi <= 1):
        raise ValueError(f"nodule_position: coordinates must be in [-1, 1], got {position!r}")
    x, y = (float(v) for v in frame.to_patient(xi, yi))
    side = 1 if x > 0 else -1
    inside = thorax.lung_point_depth(anatomy.lung(side), side, x, y) > 0.1
    in_heart = (
        ellipsoid_chord(np.array([x]), np.array([y]), heart.cx, heart.cy, heart.a, heart.b, 1.0, heart.tilt)[
            0
        ]
        > 0
    )
    if not inside or in_heart:
        raise ValueError(f"nodule_position: {position!r} is not inside a lung field of this patient")
    return x, y


def make_phantom(
    seed: int,
    size: int = 256,
    *,
    cardiomegaly: float = 0.0,
    effusion_left: float = 0.0,
    effusion_right: float = 0.0,
    edema: float = 0.0,
    nodule: float = 0.0,
    nodule_position: tuple[float, float] | None = None,
    noise: bool = True,
) -> Phantom:
    """Render one PA chest radiograph phantom of the patient ``seed`` with the given diseases.

    The seed fixes the patient (anatomy, positioning, exposure, vessel tree, textures, noise, nodule
    site); the severities only change the disease, so varying them gives synthetic follow-ups of the same
    patient. Anatomy is defined in normalised coordinates: every size shows the same patient.

    Args:
        seed: non-negative integer identifying the patient.
        size: image side in pixels, 64 to 2048.
        cardiomegaly: 0..1; moves the cardiothoracic ratio from the patient's own (0.40-0.48) to 0.70.
        effusion_left: 0..1; pleural fluid height on the patient's left (image right).
        effusion_right: 0..1; pleural fluid height on the patient's right (image left).
        edema: 0..1; perihilar alveolar density and Kerley B lines.
        nodule: 0..1; nodule/mass radius (0.4 to 1.8 cm) and density.
        nodule_position: ``(x, y)`` normalised image coordinates in [-1, 1] (x right, y down) inside a
            lung; ``None`` draws a site from the seed.
        noise: add detector quantum noise.

    Returns:
        The ``Phantom``.

    Raises:
        TypeError: a non-integer seed/size, a non-numeric severity, or an unknown keyword.
        ValueError: seed < 0, size out of range, a severity outside [0, 1], or a nodule position that is
            not inside a lung.

    Example:
        >>> p = make_phantom(7, 128, cardiomegaly=0.6)
        >>> p.image.shape, p.params["ctr"] > 0.5
        ((128, 128), True)
    """
    _check_seed_size(seed, size)
    values = (cardiomegaly, effusion_left, effusion_right, edema, nodule)
    sev = {name: check_severity(name, v) for name, v in zip(SEVERITY_ARGS, values, strict=True)}
    rngs = dict(
        zip(
            _STREAMS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(7)),
            strict=True,
        )
    )
    anatomy = sample_anatomy(rngs["anatomy"])
    frame = Frame.build(
        int(size), anatomy.scale, math.radians(anatomy.rotation_deg), (anatomy.shift_x, anatomy.shift_y)
    )
    heart = heart_geometry(anatomy, sev["cardiomegaly"])
    position = _nodule_patient_position(nodule_position, frame, anatomy, heart)
    shape = (frame.size, frame.size)

    organs = np.zeros(shape, np.float32)
    thorax.add_mediastinum(organs, frame, anatomy, heart)
    heart_box, heart_path = thorax.heart_chord(frame, heart)
    heart_mask = np.zeros(shape, bool)
    if heart_box is not None:
        organs[heart_box] += heart_path
        heart_mask[heart_box] = heart_path > 0
    fine = np.zeros(shape, np.float32)
    p0, p1, r0, r1 = vessel_segments(anatomy, rngs["vessels"], sev["edema"])
    splat_tubes(fine, frame, p0, p1, r0, r1, np.full(len(p0), 1.6))
    k0, k1, kr = pathology.kerley_lines(anatomy, rngs["kerley"], sev["edema"])
    splat_tubes(fine, frame, k0, k1, kr, kr, np.full(len(k0), 5.0))
    lesion = pathology.nodule_geometry(anatomy, heart, rngs["nodule"], sev["nodule"], position)
    nodule_mask = np.zeros(shape, bool)
    if lesion is not None:
        n_box, n_path = pathology.nodule_chord(frame, lesion)
        if n_box is not None:
            fine[n_box] += n_path * np.float32(lesion.density)
            nodule_mask[n_box] = n_path > 0

    texture = resize(noise_field(rngs["texture"], 96, 0.7), frame.size)
    mottle = resize(noise_field(rngs["texture"], 24, 1.2), frame.size)
    lung_path = np.zeros(shape, np.float32)
    edema_extra = np.zeros(shape, np.float32)
    masks = {name: np.zeros(shape, bool) for name in ("right_lung", "left_lung", "effusion", "edema")}
    sides = ((-1, "right_lung", sev["effusion_right"]), (1, "left_lung", sev["effusion_left"]))
    for side, name, fluid_sev in sides:
        lung = anatomy.lung(side)
        box = thorax.lung_box(frame, lung, side)
        if box is None:
            continue
        path = thorax.lung_chord(frame, lung, side, box)
        aerated = np.maximum(path - organs[box], 0.0)
        masks[name][box] = (aerated > LUNG_MASK_PATH) & ~heart_mask[box]
        aerated = np.maximum(aerated * (1.0 + 0.04 * texture[box]) - fine[box], 0.0)
        fluid = pathology.effusion_fluid(frame, lung, side, box, aerated, fluid_sev)
        masks["effusion"][box] |= (fluid > FLUID_MASK_PATH) & masks[name][box]
        aerated -= fluid
        if sev["edema"] > 0:
            weight = pathology.edema_weight(frame, lung, side, box, mottle)
            edema_extra[box] += np.float32(MU_EDEMA * sev["edema"]) * weight * aerated
            masks["edema"][box] |= (sev["edema"] * weight > EDEMA_MASK_LEVEL) & masks[name][box]
        lung_path[box] += aerated

    body = thorax.body_chord(frame, anatomy)
    air = thorax.airway_chord(frame, anatomy)
    bones = bone_chord(frame, anatomy, rngs["skeleton"])
    mu = np.float32(MU_SOFT) * (body - air) + np.float32(MU_LUNG - MU_SOFT) * lung_path + bones + edema_extra
    line_integral = np.maximum(mu, 0.0) * np.float32(UNIT_CM * anatomy.scale)
    image = expose(line_integral, anatomy, rngs["noise"] if noise else None)

    masks["lungs"] = masks["right_lung"] | masks["left_lung"]
    masks["heart"] = heart_mask
    masks["nodule"] = nodule_mask
    params = _params(int(seed), frame, anatomy, heart, lesion, sev, noise)
    return Phantom(image=image, masks=masks, params=params)


def _params(
    seed: int,
    frame: Frame,
    anatomy: Anatomy,
    heart: Any,
    lesion: pathology.Nodule | None,
    sev: dict[str, float],
    noise: bool,
) -> dict[str, Any]:
    nodule_info = None
    if lesion is not None:
        xi, yi = frame.to_image(lesion.x, lesion.y)
        nodule_info = {
            "x": float(xi),
            "y": float(yi),
            "radius": lesion.radius * anatomy.scale,
            "radius_cm": lesion.radius * UNIT_CM,
            "density": lesion.density,
            "side": "left" if lesion.side > 0 else "right",
        }
    return _plain(
        {
            "version": PHANTOM_VERSION,
            "seed": seed,
            "size": frame.size,
            **sev,
            "ctr": heart.ctr,
            "noise": bool(noise),
            "nodule_geometry": nodule_info,
            "heart": asdict(heart),
            "anatomy": asdict(anatomy),
        }
    )


def _plain(value: Any) -> Any:
    """Numpy scalars -> Python numbers, recursively, so that ``json.dumps`` takes the result."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
