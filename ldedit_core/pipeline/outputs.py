"""Write a :class:`FollowUps` result as a folder, all or nothing.

Layout of ``out``::

    followups/followup_001.dcm ...   synthetic follow-up studies (SC by default)
    roi.nrrd                         the ROI used, at the source's size
    roi_seg.dcm                      the ROI as a DICOM SEG referencing the source (DICOM sources only)
    strip.png, probabilities.png     the sequence and its probabilities
    summary.json                     what was asked, what was reached, timings

Everything is written into a hidden temporary folder beside ``out`` and renamed into place at the end, so
an interrupted or failed run leaves no partial output; an existing non-empty ``out`` is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from ldedit_core.errors import InputError
from ldedit_core.io import write_followups
from ldedit_core.io.roi_write import write_roi_nrrd, write_roi_seg
from ldedit_core.pipeline.figures import save_probability_plot, save_strip
from ldedit_core.pipeline.followups import FollowUps
from ldedit_core.progress import ProgressCallback, check_cancel, report


def write_outputs(
    result: FollowUps,
    out: str | os.PathLike,
    *,
    interval_days: float = 90.0,
    iod: str = "sc",
    extra_summary: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> dict[str, Any]:
    """Write ``result`` under ``out`` (see the module docstring); returns the paths written, by kind.

    Raises:
        InputError: ``out`` exists and is not an empty folder.
        ldedit_core.progress.Cancelled: ``cancel`` was set; nothing is left behind.
    """
    out = check_output_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        paths = _write_all(result, tmp, interval_days, iod, extra_summary or {}, progress, cancel)
        check_cancel(cancel)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {kind: _moved(value, tmp, out) for kind, value in paths.items()}


def check_output_folder(out: str | os.PathLike) -> Path:
    """``out`` as a Path if it is new or an empty folder (call it before long work, to fail early).

    Raises:
        InputError: it exists and is a file or a non-empty folder (which is never touched).
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("output folder exists and is not empty; choose another --out", out)
    return out


def _moved(value: Any, tmp: Path, out: Path) -> Any:
    if isinstance(value, list):
        return [_moved(v, tmp, out) for v in value]
    return out / Path(value).relative_to(tmp) if value is not None else None


def _write_all(result, tmp, interval_days, iod, extra, progress, cancel) -> dict[str, Any]:
    src = result.source
    verb = "regression" if result.regress else "progression"
    report(progress, "writing", 0.0, "writing DICOM follow-ups")
    dicoms = write_followups(
        src,
        result.frames,
        tmp / "followups",
        interval_days=interval_days,
        description=f"{result.disease} {verb}",
        iod=iod,
        derivation=(
            f"LDEdit: {result.disease} {verb} toward guide probability {result.target:g} inside a "
            f"{'automatic' if result.automatic_roi else 'painted'} ROI; outside it the source pixels"
        ),
    )
    check_cancel(cancel)
    report(progress, "writing", 0.5, "writing ROI and figures")
    roi_nrrd = write_roi_nrrd(result.roi, tmp / "roi.nrrd", radiograph=src)
    roi_seg = None
    if src.format == "dicom" and src.dataset is not None:
        roi_seg = write_roi_seg(
            result.roi,
            src,
            tmp / "roi_seg.dcm",
            label=f"LDEdit ROI ({result.disease})",
            algorithm_type="AUTOMATIC" if result.automatic_roi else "MANUAL",
        )
    probs = result.evaluator_probs
    strip = save_strip(
        [src.pixels, *result.frames],
        tmp / "strip.png",
        labels=[
            f"{'source' if t == 0 else f'+{t * interval_days:g} d'}  p={p:.2f}" for t, p in enumerate(probs)
        ],
        roi=result.roi,
    )
    plot = save_probability_plot(
        {"evaluator (output images)": probs, "guide (steers; not a measure)": result.guide_probs},
        tmp / "probabilities.png",
        title=f"{result.disease} {verb}",
        target=result.target,
    )
    summary = {
        **result.summary(),
        "interval_days": interval_days,
        "source": str(src.path) if src.path else None,
        "synthetic": "SYNTHETIC - NOT FOR DIAGNOSTIC USE. Research use only.",
        **extra,
    }
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    report(progress, "writing", 1.0, "written")
    return {
        "followups": dicoms,
        "roi_nrrd": roi_nrrd,
        "roi_seg": roi_seg,
        "strip": strip,
        "plot": plot,
        "summary": tmp / "summary.json",
    }
