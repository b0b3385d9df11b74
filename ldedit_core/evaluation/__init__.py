"""Evaluation: LDEdit against InterFaceGAN, GANSpace, SeFa and ReSeFa/LowRankGAN on held-out phantoms.

Example:
    >>> from ldedit_core.evaluation import evaluate
    >>> result = evaluate("default", diseases=["cardiomegaly"], n=10, out="docs/evaluation")
    >>> result["diseases"]["cardiomegaly"]["native"]["pT_median"]
"""

from __future__ import annotations

from ldedit_core.evaluation.cases import disease_roi, diseased_phantoms, healthy_phantoms
from ldedit_core.evaluation.methods import BASELINES, METHODS, Method
from ldedit_core.evaluation.report import write_report
from ldedit_core.evaluation.runner import evaluate
from ldedit_core.evaluation.summary import Targets

__all__ = [
    "BASELINES",
    "METHODS",
    "Method",
    "Targets",
    "disease_roi",
    "diseased_phantoms",
    "evaluate",
    "healthy_phantoms",
    "write_report",
]
