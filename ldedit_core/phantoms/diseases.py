"""The diseases a phantom can show: their names, severity arguments and CheXpert labels, in one place.

The model bundle, the CLI and the evaluation import these names from here, so that a disease is spelt
the same way everywhere. Severities are continuous in [0, 1]; 0 means absent.
"""

from __future__ import annotations

import difflib
import enum
import math
from numbers import Real


class Disease(str, enum.Enum):
    """Canonical disease names. Accepts plain strings: ``Disease("edema") is Disease.EDEMA``."""

    CARDIOMEGALY = "cardiomegaly"
    EFFUSION = "effusion"
    EDEMA = "edema"
    NODULE = "nodule"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | Disease) -> Disease:
        """Return the disease named ``value``.

        Args:
            value: a ``Disease`` or its name, e.g. ``"effusion"``.

        Returns:
            The matching ``Disease``.

        Raises:
            ValueError: the name is unknown; the message suggests the closest one.
        """
        if isinstance(value, Disease):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(f"disease: unknown name {value!r}{did_you_mean(str(value), DISEASES)}") from None


DISEASES: tuple[str, ...] = tuple(d.value for d in Disease)
"""Canonical disease names, in a fixed order: cardiomegaly, effusion, edema, nodule."""

SEVERITY_ARGS: tuple[str, ...] = ("cardiomegaly", "effusion_left", "effusion_right", "edema", "nodule")
"""Keyword arguments of ``make_phantom`` that carry a severity in [0, 1]; left/right are the patient's."""

SEVERITY_DISEASE: dict[str, Disease] = {
    "cardiomegaly": Disease.CARDIOMEGALY,
    "effusion_left": Disease.EFFUSION,
    "effusion_right": Disease.EFFUSION,
    "edema": Disease.EDEMA,
    "nodule": Disease.NODULE,
}

CHEXPERT_NAMES: dict[Disease, str] = {
    Disease.CARDIOMEGALY: "Cardiomegaly",
    Disease.EFFUSION: "Pleural Effusion",
    Disease.EDEMA: "Edema",
    Disease.NODULE: "Lung Lesion",
}
"""CheXpert's column name for each disease (CheXpert calls nodules and masses "Lung Lesion")."""

CTR_NORMAL_RANGE: tuple[float, float] = (0.40, 0.48)
"""Cardiothoracic ratios a healthy phantom is drawn from."""

CTR_MAX = 0.70
"""Cardiothoracic ratio at ``cardiomegaly=1``; the CTR moves linearly from the patient's own to this."""

CTR_CARDIOMEGALY = 0.50
"""A phantom is labelled cardiomegalic when its cardiothoracic ratio exceeds this."""

PRESENCE_THRESHOLD = 0.05
"""Effusion, edema and nodule severities above this are labelled present."""


def did_you_mean(name: str, choices: tuple[str, ...] | list[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (expected one of {', '.join(choices)})"


def check_severity(name: str, value: object) -> float:
    """Check one severity argument and return it as a float.

    Args:
        name: the argument's name, used in the message.
        value: the value received.

    Returns:
        ``float(value)``.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is not finite or outside [0, 1].
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected a number in [0, 1], got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{name}: severity must be in [0, 1], got {value!r}")
    return number
