"""``read_radiograph``: one entry point that recognises the file by its content, not its name."""

from __future__ import annotations

from pathlib import Path

from ldedit_core.errors import InputError
from ldedit_core.io.radiograph import Radiograph

SUPPORTED = "DICOM (CR, DX, Secondary Capture), PNG, JPEG, TIFF or NRRD"


def sniff_format(path: Path) -> str | None:
    """The format named by the file's signature bytes, or None."""
    with path.open("rb") as fh:
        head = fh.read(132)
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"NRRD000"):
        return "nrrd"
    return None


def existing_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path if it is a non-empty file, else an InputError saying which of those it is not."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", path)
    if not path.is_file():
        raise InputError("not a file", path)
    if path.stat().st_size == 0:
        raise InputError(f"empty file: not a {what}", path)
    return path


def read_radiograph(path: str | Path) -> Radiograph:
    """Read a chest radiograph from DICOM, PNG, JPEG, TIFF or NRRD. The file is only ever read.

    Args:
        path: the file.

    Returns:
        A :class:`Radiograph` with ``pixels`` in [0, 1], brighter = more attenuation.

    Raises:
        InputError: naming the file and the problem (missing, not an image, colour, several frames,
            not a radiograph, truncated, absurd size, missing decoder).

    Example:
        >>> rg = read_radiograph("cxr.dcm")
        >>> rg.pixels.shape, rg.spacing_mm
        ((2500, 3000), (0.139, 0.139))
    """
    path = existing_file(path, f"{SUPPORTED} file")
    fmt = sniff_format(path)
    if fmt in ("png", "jpeg", "tiff"):
        from ldedit_core.io.image_read import read_image

        return read_image(path, fmt)
    if fmt == "nrrd":
        from ldedit_core.io.nrrd_read import read_nrrd

        return read_nrrd(path)
    from ldedit_core.io.dicom_read import read_dicom

    if fmt == "dicom":
        return read_dicom(path)
    try:
        return read_dicom(path)  # a DICOM file without the 128-byte preamble
    except InputError as exc:
        if "not a DICOM file" in exc.reason:
            raise InputError(f"not a {SUPPORTED} file", path) from exc
        raise
