"""``ldedit edit`` as a user runs it: files out, JSON progress, clean stop on SIGTERM, clear errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pydicom
import pytest

from ldedit_core.cli.main import main
from ldedit_core.io import read_radiograph, read_roi

QUICK = ["--device", "cpu"]


def _ldedit(*args: str) -> list[str]:
    return [sys.executable, "-m", "ldedit_core.cli.main", *args]


@pytest.fixture(scope="module")
def run_edit(patient, tmp_path_factory):
    out = tmp_path_factory.mktemp("edit") / "out"
    proc = subprocess.run(
        _ldedit(
            "edit",
            "--input",
            str(patient[0]),
            "--mask",
            str(patient[1]),
            "--disease",
            "cardiomegaly",
            "--followups",
            "3",
            "--out",
            str(out),
            "--json-progress",
            *QUICK,
        ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return proc, out


def test_writes_every_output(run_edit, patient):
    proc, out = run_edit
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in (out / "followups").iterdir())
    assert files == ["followup_001.dcm", "followup_002.dcm", "followup_003.dcm"]
    for name in ("roi.nrrd", "roi_seg.dcm", "strip.png", "probabilities.png", "summary.json"):
        assert (out / name).is_file(), name
    source = read_radiograph(patient[0])
    roi = read_roi(out / "roi.nrrd", source)
    assert np.array_equal(roi > 0, read_roi(patient[1], source) > 0)
    assert np.array_equal(read_roi(out / "roi_seg.dcm", source) > 0, roi > 0)
    outside = roi == 0
    for path in sorted((out / "followups").iterdir()):
        ds = pydicom.dcmread(path)
        assert ds.SyntheticData == "YES" and "NOT FOR DIAGNOSTIC" in ds.SeriesDescription
        assert np.array_equal(ds.pixel_array[outside], source.stored[outside])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["disease"] == "cardiomegaly" and len(summary["evaluator_probs"]) == 4


def test_json_progress_lines_parse(run_edit):
    proc, _ = run_edit
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines and all({"stage", "fraction", "message"} <= set(d) for d in lines)
    stages = [d["stage"] for d in lines]
    for stage in ("inversion", "link-lr", "trajectory", "writing"):
        assert stage in stages, stages
    assert all(0.0 <= d["fraction"] <= 1.0 for d in lines)
    assert lines[-1]["stage"] == "result" and lines[-1]["disease"] == "cardiomegaly"


def test_refuses_a_non_empty_out(run_edit, patient, capsys):
    _, out = run_edit
    before = sorted(p.name for p in out.rglob("*"))
    code = main(["edit", "--input", str(patient[0]), "--disease", "edema", "--out", str(out), *QUICK])
    assert code == 2 and "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == before


def test_sigterm_leaves_nothing(patient, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _ldedit(
            "edit",
            "--input",
            str(patient[0]),
            "--disease",
            "cardiomegaly",
            "--out",
            str(out),
            "--json-progress",
            *QUICK,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 300
    for line in proc.stdout:  # wait until the inversion is running
        if json.loads(line)["stage"] == "inversion" or time.time() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=300)
    assert proc.returncode == 130
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("problem", ["size", "empty", "disease", "image"])
def test_bad_input_exits_2_naming_the_problem(patient, tmp_path, capsys, problem):
    from PIL import Image

    mask = tmp_path / "mask.png"
    image = str(patient[0])
    disease = "cardiomegaly"
    if problem == "size":
        Image.fromarray(np.full((10, 12), 255, np.uint8)).save(mask)
    elif problem == "empty":
        Image.fromarray(np.zeros((256, 256), np.uint8)).save(mask)
    else:
        Image.fromarray(np.full((256, 256), 255, np.uint8)).save(mask)
    if problem == "disease":
        disease = "pneumothorax"
    if problem == "image":
        image = str(tmp_path / "notes.txt")
        (tmp_path / "notes.txt").write_text("not an image")
    code = main(
        [
            "edit",
            "--input",
            image,
            "--mask",
            str(mask),
            "--disease",
            disease,
            "--out",
            str(tmp_path / "out"),
            *QUICK,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    expected = {"size": "mask.png", "empty": "empty", "disease": "pneumothorax", "image": "notes.txt"}[
        problem
    ]
    assert expected in err
    assert not (tmp_path / "out").exists()
