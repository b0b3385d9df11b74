"""Sending results by C-STORE, one association per attempt, recording each acknowledged instance.

The caller records every instance the destination acknowledged (``on_sent``), so an attempt cut short (the
destination went down, the server was killed) resumes with the rest: nothing is lost or sent twice, apart
from the one instance in flight at a ``kill -9``, which the destination then receives again with the same
SOP Instance UID (storage SCPs treat that as a duplicate).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ldedit_core.service.config import Peer

#: Storage statuses meaning "stored": Success and the three Warnings (coercion, elements discarded, ...).
STORED = {0x0000, 0xB000, 0xB006, 0xB007}


class DeliveryError(Exception):
    """A delivery attempt failed; the job is retried later."""


def backoff(attempt: int, initial: float, maximum: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): doubling, capped."""
    return min(maximum, initial * 2 ** max(attempt - 1, 0))


def send_files(
    files: list[Path],
    peer: Peer,
    calling_ae: str,
    on_sent: Callable[[Path], None],
    *,
    timeout: float = 60.0,
    max_pdu: int = 16382,
) -> None:
    """C-STORE ``files`` to ``peer`` on one association; ``on_sent(path)`` after each acknowledgement.

    Raises:
        DeliveryError: the association could not be made, or an instance was refused or not answered.
    """
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE

    if not files:
        return
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.maximum_pdu_size = max_pdu
    headers = {}
    for path in files:
        meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
        headers[path] = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
    for sop_class, syntax in sorted(set(headers.values())):
        syntaxes = dict.fromkeys([syntax, ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        ae.add_requested_context(sop_class, list(syntaxes))
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title)
    if not assoc.is_established:
        raise DeliveryError(f"no association with {peer.ae_title}@{peer.host}:{peer.port}")
    try:
        for path in files:
            status = assoc.send_c_store(path)
            code = int(status.Status) if status is not None and "Status" in status else None
            if code not in STORED:
                what = "no response" if code is None else f"status 0x{code:04X}"
                raise DeliveryError(f"{peer.ae_title} refused {path.name}: {what}")
            on_sent(path)
    finally:
        if assoc.is_established:
            assoc.release()
