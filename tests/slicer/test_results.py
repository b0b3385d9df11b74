"""``load_results`` / ``followup_arrays`` on output folders written by ldedit's own writers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from LDEditSlicerLib import EditResults, followup_arrays, load_results, write_volume_nrrd

from ldedit_core.io import read_radiograph, write_followups, write_radiograph_dicom


def output_folder(out: Path, source, frames, interval_days: float = 30.0) -> Path:
    """An ``ldedit edit`` folder: follow-ups by ldedit's writer, summary.json with its real keys."""
    write_followups(source, frames, out / "followups", interval_days=interval_days, description="test")
    n = len(frames)
    summary = {
        "disease": "effusion",
        "target": 0.8,
        "regress": False,
        "followups": n,
        "guide_probs": [round(0.1 + 0.8 * t / n, 4) for t in range(n + 1)],
        "evaluator_probs": [round(0.05 + 0.8 * t / n, 4) for t in range(n + 1)],
        "reached": True,
        "interval_days": interval_days,
        "source": str(source.path),
    }
    (out / "summary.json").write_text(json.dumps(summary))
    for name in ("roi.nrrd", "strip.png", "probabilities.png"):
        (out / name).write_bytes(b"x")
    return out


@pytest.fixture
def ramp():
    return np.clip(np.add.outer(np.linspace(0, 0.7, 40), np.linspace(0, 0.3, 56)), 0, 1)


def test_a_dicom_source_with_a_rescale(tmp_path, ramp):
    path = write_radiograph_dicom(ramp, tmp_path / "src.dcm", bits_stored=12, study_date="20260105")
    ds = pydicom.dcmread(path)
    ds.RescaleSlope, ds.RescaleIntercept = 2, -1000
    ds.save_as(path)
    source = read_radiograph(path)
    edited = source.pixels.copy()
    edited[10:20, 10:30] = np.clip(edited[10:20, 10:30] + 0.2, 0, 1)
    out = output_folder(tmp_path / "out", source, [source.pixels, edited])

    results = load_results(out)
    assert isinstance(results, EditResults) and results.n_followups == 2
    assert [p.name for p in results.followup_paths] == ["followup_001.dcm", "followup_002.dcm"]
    assert results.probabilities == [0.05, 0.45, 0.85] and results.guide_probabilities == [0.1, 0.5, 0.9]
    assert results.days == [0.0, 30.0, 60.0] and results.interval_days == 30.0
    assert results.study_dates == ["20260105", "20260204", "20260306"]
    assert (results.disease, results.target, results.regress, results.reached) == (
        "effusion",
        0.8,
        False,
        True,
    )
    assert results.roi_path == out / "roi.nrrd" and results.roi_seg_path is None
    assert results.strip_path == out / "strip.png" and results.plot_path == out / "probabilities.png"
    assert results.source_path == str(path)

    expected = ds.pixel_array.astype(np.float64) * 2 - 1000  # what Slicer's DICOM reader shows
    unchanged, changed = followup_arrays(results)
    assert unchanged.dtype == np.float32 and unchanged.shape == (40, 56)
    assert np.array_equal(unchanged, expected)
    outside = np.ones(expected.shape, bool)
    outside[10:20, 10:30] = False
    assert np.array_equal(changed[outside], expected[outside])
    assert (changed[~outside] > expected[~outside]).mean() > 0.9


def test_a_nrrd_source_comes_back_on_its_own_scale(tmp_path, ramp):
    volume = (ramp * 2000 - 500).astype(np.int16)[np.newaxis]  # -500 .. 1500: not a full 16-bit range
    source_path = write_volume_nrrd(volume, np.diag([-0.2, -0.2, 1.0, 1.0]), tmp_path / "src.nrrd")
    source = read_radiograph(source_path)
    out = output_folder(tmp_path / "out", source, [source.pixels, 0.5 * source.pixels])
    results = load_results(out)
    assert results.study_dates[0] == "" and all(len(d) == 8 for d in results.study_dates[1:])

    lo, hi = float(volume.min()), float(volume.max())
    step = (hi - lo) / 65535  # ldedit quantised the source's (min, max) to 16 bits
    same, half = followup_arrays(results)
    np.testing.assert_allclose(same, volume[0], atol=step)
    np.testing.assert_allclose(half, 0.5 * (volume[0] - lo) + lo, atol=step)
    assert np.array_equal(followup_arrays(results, source_range=(lo, hi))[0], same)

    stored = followup_arrays(results, source_range=None)[0]  # as written: 0 .. 65535
    assert stored.min() == 0 and stored.max() == 65535
    source_path.unlink()  # "auto" needs the source NRRD; without it the stored values are returned
    assert np.array_equal(followup_arrays(results)[0], stored)


def fake_folder(out: Path, names: list[str], summary: dict) -> Path:
    (out / "followups").mkdir(parents=True)
    for name in names:
        (out / "followups" / name).write_bytes(b"not DICOM")
    (out / "summary.json").write_text(json.dumps(summary))
    return out


def test_the_status_line_says_whether_the_target_was_reached(tmp_path, ramp):
    source = read_radiograph(write_radiograph_dicom(ramp, tmp_path / "src.dcm"))
    out = output_folder(tmp_path / "out", source, [source.pixels])
    assert load_results(out, read_dates=False).status_message == f"Done: follow-ups in {out}"
    summary = json.loads((out / "summary.json").read_text())
    summary.update(reached=False, hint="the ROI's latent directions carry almost no effusion signal")
    (out / "summary.json").write_text(json.dumps(summary))
    line = load_results(out, read_dates=False).status_message
    assert line.startswith("Done, but effusion did not reach target 0.8: the ROI's latent directions")
    assert line.endswith(f"Follow-ups in {out}")


def test_frames_are_ordered_by_number_not_by_name(tmp_path):
    names = ["followup_1000.dcm", "followup_999.dcm", "notes.txt", "followup_0001.dcm"]
    summary = {"followups": 3, "evaluator_probs": [0, 0.1, 0.2, 0.3], "guide_probs": [0, 0.1, 0.2, 0.3]}
    results = load_results(fake_folder(tmp_path / "out", names, summary))
    assert [p.name for p in results.followup_paths] == [
        "followup_0001.dcm",
        "followup_999.dcm",
        "followup_1000.dcm",
    ]
    assert results.study_dates == ["", "", "", ""] and results.days == [0.0, 90.0, 180.0, 270.0]
    assert results.roi_path is None and results.strip_path is None


def test_unfinished_or_inconsistent_folders_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not the output of a finished"):
        load_results(tmp_path)
    summary = {"followups": 3, "evaluator_probs": [0, 0.1, 0.2, 0.3], "guide_probs": [0, 0.1, 0.2, 0.3]}
    with pytest.raises(ValueError, match="lists 3 follow-ups but followups/ holds 2"):
        load_results(fake_folder(tmp_path / "a", ["followup_001.dcm", "followup_002.dcm"], summary))
    summary = {"followups": 1, "evaluator_probs": [0.1], "guide_probs": [0, 0.2]}
    with pytest.raises(ValueError, match="evaluator_probs has 1 values, expected 2"):
        load_results(fake_folder(tmp_path / "b", ["followup_001.dcm"], summary))
