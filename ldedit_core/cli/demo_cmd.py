"""``ldedit demo`` (``make demo``): the whole job on what ships with LDEdit, CPU or GPU.

A phantom patient is written as a DICOM CR study and a heart-region ROI as NRRD, as a user would bring them;
both are read back through the real loaders; the shipped default bundle then synthesizes follow-ups with
cardiomegaly growing in that region (exactly what ``ldedit edit`` does); the outputs are checked: every
follow-up reads back, is marked synthetic, and keeps every pixel outside the ROI bit-identical.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

MARKER = ".ldedit-demo"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the end-to-end demo on a phantom patient")
    p.add_argument(
        "--out", type=Path, default=Path("demo-output"), help="output folder (default demo-output)"
    )
    p.add_argument("--size", type=int, default=512, help="phantom size in pixels (default 512)")
    p.add_argument("--followups", type=int, default=10, help="number of follow-up studies (default 10)")
    p.add_argument("--seed", type=int, default=7, help="phantom patient seed")
    p.add_argument("--disease", default="cardiomegaly", help="disease to grow (default cardiomegaly)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--bundle", default=None, help="bundle folder or name (default: the shipped default)")
    p.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    p.set_defaults(func=run)


def _prepare(out: Path) -> None:
    """Use ``out`` if it is new, empty, or an earlier demo's folder; never clear anything else."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise SystemExit(f"ldedit demo: {out} exists and is not an earlier demo's folder; choose --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by ldedit demo; safe to delete\n")


def demo_inputs(out: Path, *, seed: int, size: int, disease: str) -> tuple[Path, Path]:
    """Write the phantom source (DICOM CR) and the ROI (NRRD) a user would paint for ``disease``."""
    import nrrd

    from ldedit_core.evaluation import disease_roi
    from ldedit_core.io import write_radiograph_dicom
    from ldedit_core.phantoms import make_phantom

    ph = make_phantom(seed, size=size)
    source = write_radiograph_dicom(
        ph.image,
        out / "source" / "phantom_cr.dcm",
        bits_stored=12,
        patient_name="DEMO^PHANTOM",
        patient_id=f"LDEDIT-DEMO-{seed}",
        patient_birth_date="19580312",
        patient_sex="F",
        study_date="20260105",
        description="LDEdit demo phantom chest PA",
    )
    mask = disease_roi(ph, disease) > 0  # the region a user would paint for this disease
    roi = out / "source" / f"{disease}_roi.nrrd"
    nrrd.write(str(roi), mask.astype(np.uint8).T, {"space": "left-posterior-superior"})
    return source, roi


def run(args: argparse.Namespace) -> int:
    import pydicom

    from ldedit_core.cli.edit_cmd import _table, edit_and_write
    from ldedit_core.cli.progress_display import Progress
    from ldedit_core.io import read_radiograph
    from ldedit_core.io.roi_read import read_roi

    out: Path = args.out
    _prepare(out)
    source_path, roi_path = demo_inputs(out, seed=args.seed, size=args.size, disease=args.disease)
    image = read_radiograph(source_path)
    roi = read_roi(roi_path, image)
    progress = Progress(json_lines=args.json_progress)
    done = edit_and_write(
        image,
        roi,
        args.disease,
        out / "result",
        progress,
        n_followups=args.followups,
        bundle=args.bundle,
        device=args.device,
    )
    if done is None:
        print("ldedit demo: stopped; no result was written", file=sys.stderr)
        return 130
    result, paths = done
    outside = result.weights == 0
    for path in paths["followups"]:
        ds = pydicom.dcmread(path)
        if str(ds.get("SyntheticData", "")) != "YES":
            raise RuntimeError(f"{path}: follow-up is not marked Synthetic Data = YES")
        if not np.array_equal(ds.pixel_array[outside], image.stored[outside]):
            raise RuntimeError(f"{path}: pixels outside the ROI are not bit-identical to the source")
    stream = sys.stderr if args.json_progress else sys.stdout
    print(
        f"\nLDEdit demo: phantom patient {args.seed}, {args.disease}, {len(paths['followups'])} follow-ups\n",
        file=stream,
    )
    print(_table(result), file=stream)
    listing = {
        "source DICOM": source_path,
        "ROI": roi_path,
        "follow-ups": out / "result" / "followups",
        "PNG strip": paths["strip"],
        "probabilities": paths["plot"],
        "summary": paths["summary"],
    }
    print("", *(f"{k:<13}: {v}" for k, v in listing.items()), sep="\n", file=stream)
    print(
        "Checked: every follow-up is marked Synthetic Data = YES and every pixel outside the ROI is "
        "bit-identical to the source. Not for diagnostic use.",
        file=stream,
    )
    return 0
