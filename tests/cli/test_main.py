"""The ``ldedit`` entry point: help, info, the demo, and bad input as a one-line error with status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pydicom
import pytest

from ldedit_core.cli.main import main
from tests.dicom_variants import make_variant


def test_help_lists_every_subcommand():
    out = subprocess.run(
        [sys.executable, "-m", "ldedit_core.cli.main", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("demo", "info", "phantoms"):
        assert command in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: ldedit" in capsys.readouterr().out


def test_info_json(tmp_path, capsys):
    v = make_variant("dx_presentation_mono1", tmp_path)
    assert main(["info", "--json", str(v.path)]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["photometric"] == "MONOCHROME1" and facts["rows"] == 64 and facts["columns"] == 48
    assert facts["modality"] == "DX" and facts["pixel_range"] == [0.0, 1.0]


def test_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ldedit info: error:") and str(bad) in err and "\n" not in err


def test_demo_writes_checked_synthetic_followups(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size", "128", "--followups", "3"]) == 0
    printed = capsys.readouterr().out
    followups = sorted((out / "result" / "followups").rglob("*.dcm"))
    assert len(followups) == 3 and (out / "result" / "strip.png").is_file()
    assert str(out / "result" / "followups") in printed and "bit-identical" in printed
    summary = json.loads((out / "result" / "summary.json").read_text())
    assert summary["evaluator_probs"][-1] > summary["evaluator_probs"][0]
    source = pydicom.dcmread(next((out / "source").glob("*.dcm")))
    dates = [pydicom.dcmread(p).StudyDate for p in followups]
    assert sorted(dates) == dates and len(set(dates)) == 3 and min(dates) > source.StudyDate
    for path in followups:
        ds = pydicom.dcmread(path)
        assert ds.SyntheticData == "YES" and ds.PatientID == source.PatientID
        assert ds.pixel_array.shape == source.pixel_array.shape
        assert not np.array_equal(ds.pixel_array, source.pixel_array)  # the disease did progress
    # running again replaces its own earlier output ...
    assert main(["demo", "--out", str(out), "--size", "64", "--followups", "2"]) == 0
    assert len(list((out / "result" / "followups").rglob("*.dcm"))) == 2


def test_demo_refuses_to_clear_a_folder_it_did_not_write(tmp_path):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "data.txt").write_text("keep")
    with pytest.raises(SystemExit, match="not an earlier demo"):
        main(["demo", "--out", str(precious)])
    assert (precious / "data.txt").read_text() == "keep"
