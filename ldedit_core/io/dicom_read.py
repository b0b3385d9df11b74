"""Read a single-frame CR, DX or Secondary Capture DICOM radiograph into a :class:`Radiograph`.

Decoding goes through pydicom's pixel handlers (pylibjpeg, openjpeg, pyjpegls plugins for compressed
transfer syntaxes). The display mapping is tabulated over every possible stored value by pydicom's own
``apply_modality_lut`` / ``apply_voi_lut``, so LUT sequences, several windows and sigmoid VOI functions
all work, and the writer can invert the table exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    SecondaryCaptureImageStorage,
)

from ldedit_core.errors import InputError
from ldedit_core.io.intensity import LookupMap, normalise_table
from ldedit_core.io.limits import check_size
from ldedit_core.io.radiograph import Radiograph

RADIOGRAPH_SOP_CLASSES = {
    ComputedRadiographyImageStorage: "CR",
    DigitalXRayImageStorageForPresentation: "DX For Presentation",
    DigitalXRayImageStorageForProcessing: "DX For Processing",
    SecondaryCaptureImageStorage: "Secondary Capture",
}
RADIOGRAPH_MODALITIES = {"CR", "DX", "OT", "RG", "DR"}
MODALITY_NAMES = {
    "CT": "a CT image",
    "MR": "an MR image",
    "US": "an ultrasound image",
    "NM": "a nuclear medicine image",
    "PT": "a PET image",
    "MG": "a mammogram",
    "XA": "an angiography image",
    "RF": "a fluoroscopy image",
    "SEG": "a segmentation",
    "SR": "a structured report",
    "PR": "a presentation state",
}
DECODER_PACKAGES = "pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pyjpegls"


def read_dicom(path: str | Path) -> Radiograph:
    """Read a DICOM radiograph.

    Args:
        path: a DICOM Part 10 file (CR, DX For Presentation/Processing, or Secondary Capture).

    Returns:
        The radiograph; ``dataset`` holds the header (all but Pixel Data).

    Raises:
        InputError: not DICOM, not a single-frame grey radiograph, bad size, truncated or undecodable
            pixel data (naming the decoder package to install when one is missing).
    """
    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as exc:
        raise InputError("not a DICOM file (no DICM prefix and no readable header)", path) from exc
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"unreadable DICOM header ({exc})", path) from exc
    _check_is_radiograph(ds, path)
    stored = _decode(ds, path)
    return _to_radiograph(ds, stored, path)


def _check_is_radiograph(ds: Dataset, path: Path) -> None:
    sop = str(ds.get("SOPClassUID", ""))
    modality = str(ds.get("Modality", "")).upper()
    if sop not in RADIOGRAPH_SOP_CLASSES and modality not in RADIOGRAPH_MODALITIES:
        what = MODALITY_NAMES.get(modality, f"modality {modality or 'unknown'}")
        raise InputError(
            f"not a radiograph: this is {what} (Modality {modality or '-'}, SOP Class {sop or '-'}); "
            "LDEdit edits CR, DX and Secondary Capture chest radiographs",
            path,
        )
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        raise InputError("no pixel data in the file", path)
    samples = int(ds.get("SamplesPerPixel", 1))
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise InputError(
            f"colour image ({photometric or '?'}, {samples} samples per pixel): "
            "a radiograph must be MONOCHROME1 or MONOCHROME2",
            path,
        )
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise InputError(f"more than one frame ({frames}): give a single-frame radiograph", path)
    check_size(int(ds.get("Rows", 0)), int(ds.get("Columns", 0)), path)
    bits = int(ds.get("BitsStored", 0))
    if not 1 <= bits <= 16:
        raise InputError(f"BitsStored {bits} is not supported (1 to 16 bits)", path)


def _decode(ds: Dataset, path: Path) -> np.ndarray:
    tsyntax = ds.file_meta.get("TransferSyntaxUID", None)
    name = getattr(tsyntax, "name", str(tsyntax))
    try:
        arr = ds.pixel_array
    except (RuntimeError, NotImplementedError, ImportError) as exc:
        msg = str(exc)
        if "missing dependencies" in msg or "no pixel data decoders" in msg or "not installed" in msg:
            needs = "; ".join(line.strip() for line in msg.splitlines()[1:] if line.strip())
            raise InputError(
                f"cannot decode its {name} pixel data: no decoder is installed for it"
                + (f" ({needs})" if needs else "")
                + f". Install the plugins with `pip install {DECODER_PACKAGES}`",
                path,
            ) from exc
        raise InputError(f"cannot decode its {name} pixel data ({msg.splitlines()[0]})", path) from exc
    except (ValueError, EOFError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"truncated or corrupt pixel data ({name}): {first}", path) from exc
    if arr.ndim != 2:
        raise InputError(f"pixel data decodes to shape {arr.shape}, expected one grey frame", path)
    return arr


def _to_radiograph(ds: Dataset, stored: np.ndarray, path: Path) -> Radiograph:
    bits = int(ds.BitsStored)
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    lo = -(1 << (bits - 1)) if signed else 0
    every = np.arange(lo, lo + (1 << bits), dtype=np.int64)
    header = ds.copy()
    del header.PixelData
    try:
        values = np.asarray(apply_modality_lut(every, header))
        if values.dtype.kind == "f" and np.array_equal(values, np.rint(values)):
            values = values.astype(np.int64)  # a tabulated VOI LUT indexes by integer value
        has_voi = "VOILUTSequence" in ds or "WindowCenter" in ds
        if has_voi:
            table = normalise_table(np.asarray(apply_voi_lut(values, header, index=0), dtype=np.float64))
        else:
            # No VOI: like a viewer's default, stretch the image's own value range to [0, 1].
            present = values[np.bincount((stored.astype(np.int64) - lo).ravel(), minlength=len(values)) > 0]
            table = normalise_table(values, float(present.min()), float(present.max()))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise InputError(f"invalid Modality or VOI LUT ({exc})", path) from exc
    photometric = str(ds.PhotometricInterpretation)
    if photometric == "MONOCHROME1":
        table = (1.0 - table).astype(np.float32)
    lut = LookupMap(lo=lo, table=table, dtype=stored.dtype)
    return Radiograph(
        pixels=lut.forward(stored),
        stored=stored,
        intensity=lut,
        spacing_mm=_spacing(ds),
        path=path,
        dataset=header,
        format="dicom",
        meta={
            "bits_stored": bits,
            "bits_allocated": int(ds.BitsAllocated),
            "signed": signed,
            "photometric": photometric,
            "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
            "sop_class": str(ds.get("SOPClassUID", "")),
            "has_voi": has_voi,
        },
    )


def _spacing(ds: Dataset) -> tuple[float, float] | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        value = ds.get(keyword)
        if value is not None and len(value) == 2:
            row, col = float(value[0]), float(value[1])
            if row > 0 and col > 0:
                return (row, col)
    return None
