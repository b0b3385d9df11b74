"""Labelled chest radiograph data sets: CheXpert, NIH ChestX-ray14, MIMIC-CXR-JPG, a generic CSV, phantoms.

Every format is reduced to :class:`Record` (an image file and one label per canonical disease of
``ldedit_core.phantoms.DISEASES``: 1 present, 0 absent, NaN unknown) and then to tensors by
:func:`load_labelled_images`. The folder written by ``ldedit phantoms --format chexpert`` is CheXpert.

Format detection (:func:`detect_format`): a folder with ``train.csv`` is CheXpert, one with
``Data_Entry_2017.csv`` NIH, one with ``mimic-cxr-2.0.0-metadata.csv`` MIMIC-CXR-JPG; a ``.csv`` file is
the generic format (``path`` column plus a 0/1 column per disease), unless its header is CheXpert's or NIH's.

Uncertain labels (-1 in CheXpert and MIMIC) follow ``uncertainty``: ``"zeros"`` (the default: absent, so
labels stay binary), ``"ones"`` (present) or ``"ignore"`` (NaN: masked in the loss and in AUROC).
Blank labels are 0 (not mentioned). Only frontal views (PA/AP) are kept.

Pixels: read with :func:`ldedit_core.io.read_radiograph` (DICOM, PNG, JPEG, ...), padded to a centred square
with zeros (air) so that the whole field, costophrenic angles and apices included, survives, then
area-resampled to ``resolution`` and scaled from [0, 1] to 0..255 with MONAI array transforms. Unreadable
files are skipped with a warning naming the file, and counted.

Example:
    >>> images, labels = load_labelled_images("CheXpert-v1.0-small", 64, limit=1000)
    >>> images.shape, labels.shape
    (torch.Size([1000, 1, 64, 64]), torch.Size([1000, 4]))
"""

from __future__ import annotations

import csv
import difflib
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ldedit_core.errors import InputError
from ldedit_core.phantoms import DISEASES

LOGGER = logging.getLogger(__name__)

FORMATS = ("chexpert", "nih", "mimic", "generic")
UNCERTAINTY = ("zeros", "ones", "ignore")
#: CheXpert / MIMIC-CXR column of each canonical disease.
CHEXPERT_COLUMNS = {
    "cardiomegaly": "Cardiomegaly",
    "effusion": "Pleural Effusion",
    "edema": "Edema",
    "nodule": "Lung Lesion",
}
#: NIH ChestX-ray14 finding -> canonical disease (Mass and Nodule are both focal lesions).
NIH_FINDINGS = {"Cardiomegaly": "cardiomegaly", "Effusion": "effusion", "Edema": "edema", "Nodule": "nodule"}
NIH_FINDINGS["Mass"] = "nodule"
FRONTAL_VIEWS = ("PA", "AP")
MIMIC_METADATA = "mimic-cxr-2.0.0-metadata.csv"
MIMIC_LABELS = "mimic-cxr-2.0.0-chexpert.csv"
NIH_CSV = "Data_Entry_2017.csv"


@dataclass(frozen=True)
class Record:
    """One labelled image: its file and ``{disease: 1.0 | 0.0 | nan}`` for every canonical disease."""

    path: Path
    labels: dict[str, float] = field(hash=False)

    def label_vector(self) -> list[float]:
        return [self.labels.get(d, math.nan) for d in DISEASES]


def _choice(name: str, value: str, options: Iterable[str]) -> str:
    options = tuple(options)
    if value not in options:
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{name}: expected one of {options}, got {value!r}{hint}")
    return value


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read the CSV file ({exc})", path) from exc


def _need(rows: list[dict[str, str]], columns: Iterable[str], path: Path) -> None:
    header = set(rows[0]) if rows else set()
    missing = [c for c in columns if c not in header]
    if rows and missing:
        raise InputError(f"missing column(s) {missing}", path)


def _label(value: str | None, uncertainty: str, where: str) -> float:
    """A CheXpert-style label cell: blank 0, 1 present, 0 absent, -1 by ``uncertainty``."""
    text = (value or "").strip()
    if not text:
        return 0.0
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"label {text!r} is not 1, 0, -1 or blank", where) from None
    if number == 1.0 or number == 0.0:
        return number
    if number == -1.0:
        return {"zeros": 0.0, "ones": 1.0, "ignore": math.nan}[uncertainty]
    raise InputError(f"label {text!r} is not 1, 0, -1 or blank", where)


