"""``ldedit phantoms``: CheXpert layout with labels and ground truth, and DICOM studies."""

from __future__ import annotations

import argparse
import csv

import numpy as np
import pytest
from PIL import Image

from ldedit_core.cli import phantoms_cmd
from ldedit_core.phantoms import CHEXPERT_COLUMNS


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ldedit")
    phantoms_cmd.add_parser(parser.add_subparsers())
    return parser.parse_args(["phantoms", *argv])


def test_chexpert_layout(tmp_path):
    out = tmp_path / "CheXpert-phantoms"
    args = _parse(["--out", str(out), "--n", "4", "--size", "96", "--seed", "3", "--masks"])
    assert args.func is phantoms_cmd.run
    assert args.func(args) == 0
    with open(out / "train.csv", newline="") as f:
        rows = list(csv.DictReader(f))
        header = list(rows[0])
    assert header[:5] == ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA"]
    assert header[5 : 5 + len(CHEXPERT_COLUMNS)] == list(CHEXPERT_COLUMNS)
    gt = {"gt_cardiomegaly", "gt_ctr", "gt_effusion_left", "gt_effusion_right", "gt_edema", "gt_nodule"}
    assert gt <= set(header)
    assert len(rows) == 4
    for i, row in enumerate(rows, start=1):
        assert row["Path"] == f"train/patient{i:05d}/study1/view1_frontal.png"
        img = np.asarray(Image.open(out / row["Path"]))
        assert img.shape == (96, 96) and img.dtype == np.uint8 and img.max() > 200
        assert row["Sex"] in ("Male", "Female") and row["Frontal/Lateral"] == "Frontal"
        assert (float(row["Cardiomegaly"]) == 1.0) == (float(row["gt_ctr"]) > 0.5)
        assert (float(row["Edema"]) == 1.0) == (float(row["gt_edema"]) > 0.05)
        findings = [float(row[c]) for c in ("Cardiomegaly", "Pleural Effusion", "Edema", "Lung Lesion")]
        assert float(row["No Finding"]) == (0.0 if any(findings) else 1.0)
        lungs = np.asarray(Image.open(out / "masks" / f"patient{i:05d}" / "study1" / "lungs.png"))
        assert lungs.shape == (96, 96) and set(np.unique(lungs)) <= {0, 255} and lungs.any()


def test_sixteen_bit_png(tmp_path):
    args = _parse(["--out", str(tmp_path), "--n", "1", "--size", "64", "--bits", "16"])
    args.func(args)
    img = np.asarray(Image.open(tmp_path / "train" / "patient00001" / "study1" / "view1_frontal.png"))
    assert img.shape == (64, 64) and img.dtype.itemsize == 2 and img.max() > 255


def test_dicom_format(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    args = _parse(["--out", str(tmp_path), "--n", "2", "--size", "64", "--format", "dicom"])
    assert args.func(args) == 0
    with open(tmp_path / "phantoms.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and "gt_ctr" in rows[0]
    ds = pydicom.dcmread(tmp_path / rows[0]["File"])
    assert ds.Rows == 64 and ds.Modality == "CR"
    assert str(ds.PatientID) == rows[0]["PatientID"] and ds.PatientSex in ("M", "F")


def test_bad_arguments(tmp_path):
    args = _parse(["--out", str(tmp_path), "--n", "0"])
    with pytest.raises(ValueError, match="--n"):
        args.func(args)
    args = _parse(["--out", str(tmp_path), "--size", "4096"])
    with pytest.raises(ValueError, match="--size"):
        args.func(args)
