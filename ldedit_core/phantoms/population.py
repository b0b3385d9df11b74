"""A population of phantoms: disease presence and severities drawn with set prevalences."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from numbers import Integral, Real

import numpy as np

from ldedit_core.phantoms.diseases import DISEASES, did_you_mean
from ldedit_core.phantoms.phantom import Phantom, make_phantom

DEFAULT_PREVALENCE: dict[str, float] = {"cardiomegaly": 0.25, "effusion": 0.25, "edema": 0.2, "nodule": 0.2}
"""Independent prevalences; about 36 % of the population is healthy."""

SEVERITY_RANGE: dict[str, tuple[float, float]] = {
    "cardiomegaly": (0.35, 1.0),
    "effusion": (0.12, 1.0),
    "edema": (0.2, 1.0),
    "nodule": (0.35, 1.0),
}
"""Severity of a present disease is uniform in this range. 0.35 keeps every cardiomegaly's CTR > 0.5, and
every nodule at least 1.7 cm across (3 pixels at 64 px; radiographs seldom show nodules under 1 cm)."""

POPULATION_VERSION = 2
"""Bumped whenever the draw changes (2: nodules from severity 0.35, was 0.12); data caches key on it."""

BILATERAL_EFFUSION = 0.4
"""Fraction of effusions on both sides; the others are on one side, either with equal chance."""


def _check_prevalence(prevalence: Mapping[str, float] | None) -> dict[str, float]:
    if prevalence is None:
        return dict(DEFAULT_PREVALENCE)
    if not isinstance(prevalence, Mapping):
        raise TypeError(
            f"prevalence: expected a mapping disease -> probability, got {type(prevalence).__name__}"
        )
    out = dict(DEFAULT_PREVALENCE)
    for name, value in prevalence.items():
        if name not in DISEASES:
            raise ValueError(f"prevalence: unknown disease {name!r}{did_you_mean(str(name), DISEASES)}")
        if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"prevalence[{name!r}]: expected a probability in [0, 1], got {value!r}")
        out[name] = float(value)
    return out


def draw_severities(rng: np.random.Generator, prevalence: Mapping[str, float]) -> dict[str, float]:
    """Draw one patient's severities. Always draws 8 uniforms, so patients do not shift one another."""
    u = rng.uniform(size=8)
    sev = {"cardiomegaly": 0.0, "effusion_left": 0.0, "effusion_right": 0.0, "edema": 0.0, "nodule": 0.0}
    for i, name in enumerate(("cardiomegaly", "edema", "nodule")):
        lo, hi = SEVERITY_RANGE[name]
        if u[i] < prevalence[name]:
            sev[name] = lo + (hi - lo) * u[3 + i]
    if u[6] < prevalence["effusion"]:
        lo, hi = SEVERITY_RANGE["effusion"]
        level = lo + (hi - lo) * u[7]
        choice = u[6] / max(prevalence["effusion"], 1e-12)
        if choice < BILATERAL_EFFUSION:
            sev["effusion_left"], sev["effusion_right"] = level, lo + (level - lo) * 0.7
        elif choice < BILATERAL_EFFUSION + (1 - BILATERAL_EFFUSION) / 2:
            sev["effusion_left"] = level
        else:
            sev["effusion_right"] = level
    return sev


def sample_population(
    n: int, seed: int, *, size: int = 256, prevalence: Mapping[str, float] | None = None, noise: bool = True
) -> Iterator[Phantom]:
    """Yield ``n`` phantoms of different patients with diseases drawn at the given prevalences.

    Diseases are independent (co-occurrence allowed). Each patient's phantom seed and severities come
    from ``seed`` and the patient's index only, so the i-th patient is the same whatever ``n`` is.

    Args:
        n: number of phantoms (>= 0).
        seed: population seed (>= 0).
        size: image side, 64 to 2048.
        prevalence: probability of each disease in ``DISEASES``; missing ones keep ``DEFAULT_PREVALENCE``.
        noise: add detector noise.

    Yields:
        ``Phantom`` objects; ``params["seed"]`` is the patient's own seed.

    Raises:
        ValueError: ``n`` or ``seed`` negative, an unknown disease or a probability outside [0, 1].

    Example:
        >>> [p.image.shape for p in sample_population(2, seed=0, size=64)]
        [(64, 64), (64, 64)]
    """
    for name, value in (("n", n), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
            raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    prev = _check_prevalence(prevalence)
    for i in range(int(n)):
        rng = np.random.default_rng([int(seed), 0x9E37, i])
        patient_seed = int(rng.integers(0, 2**31 - 1))
        yield make_phantom(patient_seed, size, noise=noise, **draw_severities(rng, prev))