def chexpert_records(root: str | Path, *, split: str = "train", uncertainty: str = "zeros") -> list[Record]:
    """CheXpert (or the phantom CheXpert layout): frontal images of ``split`` (train, valid or all).

    ``Path`` cells are relative to ``root`` (phantoms) or start with the data set's own folder name
    (CheXpert's "CheXpert-v1.0-small/train/..."), which is then dropped.
    """
    root = Path(root)
    _choice("split", split, ("train", "valid", "all"))
    _choice("uncertainty", uncertainty, UNCERTAINTY)
    names = ["train.csv", "valid.csv"] if split == "all" else [f"{split}.csv"]
    records = []
    for name in names:
        csv_path = root / name
        if split == "all" and not csv_path.is_file():
            continue
        rows = _read_csv(csv_path) if csv_path.is_file() else None
        if rows is None:
            raise InputError(f"no {name}: not a CheXpert folder", root)
        _need(rows, ["Path", "Frontal/Lateral", *CHEXPERT_COLUMNS.values()], csv_path)
        for i, row in enumerate(rows, start=2):
            if row["Frontal/Lateral"].strip().lower() != "frontal":
                continue
            labels = {
                d: _label(row[col], uncertainty, f"{csv_path}, line {i}, {col}")
                for d, col in CHEXPERT_COLUMNS.items()
            }
            records.append(Record(_chexpert_path(root, row["Path"]), labels))
    return records


def _chexpert_path(root: Path, cell: str) -> Path:
    rel = Path(cell.strip())
    if rel.is_absolute() or (root / rel).exists() or len(rel.parts) < 2:
        return root / rel
    return root.joinpath(*rel.parts[1:])


def nih_records(root: str | Path) -> list[Record]:
    """NIH ChestX-ray14: ``Data_Entry_2017.csv`` and the PNGs under ``images*/`` (PA and AP views only).

    Labels are complete (no uncertainty): a finding not listed in "Finding Labels" is absent. A file not
    found under any ``images*`` folder keeps the path ``root/images/<name>`` and fails (is skipped) at
    loading.
    """
    root = Path(root)
    csv_path = root / NIH_CSV
    rows = _read_csv(csv_path)
    _need(rows, ["Image Index", "Finding Labels", "View Position"], csv_path)
    index = _nih_index(root)
    records = []
    for row in rows:
        if row["View Position"].strip().upper() not in FRONTAL_VIEWS:
            continue
        findings = {f.strip() for f in row["Finding Labels"].split("|")}
        present = {NIH_FINDINGS[f] for f in findings if f in NIH_FINDINGS}
        name = row["Image Index"].strip()
        labels = {d: float(d in present) for d in DISEASES}
        records.append(Record(index.get(name, root / "images" / name), labels))
    return records


