"""From per-image records to per-method figures, and the issue's targets checked against them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ldedit_core.evaluation.measures import quantiles
from ldedit_core.evaluation.methods import BASELINES, Method


@dataclass(frozen=True)
class Targets:
    """What the issue asks of LDEdit, per disease (native = the composited output frames)."""

    p0_max: float = 0.2  # median evaluator probability of the source (native frame 0)
    pT_min: float = 0.8  # median evaluator probability of the last native frame
    spearman_min: float = 0.95  # median Spearman of evaluator probability vs frame (native)
    background_ssim_min: float = 0.97  # median generator-level SSIM outside the ROI, first vs last frame
    identical_min: float = 1.0  # fraction of images whose native pixels outside the ROI are bit-identical


def _median(values: Sequence[float]) -> float:
    return quantiles(values, (0.5,))[0]


def _mean(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def curve_band(curves: Sequence[Sequence[float]]) -> dict[str, list[float]]:
    """Per-frame 25th, 50th and 75th percentiles of equally long probability curves."""
    if not curves:
        return {"q25": [], "median": [], "q75": []}
    arr = np.asarray(curves, dtype=np.float64)  # [images, T+1]
    q = np.quantile(arr, [0.25, 0.5, 0.75], axis=0)
    return {"q25": q[0].tolist(), "median": q[1].tolist(), "q75": q[2].tolist()}


def summarise_method(records: Sequence[Mapping]) -> dict:
    """Medians (and the ROI change's mean) over the images one method edited without error."""
    ok = [r for r in records if "error" not in r]
    curves = [r["evaluator_probs"] for r in ok]
    return {
        "images": len(ok),
        "failed": len(records) - len(ok),
        "p0_median": _median([c[0] for c in curves]),
        "pT_median": _median([c[-1] for c in curves]),
        "spearman_median": _median([r["spearman"] for r in ok]),
        "background_ssim_median": _median([r["background_ssim"] for r in ok]),
        "background_psnr_median": _median([r["background_psnr"] for r in ok]),
        "background_change_median": _median([r["background_change"] for r in ok]),
        "roi_change_mean": _mean([r["roi_change"] for r in ok]),
        "guide_pT_median": _median([r["guide_probs"][-1] for r in ok]),
        "reached_fraction": _mean([float(r["reached"]) for r in ok]),
        "curve": curve_band(curves),
    }


def summarise_native(records: Sequence[Mapping]) -> dict:
    """LDEdit's composited output frames: evaluator probabilities and the bit-identity outside the ROI."""
    ok = [r["native"] for r in records if "native" in r]
    curves = [r["evaluator_probs"] for r in ok]
    return {
        "images": len(ok),
        "p0_median": _median([c[0] for c in curves]),
        "pT_median": _median([c[-1] for c in curves]),
        "spearman_median": _median([r["spearman"] for r in ok]),
        "identical_fraction": _mean([float(r["identical_outside_roi"]) for r in ok]),
        "guide_pT_median": _median([r["guide_probs"][-1] for r in ok if "guide_probs" in r]),
        "reached_fraction": _mean([float(r["reached"]) for r in ok if "reached" in r]),
        "curve": curve_band(curves),
    }


def _target(name: str, value: float, goal: str, met: bool) -> dict:
    return {"target": name, "value": value, "goal": goal, "met": bool(met)}


def check_targets(
    methods: Mapping[str, Mapping], native: Mapping, targets: Targets = Targets()
) -> list[dict]:
    """The issue's targets for one disease, each ``{"target", "value", "goal", "met"}``.

    "LDEdit ahead" compares medians on the generator frames: LDEdit's end probability above the
    baseline's while its background change (median mean |change| outside the ROI) is not larger.
    """
    ld = methods.get(Method.LDEDIT.value)
    out = [
        _target(
            "median p0 (native)",
            native["p0_median"],
            f"<= {targets.p0_max}",
            native["p0_median"] <= targets.p0_max,
        ),
        _target(
            "median pT (native)",
            native["pT_median"],
            f">= {targets.pT_min}",
            native["pT_median"] >= targets.pT_min,
        ),
        _target(
            "median Spearman (native)",
            native["spearman_median"],
            f">= {targets.spearman_min}",
            native["spearman_median"] >= targets.spearman_min,
        ),
    ]
    if ld is not None:
        ssim = ld["background_ssim_median"]
        out.append(
            _target(
                "median background SSIM (generator)",
                ssim,
                f">= {targets.background_ssim_min}",
                ssim >= targets.background_ssim_min,
            )
        )
    out.append(
        _target(
            "bit-identical outside ROI (native)",
            native["identical_fraction"],
            f">= {targets.identical_min:.0%}",
            native["identical_fraction"] >= targets.identical_min,
        )
    )
    if ld is not None:
        for method in BASELINES:
            other = methods.get(method.value)
            if other is None:
                continue
            ahead = ld["pT_median"] > other["pT_median"]
            quieter = ld["background_change_median"] <= other["background_change_median"]
            out.append(
                _target(
                    f"ahead of {method.label}",
                    ld["pT_median"] - other["pT_median"],
                    "pT higher at <= background change",
                    ahead and quieter,
                )
                | {"background_change": [ld["background_change_median"], other["background_change_median"]]}
            )
    return out
