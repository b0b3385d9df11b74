"""A real Orthanc as the PACS: it sends a study to ``ldedit serve`` and gets the follow-up studies back."""

from __future__ import annotations

import time
from pathlib import Path

import pydicom
import pytest

from ldedit_core.service import Peer
from tests.dicom_peers import OrthancServer, free_port
from tests.service.conftest import running, service_config, study
from tests.tools import require_tool

ROUTE_LUA = Path(__file__).parents[2] / "docs" / "orthanc" / "ldedit-route.lua"
FOLLOWUPS = 2


@pytest.fixture
def orthanc_and_service(tmp_path, request):
    """Orthanc (knows LDEDIT) and the service (knows ORTHANC), started; the Lua rule when asked."""
    require_tool("Orthanc", "orthanc")
    port = free_port()
    extra = {"LuaScripts": [str(ROUTE_LUA)]} if getattr(request, "param", False) else {}
    with OrthancServer(
        {"LDEDIT": ("LDEDIT", "127.0.0.1", port)}, stable_age=1, extra_config=extra
    ) as orthanc:
        peer = Peer("ORTHANC", "ORTHANC", "127.0.0.1", orthanc.dicom_port)
        cfg = service_config(tmp_path / "state", 0, port=port, peers={"ORTHANC": peer})
        with running(cfg) as svc:
            yield orthanc, svc


def _check_followups(orthanc: OrthancServer, source: Path) -> None:
    src = pydicom.dcmread(source)
    studies = {s: orthanc.study(s) for s in orthanc.studies()}
    assert len(studies) == 1 + FOLLOWUPS
    uids = {s["MainDicomTags"]["StudyInstanceUID"] for s in studies.values()}
    assert len(uids) == 1 + FOLLOWUPS and src.StudyInstanceUID in uids
    followups = [
        s for s in studies.values() if s["MainDicomTags"]["StudyInstanceUID"] != src.StudyInstanceUID
    ]
    assert {s["PatientMainDicomTags"]["PatientID"] for s in followups} == {src.PatientID}
    dates = [s["MainDicomTags"]["StudyDate"] for s in followups]
    assert len(set(dates)) == FOLLOWUPS and min(dates) > src.StudyDate
    for s in followups:
        instance = orthanc.rest_get(f"/series/{s['Series'][0]}")["Instances"][0]
        tags = orthanc.rest_get(f"/instances/{instance}/tags?short")
        assert tags["0008,001c"] == "YES"  # Synthetic Data
    source_study = next(
        s for s in studies.values() if s["MainDicomTags"]["StudyInstanceUID"] == src.StudyInstanceUID
    )
    modalities = {
        orthanc.rest_get(f"/series/{x}")["MainDicomTags"]["Modality"] for x in source_study["Series"]
    }
    assert modalities == {"CR", "SEG"}  # the ROI came back into the source study


def test_orthanc_sends_a_study_and_gets_follow_ups_back(tmp_path, orthanc_and_service):
    orthanc, svc = orthanc_and_service
    source = study(tmp_path, seed=21)
    study_id = orthanc.upload(source)["ParentStudy"]
    answer = orthanc.send_study("LDEDIT", study_id)
    assert answer["InstancesCount"] == 1
    assert svc.wait_idle(180)
    assert [j.state for j in svc.store.jobs()] == ["done"]
    _check_followups(orthanc, source)


@pytest.mark.parametrize("orthanc_and_service", [True], indirect=True)
def test_the_documented_routing_rule_forwards_new_studies_once(tmp_path, orthanc_and_service):
    orthanc, svc = orthanc_and_service
    source = study(tmp_path, seed=22)
    orthanc.upload(source)  # no REST send: Orthanc's Lua rule forwards the study when it is stable
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not svc.store.jobs():
        time.sleep(0.2)
    assert svc.wait_idle(180)
    time.sleep(4)  # the SEG reopened the source study: it becomes stable again and must not loop
    assert svc.wait_idle(60)
    assert [j.state for j in svc.store.jobs()] == ["done"]
    _check_followups(orthanc, source)