def _nih_index(root: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for folder in sorted(root.glob("images*")):
        for sub in (folder, folder / "images"):
            if sub.is_dir():
                for entry in sub.iterdir():
                    if entry.is_file():
                        index.setdefault(entry.name, entry)
    return index


def mimic_records(root: str | Path, *, uncertainty: str = "zeros") -> list[Record]:
    """MIMIC-CXR-JPG: frontal (PA/AP) images of the metadata joined to the CheXpert labels by study.

    Files are ``root/files/p<first 2 digits>/p<subject_id>/s<study_id>/<dicom_id>.jpg``; a study without a
    row in the labels file is dropped (its labels are unknown).
    """
    root = Path(root)
    _choice("uncertainty", uncertainty, UNCERTAINTY)
    meta_path, labels_path = root / MIMIC_METADATA, root / MIMIC_LABELS
    meta, label_rows = _read_csv(meta_path), _read_csv(labels_path)
    _need(meta, ["dicom_id", "subject_id", "study_id", "ViewPosition"], meta_path)
    _need(label_rows, ["subject_id", "study_id", *CHEXPERT_COLUMNS.values()], labels_path)
    by_study = {(r["subject_id"].strip(), r["study_id"].strip()): (i, r) for i, r in enumerate(label_rows, 2)}
    records, unlabelled = [], 0
    for row in meta:
        if row["ViewPosition"].strip().upper() not in FRONTAL_VIEWS:
            continue
        subject, study = row["subject_id"].strip(), row["study_id"].strip()
        if (subject, study) not in by_study:
            unlabelled += 1
            continue
        line, lab = by_study[(subject, study)]
        labels = {
            d: _label(lab[col], uncertainty, f"{labels_path}, line {line}, {col}")
            for d, col in CHEXPERT_COLUMNS.items()
        }
        study_dir = root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"
        records.append(Record(study_dir / f"{row['dicom_id'].strip()}.jpg", labels))
    if unlabelled:
        LOGGER.warning("%s: %d frontal images have no labelled study and were dropped", root, unlabelled)
    return records


def generic_records(csv_path: str | Path, *, uncertainty: str = "zeros") -> list[Record]:
    """A CSV with a ``path`` column (relative to the CSV's folder, or absolute) and disease columns.

    Disease columns are named canonically (``cardiomegaly``, ...) or as in CheXpert (``Pleural Effusion``),
    in any case; values are 1/0 (blank 0, -1 by ``uncertainty``). A disease without a column is unknown
    (NaN) for every image; at least one disease column is required.
    """
    csv_path = Path(csv_path)
    _choice("uncertainty", uncertainty, UNCERTAINTY)
    rows = _read_csv(csv_path)
    header = {h.strip().lower(): h for h in (rows[0] if rows else {})}
    if rows and "path" not in header:
        raise InputError(f"no 'path' column (columns: {list(rows[0])})", csv_path)
    columns = {}
    for d in DISEASES:
        for name in (d, CHEXPERT_COLUMNS[d].lower()):
            if name in header:
                columns[d] = header[name]
                break
    if rows and not columns:
        raise InputError(f"no disease column; expected some of {list(DISEASES)}", csv_path)
    if rows and len(columns) < len(DISEASES):
        absent = sorted(set(DISEASES) - set(columns))
        LOGGER.warning("%s: no column for %s; those labels are unknown", csv_path, absent)
    records = []
    for i, row in enumerate(rows, start=2):
        labels = {d: math.nan for d in DISEASES}
        labels.update(
            {d: _label(row[col], uncertainty, f"{csv_path}, line {i}, {col}") for d, col in columns.items()}
        )
        path = Path(row[header["path"]].strip())
        records.append(Record(path if path.is_absolute() else csv_path.parent / path, labels))
    return records


def detect_format(path: str | Path) -> tuple[str, Path]:
    """The format of ``path`` and the folder or file its records are read from.

    Raises:
        InputError: if ``path`` is missing or matches no format.
    """
    path = Path(path)
    if path.is_dir():
        for name, fmt in (("train.csv", "chexpert"), (NIH_CSV, "nih"), (MIMIC_METADATA, "mimic")):
            if (path / name).is_file():
                return fmt, path
        raise InputError(f"no train.csv (CheXpert), {NIH_CSV} (NIH) or {MIMIC_METADATA} (MIMIC) here", path)
    if path.is_file() and path.suffix.lower() == ".csv":
        if path.name == NIH_CSV:
            return "nih", path.parent
        if path.name == MIMIC_METADATA:
            return "mimic", path.parent
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
        if "Frontal/Lateral" in header and path.name in ("train.csv", "valid.csv"):
            return "chexpert", path.parent
        return "generic", path
    reason = "not a data set folder or a .csv file" if path.exists() else "no such file or folder"
    raise InputError(reason, path)


def dataset_records(
    path: str | Path, fmt: str | None = None, *, uncertainty: str = "zeros", split: str = "train"
) -> list[Record]:
    """The records of the data set at ``path``, in ``fmt`` (one of :data:`FORMATS`) or detected.

    Args:
        path: a data set folder, or a CSV file.
        fmt: force a format; ``None`` detects it (:func:`detect_format`).
        uncertainty: policy for uncertain (-1) labels: zeros, ones or ignore.
        split: CheXpert only: train, valid or all.
    """
    if fmt is None:
        fmt, where = detect_format(path)
    else:
        fmt, where = _choice("fmt", fmt, FORMATS), Path(path)
        if not where.exists():
            raise InputError("no such file or folder", where)
    folder = where if where.is_dir() else where.parent
    if fmt == "chexpert":
        return chexpert_records(folder, split=split, uncertainty=uncertainty)
    if fmt == "nih":
        return nih_records(folder)
    if fmt == "mimic":
        return mimic_records(folder, uncertainty=uncertainty)
    if not where.is_file():
        raise InputError("the generic format needs a .csv file", where)
    return generic_records(where, uncertainty=uncertainty)


def image_transform(resolution: int) -> Callable[[np.ndarray], torch.Tensor]:
    """MONAI array transforms: ``[H, W]`` pixels in [0, 1] -> float ``[1, R, R]`` in 0..255.

    The image is padded with zeros to a centred square (nothing is cropped), then area-resampled.
    """
    from monai.transforms import Compose, EnsureChannelFirst, Resize, ScaleIntensityRange

    return Compose(
        [
            EnsureChannelFirst(channel_dim="no_channel"),
            _pad_square,
            Resize(spatial_size=(resolution, resolution), mode="area"),
            ScaleIntensityRange(a_min=0.0, a_max=1.0, b_min=0.0, b_max=255.0, clip=True),
        ]
    )


def _pad_square(img: torch.Tensor) -> torch.Tensor:
    """Zero-pad a ``[C, H, W]`` image symmetrically to ``[C, S, S]``, ``S = max(H, W)``."""
    from monai.transforms import SpatialPad

    side = max(img.shape[1:])
    return SpatialPad(spatial_size=(side, side), method="symmetric", mode="constant")(img)


@dataclass
class LoadedImages:
    """What :func:`load_records` loaded: images, labels, their files, and the files it skipped (with why)."""

    images: torch.Tensor
    labels: torch.Tensor
    paths: list[Path]
    skipped: list[tuple[Path, str]]


def load_records(
    records: list[Record],
    resolution: int,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> LoadedImages:
    """Read, square, resize and quantise every record's image; unreadable files are skipped and counted.

    Raises:
        InputError: if no image could be read.
    """
    if not isinstance(resolution, int) or resolution < 8:
        raise ValueError(f"resolution: expected an integer >= 8, got {resolution!r}")
    from ldedit_core.io import read_radiograph

    transform = image_transform(resolution)
    images, labels, paths, skipped = [], [], [], []
    for i, rec in enumerate(records):
        try:
            pixels = read_radiograph(rec.path).pixels
            img = torch.as_tensor(np.asarray(transform(np.asarray(pixels, dtype=np.float32))))
            images.append(torch.round(img).to(torch.uint8))
            labels.append(rec.label_vector())
            paths.append(rec.path)
        except Exception as exc:  # any broken file is skipped, never the whole data set
            LOGGER.warning("skipping %s: %s", rec.path, exc)
            skipped.append((rec.path, str(exc)))
        if progress is not None:
            progress(i + 1, len(records))
    if skipped:
        LOGGER.warning("%d of %d images could not be read and were skipped", len(skipped), len(records))
    if not images:
        where = records[0].path.parent if records else None
        raise InputError(f"no readable images ({len(records)} listed, {len(skipped)} unreadable)", where)
    return LoadedImages(torch.stack(images), torch.tensor(labels, dtype=torch.float32), paths, skipped)


def load_labelled_images(
    path: str | Path,
    resolution: int,
    fmt: str | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    uncertainty: str = "zeros",
) -> tuple[torch.Tensor, torch.Tensor]:
    """A labelled data set as ``uint8 [N, 1, R, R]`` images and float32 ``[N, len(DISEASES)]`` labels.

    Args:
        path: data set folder or CSV file (see :func:`detect_format`).
        resolution: output side ``R``.
        fmt: one of :data:`FORMATS`, or ``None`` to detect it.
        limit: read only the first ``limit`` records.
        progress: called with ``(done, total)`` after each file.
        uncertainty: zeros, ones or ignore (NaN labels) for uncertain CheXpert/MIMIC labels.

    Raises:
        InputError: unknown layout, unreadable CSV, or no readable image at all.
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit: expected a positive integer or None, got {limit!r}")
    records = dataset_records(path, fmt, uncertainty=uncertainty)
    if not records:
        raise InputError("the data set lists no (frontal) images", path)
    loaded = load_records(records[:limit] if limit else records, resolution, progress=progress)
    return loaded.images, loaded.labels
