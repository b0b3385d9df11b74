"""The loopback DICOM peers of tests/dicom_peers.py really talk DICOM: Orthanc, the recording SCP, dcmtk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ldedit_core.io.dicom_create import write_radiograph_dicom
from tests.dicom_peers import OrthancError, OrthancServer, RecordingStorageSCP, free_port, run_tool
from tests.tools import require_tool

pytestmark = pytest.mark.tools


@pytest.fixture
def small_dicom(tmp_path: Path) -> Path:
    """A tiny valid CR instance: 64 px keeps every transfer in milliseconds."""
    image = np.random.default_rng(3).random((64, 64))
    return write_radiograph_dicom(image, tmp_path / "small.dcm", patient_id="PEER0001", study_date="20260102")


def _storescu(scp: RecordingStorageSCP, path: Path) -> int:
    exe = require_tool("storescu", "dcmtk")
    result = run_tool([exe, "-aec", scp.aet, "-to", "5", scp.host, str(scp.port), str(path)], timeout=30)
    return result.returncode


def test_orthanc_starts_and_stores_upload(small_dicom: Path) -> None:
    require_tool("Orthanc", "orthanc")
    with OrthancServer(aet="PEERTEST") as orthanc:
        system = orthanc.rest_get("/system")
        assert system["DicomAet"] == "PEERTEST"
        assert system["DicomPort"] == orthanc.dicom_port
        answer = orthanc.upload(small_dicom)
        assert answer["Status"] == "Success"
        studies = orthanc.studies()
        assert studies == [answer["ParentStudy"]]
        assert orthanc.study(studies[0])["PatientMainDicomTags"]["PatientID"] == "PEER0001"
        assert orthanc.instance_tags(answer["ID"])["PatientID"] == "PEER0001"
        workdir = orthanc.workdir
        assert workdir is not None and (workdir / "storage").is_dir()
    assert orthanc.process is None and not workdir.exists()


def test_recording_scp_down_and_back_on_same_port(small_dicom: Path) -> None:
    require_tool("storescu", "dcmtk")
    with RecordingStorageSCP("RECEIVER") as scp:
        port = scp.port
        assert _storescu(scp, small_dicom) == 0
        assert scp.wait_for(1, timeout=5)
        scp.stop()
        assert _storescu(scp, small_dicom) != 0
        scp.start()
        assert scp.port == port
        assert _storescu(scp, small_dicom) == 0
        assert scp.wait_for(2, timeout=5)
    uid = str(scp.received[0].SOPInstanceUID)
    assert scp.counts == {uid: 2}
    assert scp.received[1].PatientID == "PEER0001"
    assert scp.received[1].file_meta.TransferSyntaxUID


def test_orthanc_sends_study_to_recording_scp(small_dicom: Path) -> None:
    require_tool("Orthanc", "orthanc")
    with (
        RecordingStorageSCP("DEST") as scp,
        OrthancServer(
            {"dest": ("DEST", "127.0.0.1", scp.port), "down": ("NONE", "127.0.0.1", free_port())}
        ) as orthanc,
    ):
        assert orthanc.echo("dest")
        assert not orthanc.echo("down")
        study_id = orthanc.upload(small_dicom)["ParentStudy"]
        answer = orthanc.send_study("dest", study_id)
        assert answer["InstancesCount"] == 1
        assert scp.wait_for(1, timeout=5)
    assert scp.calling_aets == [orthanc.aet]
    assert scp.received[0].PatientID == "PEER0001"
    assert list(scp.counts.values()) == [1]


def test_orthanc_store_fails_when_scp_refuses(small_dicom: Path) -> None:
    """A refusing destination (status 0xA700) makes Orthanc's store fail loudly, yet the SCP saw it."""
    require_tool("Orthanc", "orthanc")
    with (
        RecordingStorageSCP("FULL", status=0xA700) as scp,
        OrthancServer({"full": (scp.aet, scp.host, scp.port)}) as orthanc,
    ):
        study_id = orthanc.upload(small_dicom)["ParentStudy"]
        with pytest.raises(OrthancError, match="0xA700"):
            orthanc.send_study("full", study_id)
    assert len(scp.received) == 1
