"""What a finished ``ldedit edit`` left in its output folder, ready to show in Slicer.

Layout (``ldedit_core/pipeline/outputs.py``): ``followups/followup_001.dcm ...``, ``roi.nrrd``,
``roi_seg.dcm`` (DICOM sources only), ``strip.png``, ``probabilities.png`` and ``summary.json``. ldedit
writes the folder all at once, so a folder with ``summary.json`` is complete; :func:`load_results` still
checks that the files and the summary agree. Frame 0 is the source, frames 1..T the follow-ups.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FOLLOWUP_NAME = re.compile(r"^followup_(\d+)\.dcm$")
#: Only follow-ups of a DICOM source reference it; the others hold the source stretched to BitsStored.
DICOM_SOURCE_MARK = "SourceImageSequence"


@dataclass
class EditResults:
    """One run's outputs. Per-frame lists have T+1 entries, frame 0 the source; ``followup_paths`` has T.

    Attributes:
        out_dir: the output folder.
        followup_paths: ``followups/*.dcm``, follow-up 1 first.
        probabilities: the independent evaluator's disease probability of each frame (summary
            ``evaluator_probs``: what the images show; frame 0 the source).
        guide_probabilities: the guide's (it steers the edit; not a measurement).
        days: days after the source study (``t * interval_days``).
        study_dates: DICOM StudyDate ``YYYYMMDD`` per frame; ``""`` where unknown (a non-DICOM source, or
            pydicom missing).
        disease, target, regress, reached: what was asked and whether the guide reached it.
        interval_days: days between studies.
        roi_path: ``roi.nrrd``, the ROI used; roi_seg_path: ``roi_seg.dcm`` or None.
        strip_path, plot_path: ``strip.png`` and ``probabilities.png`` (None if missing).
        summary: ``summary.json`` as read.
    """

    out_dir: Path
    followup_paths: list[Path]
    probabilities: list[float]
    guide_probabilities: list[float]
    days: list[float]
    study_dates: list[str]
    disease: str
    target: float
    regress: bool
    reached: bool
    interval_days: float
    roi_path: Path | None
    roi_seg_path: Path | None
    strip_path: Path | None
    plot_path: Path | None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def n_followups(self) -> int:
        return len(self.followup_paths)

    @property
    def status_message(self) -> str:
        """One line for the module's status label: where the follow-ups are, and why the target was missed."""
        if self.reached:
            return f"Done: follow-ups in {self.out_dir}"
        hint = self.summary.get("hint")
        why = f": {hint}" if hint else ""
        missed = f"Done, but {self.disease} did not reach target {self.target:g}{why}."
        return f"{missed} Follow-ups in {self.out_dir}"

    @property
    def source_path(self) -> str | None:
        """The input radiograph ldedit read (summary ``source``)."""
        return self.summary.get("source")


def load_results(out_dir: str | os.PathLike[str], *, read_dates: bool = True) -> EditResults:
    """Read ``out_dir`` of a finished ``ldedit edit``.

    Args:
        out_dir: the ``--out`` folder.
        read_dates: read each follow-up's StudyDate (pydicom, headers only); skipped if pydicom is missing.

    Raises:
        FileNotFoundError: no ``summary.json`` (the run did not finish, or another folder).
        ValueError: the summary and the follow-up files do not agree (a folder edited by hand).
    """
    out = Path(out_dir)
    summary_path = out / "summary.json"
    if not summary_path.is_file():
        raise FileNotFoundError(
            f"{summary_path} not found: {out} is not the output of a finished ldedit edit"
        )
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    followups = _followup_files(out / "followups")
    n = int(summary.get("followups", len(followups)))
    probs = [float(p) for p in summary.get("evaluator_probs", [])]
    guide = [float(p) for p in summary.get("guide_probs", [])]
    if len(followups) != n:
        raise ValueError(f"{out}: summary.json lists {n} follow-ups but followups/ holds {len(followups)}")
    for name, values in (("evaluator_probs", probs), ("guide_probs", guide)):
        if len(values) != n + 1:
            raise ValueError(f"{out}: summary.json {name} has {len(values)} values, expected {n + 1}")
    interval = float(summary.get("interval_days", 90.0))
    dates = [""] * (n + 1)
    if read_dates:
        dates = _study_dates(summary.get("source"), followups)
    return EditResults(
        out_dir=out,
        followup_paths=followups,
        probabilities=probs,
        guide_probabilities=guide,
        days=[t * interval for t in range(n + 1)],
        study_dates=dates,
        disease=str(summary.get("disease", "")),
        target=float(summary.get("target", float("nan"))),
        regress=bool(summary.get("regress", False)),
        reached=bool(summary.get("reached", False)),
        interval_days=interval,
        roi_path=_existing(out / "roi.nrrd"),
        roi_seg_path=_existing(out / "roi_seg.dcm"),
        strip_path=_existing(out / "strip.png"),
        plot_path=_existing(out / "probabilities.png"),
        summary=summary,
    )


def followup_arrays(
    results: EditResults,
    *,
    source_range: tuple[float, float] | str | None = "auto",
) -> list[np.ndarray]:
    """Each follow-up's pixels, float32 ``(rows, cols)``, on the source's value scale (pydicom, lazily).

    Follow-ups of a DICOM source keep its stored layout and Modality LUT: Rescale Slope/Intercept (or a
    Modality LUT) is applied, as Slicer's DICOM reader does. Follow-ups of a non-DICOM source (the NRRD a
    Slicer volume is handed over as) hold that source stretched from its own (min, max) to the full
    BitsStored range, so they are mapped back to ``source_range``.

    Args:
        results: from :func:`load_results`.
        source_range: ``(min, max)`` of the source's samples; ``"auto"`` reads them from the source NRRD
            named in the summary when it still exists; None leaves a non-DICOM source's follow-ups as stored.
    """
    import pydicom

    lo_hi = _source_range(results) if source_range == "auto" else source_range
    out = []
    for path in results.followup_paths:
        ds = pydicom.dcmread(os.fspath(path))
        values = _modality(ds, ds.pixel_array)
        if DICOM_SOURCE_MARK not in ds and lo_hi is not None:
            lo, hi = (float(v) for v in lo_hi)  # type: ignore[union-attr]
            full = float((1 << int(ds.BitsStored)) - 1)
            values = values / full * (hi - lo) + lo
        out.append(np.ascontiguousarray(values, dtype=np.float32))
    return out


# --- helpers ------------------------------------------------------------------------------------------------


def _followup_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    numbered = []
    for p in folder.iterdir():
        match = FOLLOWUP_NAME.match(p.name)
        if match and p.is_file():
            numbered.append((int(match.group(1)), p))
    return [p for _, p in sorted(numbered)]


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def _study_dates(source: Any, followups: list[Path]) -> list[str]:
    try:
        import pydicom
    except ImportError:
        return [""] * (len(followups) + 1)

    def date(path: Any) -> str:
        try:
            ds = pydicom.dcmread(os.fspath(path), stop_before_pixels=True)
        except Exception:  # not DICOM, unreadable or gone: the date is simply unknown
            return ""
        return str(ds.get("StudyDate", "") or "")

    source_date = date(source) if source and Path(source).is_file() else ""
    return [source_date, *(date(p) for p in followups)]


def _modality(ds: Any, stored: np.ndarray) -> np.ndarray:
    """Stored values through the Modality LUT (Rescale Slope/Intercept, or a table), as float64."""
    if "ModalityLUTSequence" in ds:
        try:
            from pydicom.pixels import apply_modality_lut
        except ImportError:  # pydicom < 3
            from pydicom.pixel_data_handlers.util import apply_modality_lut
        return np.asarray(apply_modality_lut(stored, ds), dtype=np.float64)
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    return stored.astype(np.float64) * slope + intercept


def _source_range(results: EditResults) -> tuple[float, float] | None:
    """(min, max) of a NRRD source named in the summary, if it is still there and pynrrd is installed."""
    source = results.source_path
    if not source or not Path(source).is_file():
        return None
    try:
        with open(source, "rb") as f:
            if f.read(4) != b"NRRD":
                return None
        import nrrd

        data, _ = nrrd.read(source)
    except Exception:  # unreadable or pynrrd missing: leave the stored values
        return None
    return float(np.min(data)), float(np.max(data))
