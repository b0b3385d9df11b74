"""dcmtk's echoscu and storescu as the clients: a study with a DICOM SEG is edited inside the SEG's region."""

from __future__ import annotations

import json

import numpy as np
import pydicom

from ldedit_core.io import read_radiograph, write_roi_seg
from ldedit_core.phantoms import make_phantom
from ldedit_core.service import Rule
from tests.dicom_peers import run_tool
from tests.service.conftest import FAST_EDIT, running, service_config, study
from tests.tools import require_tool

SEG = "1.2.840.10008.5.1.4.1.1.66.4"


def test_echoscu_is_answered_for_known_callers_only(tmp_path, dest):
    echoscu = require_tool("echoscu", "dcmtk")
    with running(service_config(tmp_path / "state", dest.port)) as svc:
        ok = run_tool([echoscu, "-aet", "DEST", "-aec", "LDEDIT", "127.0.0.1", str(svc.port)])
        stranger = run_tool([echoscu, "-aet", "STRANGER", "-aec", "LDEDIT", "127.0.0.1", str(svc.port)])
    assert ok.returncode == 0, ok.stderr
    assert stranger.returncode != 0 and "reject" in (stranger.stdout + stranger.stderr).lower()


def test_storescu_study_with_a_seg_is_edited_in_the_seg_region(tmp_path, dest):
    storescu = require_tool("storescu", "dcmtk")
    image_path = study(tmp_path, seed=31)
    image = read_radiograph(image_path)
    heart = make_phantom(31, size=128).masks["heart"] > 0.5
    seg_path = write_roi_seg(heart, image, tmp_path / "seg.dcm", label="Heart")
    cfg = service_config(
        tmp_path / "state",
        dest.port,
        rules={"default": Rule(disease="nodule", followups=2, options=FAST_EDIT)},
        seg_labels={"heart": "cardiomegaly"},  # the SEG's label names the disease, not the rule
    )
    with running(cfg) as svc:
        sent = run_tool(
            [
                storescu,
                "-R",
                "-aet",
                "DEST",
                "-aec",
                "LDEDIT",
                "127.0.0.1",
                str(svc.port),
                image_path,
                seg_path,
            ]
        )
        assert sent.returncode == 0, sent.stderr
        assert svc.wait_idle(120)
        job = svc.store.jobs()[0]
    assert job.state == "done", job.last_error
    summary = json.loads(next((cfg.results_dir / f"job-{job.id}").glob("*/summary.json")).read_text())
    assert summary["disease"] == "cardiomegaly" and summary["roi_source"] == "dicom-seg"
    returned = next(ds for ds in dest.received if ds.SOPClassUID == SEG)
    mask = np.asarray(returned.pixel_array).reshape(heart.shape) > 0
    assert np.array_equal(mask, heart), "the ROI used is not the painted one"
    source = pydicom.dcmread(image_path)
    followups = [ds for ds in dest.received if ds.SOPClassUID != SEG]
    outside = ~heart
    for ds in followups:  # everything outside the painted region stays the patient's own, bit for bit
        assert np.array_equal(ds.pixel_array[outside], source.pixel_array[outside])


def test_instance_mode_edits_each_image_at_once_with_a_seg_sent_before_it(tmp_path, dest):
    storescu = require_tool("storescu", "dcmtk")
    image_path = study(tmp_path, seed=32)
    heart = make_phantom(32, size=128).masks["heart"] > 0.5
    seg_path = write_roi_seg(heart, read_radiograph(image_path), tmp_path / "seg.dcm", label="Cardiomegaly")
    cfg = service_config(tmp_path / "state", dest.port, completion="instance", stable_age=3600)
    with running(cfg) as svc:
        for path in (seg_path, image_path):  # the SEG first: it waits, under no job, for its image
            sent = run_tool(
                [storescu, "-R", "-aet", "DEST", "-aec", "LDEDIT", "127.0.0.1", str(svc.port), path]
            )
            assert sent.returncode == 0, sent.stderr
        assert svc.wait_idle(120)  # stable_age is an hour: only instance mode can have finished the job
        (job,) = svc.store.jobs()
    assert job.state == "done", job.last_error
    summary = json.loads(next((cfg.results_dir / f"job-{job.id}").glob("*/summary.json")).read_text())
    assert summary["disease"] == "cardiomegaly" and summary["roi_source"] == "dicom-seg"
