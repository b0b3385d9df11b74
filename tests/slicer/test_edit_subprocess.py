"""The module's path end to end, without Slicer: a volume and a painted region handed over as NRRD, a real
``ldedit edit --json-progress`` subprocess watched through ``EditProcess``, results read back; and Cancel.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from LDEditSlicerLib import (
    EditParameters,
    EditProcess,
    build_edit_command,
    followup_arrays,
    load_results,
    read_volume_nrrd,
    write_mask_nrrd,
    write_volume_nrrd,
)

pytestmark = pytest.mark.slow
#: ldedit's stages in the order they run (``roi`` only for the automatic ROI; link-pca reports nothing).
STAGE_ORDER = [
    "loading",
    "inversion",
    "roi",
    "link-lr",
    "trajectory",
    "compositing",
    "done",
    "writing",
    "result",
]


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    from ldedit_core.cli.demo_cmd import demo_inputs

    return demo_inputs(tmp_path_factory.mktemp("phantom"), seed=7, size=128, disease="cardiomegaly")


def watch(process: EditProcess, until=None, timeout: float = 240.0) -> list[dict]:
    """Poll as the module's Qt timer does (every 50 ms) until it ends, or until ``until(event)``."""
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = process.running
        for event in process.poll_events():
            events.append(event)
            if until is not None and until(event):
                return events
        if not running:
            return events
        time.sleep(0.05)
    process.cancel()
    raise AssertionError(f"ldedit did not finish in {timeout} s; last events {events[-3:]}")


def test_a_slicer_volume_edited_through_the_subprocess(phantom, tmp_path):
    dicom_path, roi_path = phantom
    volume = pydicom.dcmread(dicom_path).pixel_array.astype(np.int16)[np.newaxis]  # arrayFromVolume
    ijk_to_ras = np.diag([-0.143, -0.143, 1.0, 1.0])
    ijk_to_ras[:3, 3] = [9.1, 18.2, -3.0]
    region = read_volume_nrrd(roi_path)[0]  # the painted segment, (1, 128, 128)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    params = EditParameters(
        input_path=write_volume_nrrd(volume, ijk_to_ras, inputs / "radiograph.nrrd"),
        mask_path=write_mask_nrrd(region, ijk_to_ras, inputs / "region.nrrd"),
        disease="cardiomegaly",
        followups=2,
        device="cpu",
        out_dir=tmp_path / "out",
    )
    process = EditProcess(build_edit_command(params)).start()
    events = watch(process)

    assert process.returncode == 0 and process.error_message == "", process.stderr_lines[-5:]
    assert events[-1] == {"type": "exit", "returncode": 0, "cancelled": False, "error": None}
    assert events[-2]["type"] == "result" and events[-2]["followups"] == 2
    progress = [e for e in events if e["type"] == "progress"]
    assert [e for e in events if e["type"] == "log"] == []  # nothing but JSON on stdout
    stages = [e["stage"] for e in progress]
    runs = [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]]
    assert len(runs) == len(set(runs)), f"a stage came back after another started: {runs}"
    known = [s for s in runs if s in STAGE_ORDER]
    assert known == sorted(known, key=STAGE_ORDER.index) and {"loading", "inversion", "done"} <= set(known)
    for stage in runs:
        fractions = [e["fraction"] for e in progress if e["stage"] == stage]
        assert all(0.0 <= f <= 1.0 for f in fractions)
        assert fractions == sorted(fractions), f"{stage} went backwards: {fractions}"
    assert sum(s == "inversion" for s in stages) > 10  # fine-grained enough for a progress bar
    assert runs[-1] == "writing" and progress[-1]["fraction"] == 1.0

    results = load_results(params.out_dir)
    assert results.n_followups == 2 and len(results.probabilities) == 3
    assert results.days == [0.0, 90.0, 180.0] and results.disease == "cardiomegaly"
    assert results.probabilities == events[-2]["evaluator_probs"]
    assert results.strip_path and results.plot_path and results.roi_seg_path is None  # NRRD source: no SEG
    roi, roi_matrix = read_volume_nrrd(results.roi_path)  # ldedit's ROI overlays the source in Slicer
    assert np.array_equal(roi_matrix, ijk_to_ras) and np.array_equal(roi != 0, region != 0)

    frames = followup_arrays(results)
    outside = region[0] == 0
    step = float(volume.max() - volume.min()) / 65535
    for frame in frames:  # on the source's scale, and the source itself outside the painted region
        assert frame.shape == (128, 128) and frame.dtype == np.float32
        np.testing.assert_allclose(frame[outside], volume[0][outside], atol=step)
    assert np.abs(frames[-1][~outside] - volume[0][~outside]).max() > 50  # the disease grew inside it


def test_cancel_mid_run_leaves_nothing(phantom, tmp_path):
    dicom_path, roi_path = phantom
    out = tmp_path / "out"
    params = EditParameters(
        input_path=dicom_path,
        mask_path=roi_path,
        disease="cardiomegaly",
        followups=2,
        device="cpu",
        out_dir=out,
    )
    process = EditProcess(build_edit_command(params)).start()
    events = watch(process, until=lambda e: e.get("stage") == "inversion")
    assert events[-1]["stage"] == "inversion" and process.running  # inversion has begun: cancel now
    process.cancel()
    assert process.wait(60) == 130, process.stderr_lines[-5:]
    rest = process.poll_events()
    assert rest[-1] == {
        "type": "exit",
        "returncode": 130,
        "cancelled": True,
        "error": "Cancelled; nothing was written.",
    }
    assert all(e["type"] != "result" for e in rest)
    assert process.error_message == "Cancelled; nothing was written."
    assert "stopped; nothing was written" in process.stderr_lines[-1]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no hidden .out.partial-* beside it either
    with pytest.raises(ProcessLookupError):  # the whole process group is gone
        os.killpg(process.pid, 0)


def test_bad_input_reports_the_cli_message(phantom, tmp_path):
    dicom_path, _ = phantom
    mask = tmp_path / "small.nrrd"
    write_mask_nrrd(np.ones((1, 10, 12), np.uint8), np.eye(4), mask)
    params = EditParameters(
        input_path=dicom_path, mask_path=mask, disease="cardiomegaly", device="cpu", out_dir=tmp_path / "o"
    )
    process = EditProcess(build_edit_command(params)).start()
    assert process.wait(120) == 2
    assert process.error_message.startswith(str(mask)) and "wrong size" in process.error_message
    assert Path(process.error_message.split(":")[0]) == mask
