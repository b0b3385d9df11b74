"""The node end to end on loopback: a study in, follow-ups out, and every fault the issue lists."""

from __future__ import annotations

import threading
import time

import numpy as np
import pydicom
import pytest

from ldedit_core.service import Rule
from ldedit_core.service.intake import CANNOT_UNDERSTAND, DOES_NOT_MATCH, OUT_OF_RESOURCES
from tests.dicom_peers import RecordingStorageSCP
from tests.service.conftest import FAST_EDIT, c_store, echo, running, service_config, study

SC = "1.2.840.10008.5.1.4.1.1.7"
SEG = "1.2.840.10008.5.1.4.1.1.66.4"
CT = "1.2.840.10008.5.1.4.1.1.2"


def test_a_study_comes_back_as_follow_ups(tmp_path, dest):
    source = study(tmp_path, seed=3)
    cfg = service_config(tmp_path / "state", dest.port)
    with running(cfg) as svc:
        assert c_store(svc.port, source) == 0x0000
        assert svc.wait_idle(120)
        job = svc.store.jobs()[0]
    assert job.state == "done" and job.attempts == 1, job
    got = {ds.SOPInstanceUID: ds for ds in dest.received}
    assert len(got) == 3 and set(dest.counts.values()) == {1}  # 2 follow-ups + the ROI SEG, once each
    followups = [ds for ds in got.values() if ds.SOPClassUID == SC]
    src = pydicom.dcmread(source)
    assert len({ds.StudyInstanceUID for ds in followups} | {src.StudyInstanceUID}) == 3
    assert all(ds.PatientID == src.PatientID and ds.SyntheticData == "YES" for ds in followups)
    dates = sorted(int(ds.StudyDate) for ds in followups)
    assert dates[0] > int(src.StudyDate) and dates[0] < dates[1]
    seg = next(ds for ds in got.values() if ds.SOPClassUID == SEG)
    assert seg.StudyInstanceUID == src.StudyInstanceUID
    assert not list((cfg.spool_dir / src.StudyInstanceUID).glob("*.dcm")), "spool kept after delivery"
    summary = next((cfg.results_dir / f"job-{job.id}").glob("*/summary.json")).read_text()
    assert '"roi_source": "automatic"' in summary


def test_unknown_caller_is_rejected_and_echo_works(tmp_path, dest):
    with running(service_config(tmp_path / "state", dest.port)) as svc:
        assert echo(svc.port, aet="DEST")
        assert not echo(svc.port, aet="STRANGER")
        assert svc.store.jobs() == []


def _ds(path):
    return pydicom.dcmread(path)


def _colour(ds):
    ds.PhotometricInterpretation = "RGB"
    ds.SamplesPerPixel = 3
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelData = np.zeros((ds.Rows, ds.Columns, 3), np.uint8).tobytes()
    return ds


def _truncated(ds):
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    return ds


def _ct(ds):
    ds.SOPClassUID = CT
    ds.file_meta.MediaStorageSOPClassUID = CT
    ds.Modality = "CT"
    return ds


def _ct_as_cr(tmp_path, source):
    """A CT data set in a file (and so a C-STORE request) that says CR."""
    ds = _ct(_ds(source))
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.save_as(tmp_path / "ct_as_cr.dcm")
    return tmp_path / "ct_as_cr.dcm"


def test_bad_instances_get_failure_statuses_and_the_server_keeps_serving(tmp_path, dest):
    source = study(tmp_path, seed=4)
    cfg = service_config(tmp_path / "state", dest.port, max_instance_mb=0.5)
    with running(cfg) as svc:
        assert c_store(svc.port, _colour(_ds(source))) == DOES_NOT_MATCH
        assert c_store(svc.port, _truncated(_ds(source))) == CANNOT_UNDERSTAND
        # a CT image: its SOP Class is refused at association; sent as a CR it does not match
        assert c_store(svc.port, _ct(_ds(source))) is None
        assert c_store(svc.port, _ct_as_cr(tmp_path, source), raw=True) == DOES_NOT_MATCH
        huge = study(tmp_path, seed=5, size=1024)  # 2 MB > max_instance_mb
        assert c_store(svc.port, huge) == OUT_OF_RESOURCES
        assert c_store(svc.port, _corrupt(tmp_path, source), raw=True) == CANNOT_UNDERSTAND
        assert echo(svc.port)
        assert c_store(svc.port, source) == 0x0000  # still serving, and the good one is processed
        assert svc.wait_idle(120)
        assert [j.state for j in svc.store.jobs()] == ["done"]
    assert not list((cfg.spool_dir / ".incoming").glob("*")), "refused instances left files behind"


def _corrupt(tmp_path, source):
    """A valid file meta (CR, Explicit VR Little Endian), then garbage bytes: sent raw, as received."""
    from io import BytesIO

    from pydicom.filewriter import write_file_meta_info

    meta = BytesIO()
    write_file_meta_info(meta, _ds(source).file_meta)
    path = tmp_path / "corrupt.dcm"
    path.write_bytes(
        b"\0" * 128 + b"DICM" + meta.getvalue() + b"\x08\x00\x16\x00UI\xff\xff" + bytes(range(256)) * 8
    )
    return path


