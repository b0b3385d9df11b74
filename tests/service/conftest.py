"""Shared pieces for the service tests: a quick configuration, a running service, studies to send."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ldedit_core.service import Peer, Rule, Service, ServiceConfig
from tests.dicom_peers import free_port

#: Few inversion steps: these tests check the node's behaviour; benchmarks/engine.py measures quality.
FAST_EDIT = {"inversion": {"w_steps": 5, "wplus_steps": 5}}


def service_config(state_dir: Path, dest_port: int, **changes) -> ServiceConfig:
    """A loopback service whose only peer is ``DEST`` at ``dest_port``: quick edits, short waits."""
    values = dict(
        port=free_port(),
        state_dir=state_dir,
        stable_age=0.3,
        min_free_mb=0,
        device="cpu",
        backoff_initial=0.2,
        backoff_max=1.0,
        network_timeout=10,
        peers={"DEST": Peer("DEST", "DEST", "127.0.0.1", dest_port)},
        rules={"default": Rule(followups=2, options=FAST_EDIT)},
    )
    values.update(changes)
    return ServiceConfig(**values)


@contextmanager
def running(cfg: ServiceConfig) -> Iterator[Service]:
    service = Service(cfg)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def study(folder: Path, seed: int, *, size: int = 128, view: str = "PA") -> Path:
    """A one-image CR study of phantom ``seed`` (its own patient and Study UID)."""
    from ldedit_core.io import write_radiograph_dicom
    from ldedit_core.phantoms import make_phantom

    path = write_radiograph_dicom(
        make_phantom(seed, size=size).image,
        folder / f"study{seed}.dcm",
        bits_stored=12,
        patient_id=f"SVC-{seed}",
        patient_name=f"SERVICE^TEST{seed}",
        study_date="20260105",
    )
    if view != "PA":
        import pydicom

        ds = pydicom.dcmread(path)
        ds.ViewPosition = view
        ds.save_as(path)
    return path


def c_store(
    port: int, path_or_ds, *, aet: str = "DEST", sop_class: str | None = None, raw: bool = False
) -> int | None:
    """One C-STORE by pynetdicom; the status, or ``None`` when there was no association (pynetdicom aborts
    one in which no presentation context was accepted, e.g. for a SOP Class the node does not take).

    ``raw``: send the file's bytes after its meta as they are (pynetdicom's chunked send), to send
    data sets pydicom could not even parse.
    """
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE, _config

    syntaxes = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
    if raw:  # bytes go as they are: only the file's own transfer syntax will do
        meta = pydicom.filereader.read_file_meta_info(path_or_ds)
        klass, syntaxes = meta.MediaStorageSOPClassUID, [meta.TransferSyntaxUID]
    else:
        ds = path_or_ds if isinstance(path_or_ds, pydicom.Dataset) else pydicom.dcmread(path_or_ds)
        klass = ds.SOPClassUID
    ae = AE(ae_title=aet)
    ae.add_requested_context(sop_class or klass, syntaxes)
    assoc = ae.associate("127.0.0.1", port, ae_title="LDEDIT")
    if not assoc.is_established:
        return None
    try:
        _config.STORE_SEND_CHUNKED_DATASET = raw
        status = assoc.send_c_store(path_or_ds if raw else ds)
        return int(status.Status) if "Status" in status else None
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = False
        assoc.release()


def echo(port: int, aet: str = "DEST") -> bool:
    """C-ECHO through pynetdicom: is the node up and does it accept ``aet``?"""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title=aet)
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="LDEDIT")
    if not assoc.is_established:
        return False
    status = assoc.send_c_echo()
    assoc.release()
    return int(status.Status) == 0


@pytest.fixture
def dest():
    """A recording destination ``DEST`` (started)."""
    from tests.dicom_peers import RecordingStorageSCP

    with RecordingStorageSCP(aet="DEST") as scp:
        yield scp
