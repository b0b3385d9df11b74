"""The editing methods compared: LDEdit and four published ways of finding a latent direction."""

from __future__ import annotations

import difflib
import enum


class Method(str, enum.Enum):
    """A way of choosing the edit direction; every method is walked by the same trajectory planner.

    Accepts plain strings: ``Method("sefa") is Method.SEFA``.
    """

    LDEDIT = "ldedit"
    RESEFA = "resefa"
    INTERFACEGAN = "interfacegan"
    GANSPACE = "ganspace"
    SEFA = "sefa"

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        """Name for tables and plots."""
        return LABELS[self]

    @classmethod
    def parse(cls, value: str | Method) -> Method:
        """The method named ``value``.

        Raises:
            ValueError: an unknown name; the message suggests the closest one.
        """
        if isinstance(value, Method):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = [m.value for m in cls]
            close = difflib.get_close_matches(str(value).lower(), names, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"method: unknown name {value!r} (expected one of {names}){hint}") from None


LABELS = {
    Method.LDEDIT: "LDEdit (Link-LR + Link-PCA)",
    Method.RESEFA: "ReSeFa/LowRankGAN (top Link-LR)",
    Method.INTERFACEGAN: "InterFaceGAN (linear SVM)",
    Method.GANSPACE: "GANSpace (PCA of W)",
    Method.SEFA: "SeFa (style weights)",
}
METHODS: tuple[Method, ...] = tuple(Method)
BASELINES: tuple[Method, ...] = tuple(m for m in Method if m is not Method.LDEDIT)
