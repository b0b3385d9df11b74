"""``ldedit demo``: the end-to-end job on what ships with LDEdit.

Until the editing engine lands, the demo runs the foundation's round trip: a phantom patient written as a
DICOM CR study, read back as a user's file would be, and its ground-truth cardiomegaly progression (the
same phantom at rising severity) written as synthetic follow-up studies, then checked: every follow-up
reads back, carries the synthetic marking, and keeps the untouched pixels bit-identical.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

MARKER = ".ldedit-demo"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the end-to-end demo on a phantom patient")
    p.add_argument(
        "--out", type=Path, default=Path("demo-output"), help="output folder (default demo-output)"
    )
    p.add_argument("--size", type=int, default=512, help="phantom size in pixels (default 512)")
    p.add_argument("--followups", type=int, default=10, help="number of follow-up studies (default 10)")
    p.add_argument("--seed", type=int, default=7, help="phantom patient seed")
    p.set_defaults(func=run)


def _prepare(out: Path) -> None:
    """Use ``out`` if it is new, empty, or an earlier demo's folder; never clear anything else."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise SystemExit(f"ldedit demo: {out} exists and is not an earlier demo's folder; choose --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by ldedit demo; safe to delete\n")


def run(args: argparse.Namespace) -> int:
    from ldedit_core.io import read_radiograph, write_followups, write_radiograph_dicom
    from ldedit_core.phantoms import make_phantom

    out: Path = args.out
    _prepare(out)
    bits = 12
    severities = np.linspace(0.0, 1.0, args.followups + 1)
    bar = tqdm(total=args.followups + 3, desc="demo", unit="step")

    base = make_phantom(args.seed, size=args.size, cardiomegaly=float(severities[0]))
    source_path = write_radiograph_dicom(
        base.image,
        out / "source" / "phantom_cr.dcm",
        bits_stored=bits,
        patient_name="DEMO^PHANTOM",
        patient_id="LDEDIT-DEMO-7",
        patient_birth_date="19580312",
        patient_sex="F",
        study_date="20260105",
        description="LDEdit demo phantom chest PA",
    )
    bar.update()
    source = read_radiograph(source_path)
    bar.update()

    frames, ctrs = [], [base.params.get("ctr")]
    for severity in severities[1:]:
        ph = make_phantom(args.seed, size=args.size, cardiomegaly=float(severity))
        stored = np.rint(np.clip(ph.image, 0, 1) * ((1 << bits) - 1)).astype(np.uint16)
        frames.append(source.intensity.forward(stored))  # the phantom in the source file's display domain
        ctrs.append(ph.params.get("ctr"))
        bar.update()
    paths = write_followups(
        source,
        frames,
        out / "followups",
        interval_days=90,
        description="cardiomegaly",
        derivation="LDEdit demo: phantom ground-truth cardiomegaly progression (not a model edit)",
    )
    bar.update()
    bar.close()

    rows = _check(source, frames, paths)
    strip = _strip(source.pixels, frames, out / "strip.png")
    print(f"\nLDEdit demo — phantom patient, cardiomegaly ground truth, {len(paths)} synthetic follow-ups\n")
    print(f"{'step':>4} {'study date':>10} {'CTR':>6} {'changed px':>10}  file")
    print(f"{0:>4} {source.dataset.StudyDate:>10} {ctrs[0]:>6.3f} {'-':>10}  {source_path}")
    for step, (date, changed, path) in enumerate(rows, start=1):
        print(f"{step:>4} {date:>10} {ctrs[step]:>6.3f} {changed:>9.2%}  {path}")
    print(f"\nsource DICOM : {source_path}\nfollow-ups   : {out / 'followups'}\nPNG strip    : {strip}")
    print("All follow-ups are marked Synthetic Data = YES and are not for diagnostic use.")
    return 0


def _check(source, frames: list[np.ndarray], paths: list[Path]) -> list[tuple[str, float, Path]]:
    """Read every follow-up back; the pixels the frame left alone must equal the source's stored values."""
    import pydicom

    rows = []
    for frame, path in zip(frames, paths, strict=True):
        ds = pydicom.dcmread(path)
        if str(ds.get("SyntheticData", "")) != "YES":
            raise RuntimeError(f"{path}: follow-up is not marked Synthetic Data = YES")
        same = frame == source.pixels
        if not np.array_equal(ds.pixel_array[same], source.stored[same]):
            raise RuntimeError(f"{path}: unedited pixels are not bit-identical to the source")
        rows.append((str(ds.StudyDate), float(1.0 - same.mean()), path))
    return rows


def _strip(first: np.ndarray, frames: list[np.ndarray], path: Path, tile: int = 192) -> Path:
    """A PNG strip: the source, then every follow-up, side by side."""
    from PIL import Image

    tiles = [first, *frames]
    images = [Image.fromarray(np.rint(t * 255).astype(np.uint8)).resize((tile, tile)) for t in tiles]
    strip = Image.new("L", (tile * len(images), tile))
    for i, im in enumerate(images):
        strip.paste(im, (i * tile, 0))
    strip.save(path)
    return path
