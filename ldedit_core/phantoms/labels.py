"""CheXpert-convention labels of a phantom, derived from its ground truth."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ldedit_core.phantoms.diseases import CHEXPERT_NAMES, CTR_CARDIOMEGALY, PRESENCE_THRESHOLD, Disease

if TYPE_CHECKING:
    from ldedit_core.phantoms.phantom import Phantom

CHEXPERT_COLUMNS: tuple[str, ...] = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)
"""CheXpert's 14 observation columns, in its CSV order."""


def present(params: dict) -> dict[Disease, bool]:
    """Which diseases a phantom's ``params`` count as present.

    Cardiomegaly: CTR > ``CTR_CARDIOMEGALY``; the others: severity > ``PRESENCE_THRESHOLD`` (effusion on
    either side).
    """
    return {
        Disease.CARDIOMEGALY: params["ctr"] > CTR_CARDIOMEGALY,
        Disease.EFFUSION: max(params["effusion_left"], params["effusion_right"]) > PRESENCE_THRESHOLD,
        Disease.EDEMA: params["edema"] > PRESENCE_THRESHOLD,
        Disease.NODULE: params["nodule"] > PRESENCE_THRESHOLD,
    }


def chexpert_labels(phantom: Phantom, *, all_columns: bool = False) -> dict[str, float]:
    """CheXpert labels (1.0 present / 0.0 absent) of a phantom.

    Args:
        phantom: a phantom from ``make_phantom``.
        all_columns: also return CheXpert's other observations: "Enlarged Cardiomediastinum" follows
            cardiomegaly and "Lung Opacity" follows edema or a lesion (CheXpert's label hierarchy); the
            rest, which the phantoms never show, are 0.0.

    Returns:
        ``{"No Finding", "Cardiomegaly", "Pleural Effusion", "Edema", "Lung Lesion"}`` -> 0.0 or 1.0
        (all 14 CheXpert columns with ``all_columns``).

    Example:
        >>> from ldedit_core.phantoms import make_phantom
        >>> chexpert_labels(make_phantom(0, 64, edema=0.8))["Edema"]
        1.0
    """
    found = present(phantom.params)
    labels = {CHEXPERT_NAMES[d]: float(v) for d, v in found.items()}
    labels = {"No Finding": 0.0 if any(found.values()) else 1.0, **labels}
    if not all_columns:
        return labels
    derived = {
        "Enlarged Cardiomediastinum": labels["Cardiomegaly"],
        "Lung Opacity": max(labels["Edema"], labels["Lung Lesion"]),
    }
    return {c: labels.get(c, derived.get(c, 0.0)) for c in CHEXPERT_COLUMNS}
