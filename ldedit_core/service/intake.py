"""Receipt of one C-STORE: check the instance, then put it in the spool durably, before answering.

The statuses are the Storage Service Class ones (PS3.4 B.2.3) a sending PACS understands:

- ``0x0000`` Success: the file is on disk (written, fsynced, renamed) and recorded in the job queue.
- ``0xA700`` Refused, Out of Resources: the disk is (nearly) full, or the instance is larger than allowed.
- ``0xA900`` Error, Data Set does not match SOP Class: the command and the data set disagree, required
  attributes are missing, or a CR/DX image is not greyscale.
- ``0xC000`` Error, Cannot understand: the data set cannot be parsed or its pixels cannot be decoded
  (truncated, unsupported compression, colour Secondary Capture).

SOP Classes LDEdit cannot use (CT, MR, ...) are not even accepted: their presentation contexts are
rejected at association, as Orthanc and dcmtk's storescp do for classes they are not configured for.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ldedit_core.errors import InputError
from ldedit_core.io import read_radiograph
from ldedit_core.io.roi_read import seg_summary

CR = "1.2.840.10008.5.1.4.1.1.1"
DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
DX_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
IMAGE_CLASSES = (CR, DX_PRESENTATION, DX_PROCESSING, SECONDARY_CAPTURE)
ACCEPTED_CLASSES = (*IMAGE_CLASSES, SEGMENTATION)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


@dataclass(frozen=True)
class Checked:
    """What the spool and the queue need of an accepted instance."""

    sop_class: str
    sop_uid: str
    study_uid: str
    series_uid: str


class Refused(Exception):
    """An instance is refused: ``status`` for the C-STORE response, ``reason`` for it and the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_room(spool: Path, size: int, *, min_free_mb: float, max_instance_mb: float) -> None:
    """Refuse (Out of Resources) an instance too large, or one that would leave too little disk."""
    if size > max_instance_mb * 1e6:
        raise Refused(OUT_OF_RESOURCES, f"instance of {size / 1e6:.0f} MB exceeds max_instance_mb")
    free = shutil.disk_usage(spool).free
    if free - size < min_free_mb * 1e6:
        raise Refused(OUT_OF_RESOURCES, f"only {free / 1e6:.0f} MB free on the spool disk")


def check_instance(path: Path, command_class: str, command_uid: str) -> Checked:
    """Parse the received file and check it is an instance LDEdit can use (raises :class:`Refused`)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, defer_size="64 KB")  # Pixel Data is seen, but not read here
    except Exception as exc:  # any parser failure means the same to the sender
        raise Refused(CANNOT_UNDERSTAND, f"cannot parse the data set ({type(exc).__name__})") from None
    if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
        raise Refused(CANNOT_UNDERSTAND, "no SOP Class/Instance UID: not a data set that can be read")
    sop_class = str(ds.SOPClassUID)
    sop_uid = str(ds.SOPInstanceUID)
    if sop_class != command_class or sop_uid != command_uid:
        raise Refused(
            DOES_NOT_MATCH, "SOP Class/Instance UID of the data set differ from the C-STORE request"
        )
    uids = {k: str(ds.get(k, "")) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")}
    bad = [k for k, v in uids.items() if not (_UID.match(v) and len(v) <= 64)]
    if bad:
        raise Refused(DOES_NOT_MATCH, f"missing or malformed {', '.join(bad)}")
    if sop_class in IMAGE_CLASSES:
        _check_image(ds, path, sop_class)
    elif sop_class == SEGMENTATION:
        try:
            seg_summary(path)
        except InputError as exc:
            raise Refused(CANNOT_UNDERSTAND, exc.reason) from None
    return Checked(sop_class, sop_uid, uids["StudyInstanceUID"], uids["SeriesInstanceUID"])


def _check_image(ds, path: Path, sop_class: str) -> None:
    missing = [k for k in ("PixelData", "Rows", "Columns") if k not in ds]
    if missing:
        raise Refused(DOES_NOT_MATCH, f"image without {', '.join(missing)}")
    colour = int(ds.get("SamplesPerPixel", 1)) != 1 or not str(
        ds.get("PhotometricInterpretation", "MONOCHROME2")
    ).startswith("MONOCHROME")
    if colour and sop_class != SECONDARY_CAPTURE:
        raise Refused(DOES_NOT_MATCH, "a CR/DX image must be MONOCHROME1/2 with one sample per pixel")
    try:
        read_radiograph(path)  # decodes the pixels: catches truncation, colour SC, missing codecs
    except InputError as exc:
        raise Refused(CANNOT_UNDERSTAND, exc.reason) from None


def spool_instance(received: Path, checked: Checked, spool: Path) -> Path:
    """Move (or copy) the received file to ``spool/<study>/<sop>.dcm`` durably; returns the final path.

    The file is fsynced under a temporary name and renamed, and the folder is fsynced, so a crash never
    leaves a half file under a real name. A second copy of the same instance replaces the first.

    Raises:
        Refused: Out of Resources when the disk fills up (nothing is left behind).
    """
    final = spool / checked.study_uid / f"{checked.sop_uid}.dcm"
    incoming = spool / ".incoming"
    part = incoming / f"{uuid.uuid4().hex}.part"
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        incoming.mkdir(parents=True, exist_ok=True)
        try:
            os.link(received, part)  # same file system: no copy
        except OSError:
            shutil.copyfile(received, part)
        with open(part, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(part, final)
        _fsync_dir(final.parent)
    except OSError as exc:
        part.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise Refused(OUT_OF_RESOURCES, "the spool disk is full") from None
        raise
    return final


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
