"""Benchmark the foundation: phantom generation and radiograph read/write, each against a reference.

    python benchmarks/io_phantoms.py [--quick] [--json out.json]

- phantoms/s at 256 and 1024 px, against reading the same image back from a 16-bit PNG on disk (is
  generating the training data on the fly cheaper than loading a written population?);
- reading a 2500 x 3000, 16-bit CR (uncompressed and JPEG 2000): ``read_radiograph`` (LUT tabulated over
  the 65,536 stored values) against the naive way (pydicom's modality and VOI LUT applied to every pixel);
- writing one follow-up of it: ``write_followups`` (exact inverse map, synthetic marking, highdicom SC)
  against the floor (pydicom writing the raw array with no mapping or marking).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, machine


def bench_phantoms(size: int, n: int, tmp: Path) -> dict:
    from PIL import Image

    from ldedit_core.io import read_radiograph
    from ldedit_core.phantoms import make_phantom

    seeds = iter(range(10_000))
    per = best_time(lambda: make_phantom(next(seeds), size=size, cardiomegaly=0.5), repeat=2, number=n)
    png = tmp / f"phantom_{size}.png"
    Image.fromarray(np.rint(make_phantom(1, size=size).image * 65535).astype(np.uint16)).save(png)
    load = best_time(lambda: read_radiograph(png), repeat=3, number=n)
    return {"size": size, "phantoms_per_s": 1 / per, "png_reads_per_s": 1 / load, "ratio": per / load}


def bench_read_write(tmp: Path, rows: int = 3000, cols: int = 2500) -> dict:
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut
    from pydicom.uid import JPEG2000Lossless

    from ldedit_core.io import new_radiograph_dataset, read_radiograph, write_followups

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:rows, 0:cols]
    img = 20000 + 15000 * np.sin(y / 300.0) * np.cos(x / 250.0) + rng.normal(0, 500, (rows, cols))
    stored = np.clip(img, 0, 65535).astype(np.uint16)
    ds = new_radiograph_dataset(stored, bits_stored=16)
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, -1000, "US"
    raw = tmp / "big.dcm"
    ds.save_as(raw, enforce_file_format=True)
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    j2k = tmp / "big_j2k.dcm"
    ds.save_as(j2k, enforce_file_format=True)

    def naive_read(path: Path) -> np.ndarray:
        d = pydicom.dcmread(path)
        values = apply_modality_lut(d.pixel_array, d)
        shown = apply_voi_lut(values, d, index=0)
        return ((shown - shown.min()) / (shown.max() - shown.min())).astype(np.float32)

    out = {"shape": [rows, cols]}
    for name, path in (("uncompressed", raw), ("jpeg2000", j2k)):
        ours = best_time(lambda p=path: read_radiograph(p))
        naive = best_time(lambda p=path: naive_read(p))
        out[f"read_{name}_s"], out[f"read_{name}_naive_s"] = ours, naive
    source = read_radiograph(raw)
    frame = source.pixels.copy()
    frame[1000:1600, 900:1500] = np.clip(frame[1000:1600, 900:1500] + 0.05, 0, 1)
    counter = iter(range(1000))

    def ours_write() -> None:
        write_followups(source, [frame], tmp / f"fu{next(counter)}", interval_days=90, description="bench")

    def floor_write() -> None:
        d = pydicom.dcmread(raw)
        d.PixelData = source.stored.tobytes()
        d.save_as(tmp / f"floor{next(counter)}.dcm", enforce_file_format=True)

    out["write_followup_s"] = best_time(ours_write)
    out["write_floor_s"] = best_time(floor_write)
    out["to_stored_s"] = best_time(lambda: source.to_stored(frame))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    results: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        results["phantoms"] = [
            bench_phantoms(256, 5 if args.quick else 20, tmp),
            bench_phantoms(1024, 2 if args.quick else 5, tmp),
        ]
        results["io"] = bench_read_write(tmp)
    print(f"machine: {results['machine']}\n")
    print("| phantom size | phantoms/s | 16-bit PNG reads/s (reference) | generate / read time |")
    print("|---|---|---|---|")
    for r in results["phantoms"]:
        print(f"| {r['size']} | {r['phantoms_per_s']:.1f} | {r['png_reads_per_s']:.1f} | {r['ratio']:.2f}x |")
    io = results["io"]
    print(f"\n| {io['shape'][0]} x {io['shape'][1]} 16-bit CR | LDEdit | reference | ratio |")
    print("|---|---|---|---|")
    for name in ("uncompressed", "jpeg2000"):
        ours, ref = io[f"read_{name}_s"], io[f"read_{name}_naive_s"]
        label = f"read, {name} (reference: LUTs per pixel)"
        print(f"| {label} | {ours:.3f} s | {ref:.3f} s | {ref / ours:.1f}x faster |")
    w, f = io["write_followup_s"], io["write_floor_s"]
    label = "write one follow-up (reference: raw pydicom save)"
    print(f"| {label} | {w:.3f} s | {f:.3f} s | {w / f:.1f}x the floor |")
    print(f"| of which exact inverse map (to_stored) | {io['to_stored_s']:.3f} s | | |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
