"""``ldedit info FILE...``: what LDEdit reads from a radiograph, or why it refuses it."""

from __future__ import annotations

import argparse
import json

from ldedit_core.io import read_radiograph


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="describe radiograph files as LDEdit reads them")
    p.add_argument("files", nargs="+", help="DICOM, PNG, JPEG, TIFF or NRRD files")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.set_defaults(func=run)


def describe(path: str) -> dict:
    """The facts about one file that matter to LDEdit."""
    rg = read_radiograph(path)
    ds = rg.dataset
    return {
        "path": str(rg.path),
        "format": rg.format,
        "rows": rg.shape[0],
        "columns": rg.shape[1],
        "bits_stored": rg.meta.get("bits_stored"),
        "signed": rg.meta.get("signed", False),
        "photometric": rg.meta.get("photometric"),
        "spacing_mm": list(rg.spacing_mm) if rg.spacing_mm else None,
        "sop_class": rg.meta.get("sop_class"),
        "transfer_syntax": rg.meta.get("transfer_syntax"),
        "modality": str(ds.get("Modality", "")) if ds is not None else None,
        "synthetic": str(ds.get("SyntheticData", "")) == "YES" if ds is not None else None,
        "pixel_range": [float(rg.pixels.min()), float(rg.pixels.max())],
    }


def run(args: argparse.Namespace) -> int:
    for path in args.files:
        facts = describe(path)
        if args.json:
            print(json.dumps(facts))
        else:
            print(facts.pop("path"))
            for key, value in facts.items():
                print(f"  {key:16s} {value}")
    return 0