def test_a_full_disk_answers_out_of_resources(tmp_path, dest):
    with running(service_config(tmp_path / "state", dest.port, min_free_mb=1e12)) as svc:
        assert c_store(svc.port, study(tmp_path, seed=6)) == OUT_OF_RESOURCES
        assert svc.store.jobs() == []


def test_a_down_destination_gets_the_results_when_it_comes_back(tmp_path):
    dest = RecordingStorageSCP(aet="DEST")  # not started: down
    cfg = service_config(tmp_path / "state", dest.port, delivery_attempts=50)
    with running(cfg) as svc:
        assert c_store(svc.port, study(tmp_path, seed=8)) == 0x0000
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and svc.store.jobs()[0].send_attempts < 2:
            time.sleep(0.1)
        job = svc.store.jobs()[0]
        assert job.state == "sending" and job.send_attempts >= 2 and "no association" in job.last_error
        with dest:
            assert svc.wait_idle(60)
            assert dest.wait_for(3)
        assert svc.store.jobs()[0].state == "done"
    assert len(dest.counts) == 3 and set(dest.counts.values()) == {1}


def test_delivery_gives_up_keeps_the_files_and_a_retry_delivers(tmp_path, capsys):
    from ldedit_core.cli.main import main

    dest = RecordingStorageSCP(aet="DEST")
    cfg = service_config(tmp_path / "state", dest.port, delivery_attempts=2)
    source = study(tmp_path, seed=9)
    with running(cfg) as svc:
        assert c_store(svc.port, source) == 0x0000
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and svc.store.jobs()[0].state != "failed":
            time.sleep(0.1)
        job = svc.store.jobs()[0]
        assert job.state == "failed" and job.send_attempts == 2 and job.last_error
        assert len(list(cfg.spool_dir.rglob("*.dcm"))) == 1, "a failed job must keep its received files"
        assert list((cfg.results_dir / f"job-{job.id}").rglob("*.dcm"))
        assert main(["jobs", "--state-dir", str(cfg.state_dir), "--state", "failed"]) == 0
        listed = capsys.readouterr().out
        assert f"{job.id}  failed" in listed and "no association with DEST" in listed
        with dest:
            assert main(["jobs", "retry", str(job.id), "--state-dir", str(cfg.state_dir)]) == 0
            assert svc.wait_idle(60)
        assert svc.store.jobs()[0].state == "done"
    assert len(dest.counts) == 3 and set(dest.counts.values()) == {1}


def test_twenty_associations_at_once_each_with_a_study(tmp_path, dest):
    sources = [study(tmp_path, seed=100 + k) for k in range(20)]
    cfg = service_config(
        tmp_path / "state", dest.port, rules={"default": Rule(followups=1, options=FAST_EDIT)}
    )
    statuses: dict[int, int | None] = {}
    with running(cfg) as svc:
        barrier = threading.Barrier(len(sources))

        def send(k: int) -> None:
            barrier.wait()
            statuses[k] = c_store(svc.port, sources[k])

        threads = [threading.Thread(target=send, args=(k,)) for k in range(len(sources))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == dict.fromkeys(range(20), 0x0000)
        assert svc.wait_idle(600)
        jobs = svc.store.jobs()
    assert len(jobs) == 20 and {j.state for j in jobs} == {"done"}
    sent_studies = {ds.StudyInstanceUID for ds in dest.received if ds.SOPClassUID == SEG}
    assert sent_studies == {pydicom.dcmread(p).StudyInstanceUID for p in sources}
    assert set(dest.counts.values()) == {1}


@pytest.mark.parametrize("view", ["LL"])
def test_a_lateral_only_study_fails_with_a_reason(tmp_path, dest, view):
    with running(service_config(tmp_path / "state", dest.port)) as svc:
        assert c_store(svc.port, study(tmp_path, seed=10, view=view)) == 0x0000
        assert svc.wait_idle(60)
        job = svc.store.jobs()[0]
    assert job.state == "failed" and "lateral" in job.last_error
    assert dest.received == []


def test_logs_are_json_lines_with_uids_and_no_patient_data(tmp_path, dest):
    import json
    import logging

    from ldedit_core.service.logs import LOGGER, setup_logging

    saved = LOGGER.handlers[:], LOGGER.propagate, LOGGER.level
    log_file = tmp_path / "serve.jsonl"
    setup_logging(str(log_file))
    try:
        source = study(tmp_path, seed=11)  # PatientName SERVICE^TEST11, PatientID SVC-11
        with running(service_config(tmp_path / "state", dest.port)) as svc:
            assert c_store(svc.port, source) == 0x0000
            assert c_store(svc.port, _colour(_ds(source))) == DOES_NOT_MATCH
            assert svc.wait_idle(120)
    finally:
        for handler in LOGGER.handlers:
            handler.close()
        LOGGER.handlers[:], LOGGER.propagate = saved[0], saved[1]
        LOGGER.setLevel(saved[2] or logging.NOTSET)
    text = log_file.read_text()
    records = [json.loads(line) for line in text.splitlines()]
    events = [r["event"] for r in records]
    for expected in ("started", "association", "stored", "refused", "job running", "job done", "stopped"):
        assert expected in events
    assert any(r.get("sop") == pydicom.dcmread(source).SOPInstanceUID for r in records)
    assert "SERVICE^TEST11" not in text and "SVC-11" not in text and "20260105" not in text
