"""``write_followups``: write edited frames of a radiograph as synthetic follow-up DICOM studies.

One file per follow-up, each a new study of the source's patient, dated ``interval_days`` after the
previous one, marked synthetic in every way DICOM offers (see :mod:`synthetic_marking`), and displaying
exactly like the source: same pixel layout, Modality LUT and VOI LUT, with unedited pixels bit-identical.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import math
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from numbers import Real
from pathlib import Path

import numpy as np
from pydicom.uid import SecondaryCaptureImageStorage

from ldedit_core.io.followup_header import patient_module, shifted_dates, study_datetime
from ldedit_core.io.followup_iods import MIRRORABLE, FollowupIds, build_mirror, build_sc, contribution_time
from ldedit_core.io.followup_pixels import pixel_layout, stored_words
from ldedit_core.io.radiograph import Radiograph
from ldedit_core.io.synthetic_marking import FollowupStep, check_text, ensure_charset
from ldedit_core.io.uids import DEFAULT_UID_ROOT, new_uid

LOGGER = logging.getLogger(__name__)
MAX_SERIES_NUMBER = 2**31 - 1
NAME_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class FollowupIOD(str, Enum):
    """Which IOD the follow-ups are written as.

    ``SC``: Secondary Capture Image (Conversion Type SYN), for any source.
    ``SOURCE``: the source's own IOD: CR, DX For Presentation, or Secondary Capture for an SC source.
    """

    SC = "sc"
    SOURCE = "source"


def parse_iod(value: str | FollowupIOD) -> FollowupIOD:
    """``value`` as a :class:`FollowupIOD`.

    Raises:
        TypeError: not a string.
        ValueError: an unknown name, with the closest valid one.
    """
    if isinstance(value, FollowupIOD):
        return value
    if not isinstance(value, str):
        raise TypeError(f"iod must be a str or FollowupIOD, got {type(value).__name__} {value!r}")
    names = [m.value for m in FollowupIOD]
    if value in names:
        return FollowupIOD(value)
    close = difflib.get_close_matches(value.lower(), names, n=1, cutoff=0.4)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"iod must be one of {names}, got {value!r}{hint}")


def write_followups(
    source: Radiograph,
    frames: Sequence[np.ndarray],
    out_dir: str | Path,
    *,
    interval_days: float = 90.0,
    description: str,
    iod: str | FollowupIOD = FollowupIOD.SC,
    uid_root: str = DEFAULT_UID_ROOT,
    derivation: str = "",
    series_number_start: int = 1,
    patient: Mapping[str, object] | None = None,
    origin: dt.datetime | None = None,
    name_prefix: str = "followup",
) -> list[Path]:
    """Write each edited frame as a synthetic follow-up study of the source's patient.

    Follow-up ``t`` (1-based) is ``<out_dir>/<name_prefix>_<t>.dcm`` (``t`` zero-padded to 3 digits): a new
    study (new Study, Series and SOP Instance UIDs under ``uid_root``) dated ``t * interval_days`` after
    the source study, with SeriesNumber ``series_number_start + t - 1``. Every file is marked synthetic:
    ImageType DERIVED\\SECONDARY, Synthetic Data YES, Content Qualification RESEARCH, a SeriesDescription
    starting ``SYNTHETIC - NOT FOR DIAGNOSTIC USE``, a DerivationDescription, a SourceImageSequence
    referencing the source (DICOM sources only) and a ContributingEquipmentSequence item naming LDEdit as
    Modifying Equipment. BurnedInAnnotation is NO unless the source says YES (its pixels are kept).

    The pixel data is ``source.to_stored(frame)`` in the source's own layout (Rows, Columns, BitsAllocated,
    BitsStored, PixelRepresentation, PhotometricInterpretation) with its Modality and VOI LUTs and pixel
    spacing, written uncompressed (Explicit VR Little Endian): a frame equal to ``source.pixels`` reproduces
    the source's pixel data exactly. A source without a VOI LUT gets a window equal to the range LDEdit's
    reader displayed it with. Non-DICOM sources: see :mod:`followup_pixels`; they get an anonymous
    synthetic patient (PatientName ``LDEDIT^SYNTHETIC``, PatientID from a hash of the source pixels).

    Nothing is written if any output file already exists; if writing fails, the files this call wrote are
    removed. The source file is never opened.

    Args:
        source: the radiograph the frames were edited from.
        frames: follow-ups 1..N, each a float array of the shape of ``source.pixels`` with values in [0, 1]
            (same domain as ``source.pixels``).
        out_dir: output folder; created if missing.
        interval_days: days between consecutive studies (> 0).
        description: the disease or edit, e.g. ``"cardiomegaly progression"``; goes into the Study and
            Series Descriptions (cut to 64 characters) and, in full, the ImageComments.
        iod: ``"sc"`` (default): Secondary Capture, for any source. ``"source"``: mirror the source's IOD, a
            copy of its header with new identity, dates, descriptions and marking; allowed for CR and DX For
            Presentation sources (and SC sources, written as ``"sc"``). A DX For Processing source is
            refused: its data is not meant for display, and relabelling it For Presentation would be false.
        uid_root: root of the new UIDs (ends with ``.``, at most 40 characters).
        derivation: method and parameters, for the DerivationDescription (cut to 1024 characters).
        series_number_start: SeriesNumber of follow-up 1.
        patient: Patient-module keywords overriding the source's (or the synthetic patient), e.g.
            ``{"PatientID": "TRIAL-007", "PatientName": "TRIAL^007"}``.
        origin: the time the timeline counts from; default the source's StudyDate/StudyTime, or the time
            of the call for a source without one (e.g. PNG). Other dates of the source study keep their
            offsets from it.
        name_prefix: file name prefix (letters, digits, ``_.-``).

    Returns:
        The written files, follow-up 1 first.

    Raises:
        TypeError: an argument of the wrong type (``source``, ``frames``, ``iod``, ...).
        ValueError: bad frames (wrong shape, not finite, outside [0, 1]), bad options, or ``iod="source"``
            for a source whose IOD cannot be mirrored.
        FileExistsError: an output file already exists (nothing is written).
        InputError: the source's pixel layout cannot be written (BitsAllocated not 8 or 16).

    Example:
        >>> rg = read_radiograph("cxr.dcm")
        >>> paths = write_followups(rg, [edit(rg.pixels, s) for s in (0.3, 0.6, 1.0)], "out",
        ...                         description="cardiomegaly progression", derivation="LDEdit v0.1, w=2")
        >>> [p.name for p in paths]
        ['followup_001.dcm', 'followup_002.dcm', 'followup_003.dcm']
    """
    if not isinstance(source, Radiograph):
        raise TypeError(f"source must be a Radiograph, got {type(source).__name__}")
    frames = _check_frames(frames, source.pixels.shape)
    days = _check_interval(interval_days)
    description = check_text(description, "description", allow_empty=False)
    derivation = check_text(derivation, "derivation", allow_empty=True)
    new_uid(uid_root)  # raises ValueError naming uid_root when it is malformed
    _check_series_number(series_number_start, len(frames))
    if origin is not None and not isinstance(origin, dt.datetime):
        raise TypeError(f"origin must be a datetime.datetime or None, got {type(origin).__name__}")
    if origin is not None and origin.tzinfo is not None:
        raise ValueError(f"origin must be a naive local datetime like DICOM dates, got {origin.isoformat()}")
    if not isinstance(name_prefix, str) or not NAME_PREFIX.match(name_prefix):
        raise ValueError(f"name_prefix must be 1-64 letters, digits, '_', '.' or '-', got {name_prefix!r}")
    build = build_sc if _mirrors(source, parse_iod(iod)) is None else build_mirror
    layout = pixel_layout(source)
    patient_ds = patient_module(source, patient)
    paths = _output_paths(Path(out_dir), name_prefix, len(frames))
    created = contribution_time()
    origin = origin or study_datetime(source.dataset) or created
    written: list[Path] = []
    try:
        for t, frame in enumerate(frames, start=1):
            step = FollowupStep(t, len(frames), t * days, description, derivation, created)
            ids = FollowupIds(
                new_uid(uid_root), new_uid(uid_root), new_uid(uid_root), series_number_start + t - 1
            )
            dates = shifted_dates(source.dataset, origin, dt.timedelta(days=t * days))
            ds = build(source, stored_words(source, frame, layout), layout, ids, step, patient_ds, dates)
            ensure_charset(ds, [description, derivation, *_texts(patient)])
            ds.save_as(paths[t - 1], enforce_file_format=True, overwrite=False)
            written.append(paths[t - 1])
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    LOGGER.info("wrote %d synthetic follow-ups of %s to %s", len(written), source.path or "an image", out_dir)
    return written


def _mirrors(source: Radiograph, iod: FollowupIOD) -> str | None:
    """The IOD name to mirror, or None to write Secondary Capture."""
    if iod is FollowupIOD.SC:
        return None
    if source.dataset is None:
        raise ValueError(
            f"iod='source' needs a DICOM source, but this one is {source.format!r}: use iod='sc'"
        )
    sop_class = str(source.dataset.get("SOPClassUID", ""))
    if sop_class == SecondaryCaptureImageStorage:
        return None
    if sop_class not in MIRRORABLE:
        raise ValueError(
            f"iod='source' cannot mirror SOP Class {sop_class or '(none)'} (only CR, DX For Presentation and "
            "Secondary Capture; a DX For Processing image is not meant for display): use iod='sc'"
        )
    return MIRRORABLE[sop_class]


def _texts(patient: Mapping[str, object] | None) -> list[str]:
    return [str(v) for v in (patient or {}).values() if isinstance(v, str)]


def _check_frames(frames: Sequence[np.ndarray], shape: tuple[int, ...]) -> list[np.ndarray]:
    if isinstance(frames, (str, bytes)) or not hasattr(frames, "__len__"):
        raise TypeError(f"frames must be a sequence of 2-D arrays, got {type(frames).__name__}")
    out = [np.asarray(f) for f in frames]
    if not out:
        raise ValueError("frames is empty: give at least one follow-up frame")
    for i, frame in enumerate(out):
        if frame.dtype.kind not in "iuf":
            raise TypeError(f"frames[{i}] must hold real numbers, got dtype {frame.dtype}")
        if frame.shape != shape:
            raise ValueError(f"frames[{i}] has shape {frame.shape}, expected the source's {shape}")
        if not np.isfinite(frame).all():
            raise ValueError(f"frames[{i}] has NaN or infinite values")
        lo, hi = float(frame.min()), float(frame.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"frames[{i}] has values in [{lo:g}, {hi:g}], expected [0, 1] (clip it first)")
    return out


def _check_interval(interval_days: float) -> float:
    if isinstance(interval_days, bool) or not isinstance(interval_days, Real):
        raise TypeError(f"interval_days must be a number, got {type(interval_days).__name__}")
    days = float(interval_days)
    if not math.isfinite(days) or days <= 0:
        raise ValueError(f"interval_days must be a finite number > 0, got {interval_days!r}")
    return days


def _check_series_number(start: int, count: int) -> None:
    if isinstance(start, bool) or not isinstance(start, int):
        raise TypeError(f"series_number_start must be an int, got {type(start).__name__}")
    if not 1 <= start <= MAX_SERIES_NUMBER - count + 1:
        raise ValueError(f"series_number_start must be 1..{MAX_SERIES_NUMBER - count + 1}, got {start}")


def _output_paths(out_dir: Path, prefix: str, count: int) -> list[Path]:
    """The output files, after checking that none exists; ``out_dir`` is created."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir {str(out_dir)!r} exists and is not a folder")
    width = max(3, len(str(count)))
    paths = [out_dir / f"{prefix}_{t:0{width}d}.dcm" for t in range(1, count + 1)]
    existing = [str(p) for p in paths if p.exists() or p.is_symlink()]
    if existing:
        raise FileExistsError(f"refusing to overwrite existing follow-up files: {', '.join(existing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    return paths
