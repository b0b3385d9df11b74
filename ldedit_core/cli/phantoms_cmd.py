"""``ldedit phantoms``: write a population of synthetic chest radiographs as CheXpert or DICOM.

``--format chexpert`` writes CheXpert's layout under DIR::

    DIR/train/patient00001/study1/view1_frontal.png
    DIR/train.csv

``train.csv`` has CheXpert's columns (Path, Sex, Age, Frontal/Lateral, AP/PA and the 14 observations,
1.0 present / 0.0 absent) followed by ground-truth columns (``gt_*``: severities, CTR, phantom seed).
Unlike CheXpert, whose paths start with the dataset folder ("CheXpert-v1.0-small/train/..."), ``Path``
is relative to DIR itself. PNGs are 8-bit like CheXpert's JPEGs unless ``--bits 16``; ``--masks`` adds
``DIR/masks/patient00001/study1/<structure>.png`` for every mask.

``--format dicom`` writes one CR study per phantom, ``DIR/patient00001.dcm``, with a made-up patient
identity, through ``ldedit_core.io.write_radiograph_dicom``, and ``DIR/phantoms.csv`` with the file,
identity and ground truth of each.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from ldedit_core.io import write_radiograph_dicom
from ldedit_core.phantoms import CHEXPERT_COLUMNS, SEVERITY_ARGS, Phantom, chexpert_labels, sample_population

FIELD_OF_VIEW_MM = 400.0
"""Width of the phantom's field of view (2 normalised units of 20 cm)."""
GT_COLUMNS: tuple[str, ...] = (*(f"gt_{name}" for name in SEVERITY_ARGS), "gt_ctr", "gt_seed")
_FIRST = ("Alex", "Kim", "Robin", "Sam", "Jo", "Charlie", "Dana", "Lee", "Noa", "Ari", "Mika", "Eli")
_LAST = ("Phantom", "Synth", "Testcase", "Example", "Sample", "Model", "Demo", "Replica")
_STUDY_DATE = dt.date(2026, 1, 1)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``phantoms`` on the main CLI's subparsers."""
    p = subparsers.add_parser("phantoms", help="write synthetic chest radiograph phantoms (CheXpert/DICOM)")
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument("--n", type=int, default=16, help="number of phantoms (default 16)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels, 64..2048 (default 256)")
    p.add_argument("--format", choices=("chexpert", "dicom"), default="chexpert", help="output layout")
    p.add_argument("--seed", type=int, default=0, help="population seed (default 0)")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8, help="PNG bit depth (chexpert format)")
    p.add_argument("--masks", action="store_true", help="also write every mask as PNG (chexpert format)")
    p.set_defaults(func=run)


def _gt(phantom: Phantom) -> dict[str, Any]:
    params = phantom.params
    row: dict[str, Any] = {f"gt_{name}": round(params[name], 6) for name in SEVERITY_ARGS}
    row["gt_ctr"] = round(params["ctr"], 6)
    row["gt_seed"] = params["seed"]
    return row


def _save_png(array: np.ndarray, path: Path, bits: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.dtype == bool:
        Image.fromarray(array.astype(np.uint8) * 255).save(path)
    elif bits == 16:
        Image.fromarray(np.round(array * 65535).astype(np.uint16)).save(path)
    else:
        Image.fromarray(np.round(array * 255).astype(np.uint8)).save(path)


def _identity(index: int, phantom: Phantom) -> dict[str, str]:
    anatomy = phantom.params["anatomy"]
    seed = phantom.params["seed"]
    birth = _STUDY_DATE.replace(year=_STUDY_DATE.year - anatomy["age"]) - dt.timedelta(days=seed % 365)
    return {
        "patient_name": f"{_LAST[seed % len(_LAST)]}^{_FIRST[(seed // 7) % len(_FIRST)]}",
        "patient_id": f"PHANTOM{index:05d}",
        "patient_birth_date": birth.strftime("%Y%m%d"),
        "patient_sex": anatomy["sex"],
        "study_date": (_STUDY_DATE + dt.timedelta(days=index)).strftime("%Y%m%d"),
    }


def _check(args: argparse.Namespace) -> None:
    if args.n < 1:
        raise ValueError(f"--n: expected at least 1 phantom, got {args.n}")
    if not 64 <= args.size <= 2048:
        raise ValueError(f"--size: expected 64..2048 pixels, got {args.size}")
    if args.seed < 0:
        raise ValueError(f"--seed: expected a non-negative integer, got {args.seed}")


def run(args: argparse.Namespace) -> int:
    """Write ``args.n`` phantoms to ``args.out`` in ``args.format``; return the exit status (0)."""
    _check(args)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    population = sample_population(args.n, args.seed, size=args.size)
    bar = tqdm(population, total=args.n, desc="phantoms", unit="img")
    if args.format == "chexpert":
        _write_chexpert(bar, out, args.bits, args.masks)
    else:
        _write_dicom(bar, out)
    return 0


def _write_chexpert(phantoms: Any, out: Path, bits: int, masks: bool) -> None:
    header = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_COLUMNS, *GT_COLUMNS]
    with open(out / "train.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        for i, phantom in enumerate(phantoms, start=1):
            rel = Path("train") / f"patient{i:05d}" / "study1" / "view1_frontal.png"
            _save_png(phantom.image, out / rel, bits)
            if masks:
                for name, mask in phantom.masks.items():
                    _save_png(mask, out / "masks" / f"patient{i:05d}" / "study1" / f"{name}.png", 8)
            anatomy = phantom.params["anatomy"]
            row = {
                "Path": rel.as_posix(),
                "Sex": "Female" if anatomy["sex"] == "F" else "Male",
                "Age": anatomy["age"],
                "Frontal/Lateral": "Frontal",
                "AP/PA": "PA",
            }
            row.update(chexpert_labels(phantom, all_columns=True))
            row.update(_gt(phantom))
            writer.writerow(row)


def _write_dicom(phantoms: Any, out: Path) -> None:
    header = [
        "File",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        *CHEXPERT_COLUMNS,
        *GT_COLUMNS,
    ]
    with open(out / "phantoms.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        for i, phantom in enumerate(phantoms, start=1):
            ident = _identity(i, phantom)
            path = write_radiograph_dicom(
                phantom.image,
                out / f"patient{i:05d}.dcm",
                **ident,
                pixel_spacing_mm=FIELD_OF_VIEW_MM / phantom.image.shape[0],
                description="LDEdit synthetic phantom chest PA",
            )
            row = {
                "File": path.name,
                "PatientName": ident["patient_name"],
                "PatientID": ident["patient_id"],
                "PatientBirthDate": ident["patient_birth_date"],
                "PatientSex": ident["patient_sex"],
                "StudyDate": ident["study_date"],
            }
            row.update(chexpert_labels(phantom, all_columns=True))
            row.update(_gt(phantom))
            writer.writerow(row)
