"""Every radiograph variant the reader must handle, written by the tests themselves.

Each variant encodes one known attenuation image ``truth`` (values in [0, 1], brighter = more attenuation),
so tests can check both the decoded stored values (``expected_stored``) and the display mapping.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    SecondaryCaptureImageStorage,
)

from ldedit_core.io import new_radiograph_dataset
from tests.tools import require_tool

ROWS, COLS = 64, 48


def truth_image(rows: int = ROWS, cols: int = COLS) -> np.ndarray:
    """A smooth ramp plus a bright disc: covers the whole [0, 1] range, asymmetric so flips show."""
    y, x = np.mgrid[0:rows, 0:cols] / np.array([rows, cols])[:, None, None]
    img = 0.15 + 0.6 * y + 0.1 * x
    img = np.where((y - 0.3) ** 2 + (x - 0.35) ** 2 < 0.02, 0.95, img)
    img[0, 0], img[-1, -1] = 0.0, 1.0
    return img.astype(np.float64)


@dataclass
class Variant:
    """A written test file and what it should decode to."""

    name: str
    path: Path
    truth: np.ndarray
    expected_stored: np.ndarray | None  # None for lossy encodings
    lossy: bool = False


def _quantise(truth: np.ndarray, bits: int, signed: bool = False, mono1: bool = False) -> np.ndarray:
    levels = (1 << bits) - 1
    q = np.rint((1.0 - truth if mono1 else truth) * levels).astype(np.int64)
    if signed:
        q -= 1 << (bits - 1)
        return q.astype(np.int16)
    return q.astype(np.uint8 if bits == 8 else np.uint16)


def _dicom(
    name: str,
    tmp: Path,
    *,
    modality: str = "CR",
    bits: int = 12,
    mono1: bool = False,
    signed: bool = False,
    edit: Callable[[Dataset], None] | None = None,
) -> Variant:
    truth = truth_image()
    stored = _quantise(truth, bits, signed, mono1)
    ds = new_radiograph_dataset(
        stored,
        modality=modality,
        bits_stored=bits,
        photometric="MONOCHROME1" if mono1 else "MONOCHROME2",
        patient_name="VARIANT^TEST",
        patient_id=f"VAR-{name}",
    )
    if edit is not None:
        edit(ds)
    path = tmp / f"{name}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return Variant(name, path, truth, stored)


def _rescaled(ds: Dataset) -> None:
    """Rescale slope/intercept, with the window moved into the rescaled domain."""
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 0.5, -1024, "US"
    ds.WindowCenter = float(ds.WindowCenter) * 0.5 - 1024
    ds.WindowWidth = float(ds.WindowWidth) * 0.5


def _two_windows(ds: Dataset) -> None:
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    ds.WindowCenter, ds.WindowWidth = [c, c / 2], [w, w / 4]
    ds.WindowCenterWidthExplanation = ["FULL", "NARROW"]


def _modality_lut_sequence(ds: Dataset) -> None:
    """A tabulated Modality LUT: stored v -> 16 v (12-bit in, 16-bit out), window in the output domain.

    dciodvfy requires 16-bit LUT data to use its high bit, hence the factor 16.
    """
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.ModalityLUTType = "US"
    item.LUTData = (np.arange(4096, dtype="<u2") * 16).tobytes()
    ds.ModalityLUTSequence = [item]
    ds.WindowCenter, ds.WindowWidth = 32760.0, 65520.0


def _voi_lut_sequence(ds: Dataset) -> None:
    """A tabulated VOI LUT (square-root curve) replacing the window."""
    del ds.WindowCenter, ds.WindowWidth
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.LUTExplanation = "SQRT"
    item.LUTData = np.rint(np.sqrt(np.arange(4096) / 4095.0) * 65535).astype("<u2").tobytes()
    ds.VOILUTSequence = [item]


def _sigmoid(ds: Dataset) -> None:
    ds.VOILUTFunction = "SIGMOID"


def _no_window(ds: Dataset) -> None:
    del ds.WindowCenter, ds.WindowWidth


def _as_secondary_capture(ds: Dataset) -> None:
    """A Secondary Capture of a radiograph (as many PACS exports are), 8 bit, no spacing of its own."""
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    for kw in ("ImagerPixelSpacing", "PixelSpacing", "ViewPosition", "BodyPartExamined"):
        if kw in ds:
            delattr(ds, kw)
    ds.NominalScannedPixelSpacing = [0.2, 0.2]


def _compress(ds: Dataset, syntax: str) -> None:
    ds.compress(syntax, encoding_plugin="pylibjpeg" if syntax == JPEG2000Lossless else "")


def _jpeg_baseline(ds: Dataset) -> None:
    """Lossy 8-bit JPEG baseline, encoded with Pillow and encapsulated (pydicom has no JPEG encoder)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(ds.pixel_array.astype(np.uint8)).save(buf, format="JPEG", quality=95)
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = 2.0
    ds.LossyImageCompressionMethod = "ISO_10918_1"


def _dcmtk_jpeg_lossless(v: Variant) -> Variant:
    """JPEG Lossless (process 14, SV1) through dcmtk's dcmcjpeg: no Python package encodes it."""
    exe = require_tool("dcmcjpeg", "dcmtk")
    out = v.path.with_name(v.name + "_jpll.dcm")
    subprocess.run([exe, "+e1", str(v.path), str(out)], check=True, capture_output=True)
    return Variant(v.name + "_jpeg_lossless", out, v.truth, v.expected_stored)


VARIANT_BUILDERS: dict[str, Callable[[Path], Variant]] = {
    "cr_mono2_12": lambda t: _dicom("cr_mono2_12", t),
    "cr_mono1_10": lambda t: _dicom("cr_mono1_10", t, bits=10, mono1=True),
    "cr_8bit": lambda t: _dicom("cr_8bit", t, bits=8),
    "cr_signed_16": lambda t: _dicom("cr_signed_16", t, bits=16, signed=True),
    "cr_rescale_12": lambda t: _dicom("cr_rescale_12", t, edit=_rescaled),
    "cr_two_windows_14": lambda t: _dicom("cr_two_windows_14", t, bits=14, edit=_two_windows),
    "cr_modality_lut_seq": lambda t: _dicom("cr_modality_lut_seq", t, edit=_modality_lut_sequence),
    "cr_voi_lut_seq": lambda t: _dicom("cr_voi_lut_seq", t, edit=_voi_lut_sequence),
    "cr_sigmoid": lambda t: _dicom("cr_sigmoid", t, edit=_sigmoid),
    "dx_presentation_14": lambda t: _dicom("dx_presentation_14", t, modality="DX", bits=14),
    "dx_presentation_mono1": lambda t: _dicom("dx_presentation_mono1", t, modality="DX", mono1=True),
    "dx_processing_16": lambda t: _dicom("dx_processing_16", t, modality="DX-PROCESSING", bits=16),
    "cr_no_window_16": lambda t: _dicom("cr_no_window_16", t, bits=16, edit=_no_window),
    "sc_8bit": lambda t: _dicom("sc_8bit", t, bits=8, edit=_as_secondary_capture),
    "rle_12": lambda t: _dicom("rle_12", t, edit=lambda d: _compress(d, RLELossless)),
    "jpegls_16": lambda t: _dicom("jpegls_16", t, bits=16, edit=lambda d: _compress(d, JPEGLSLossless)),
    "j2k_12": lambda t: _dicom("j2k_12", t, edit=lambda d: _compress(d, JPEG2000Lossless)),
    "jpeg_lossless_12": lambda t: _dcmtk_jpeg_lossless(_dicom("jpeg_lossless_src", t)),
}


def _jpeg_baseline_variant(tmp: Path) -> Variant:
    v = _dicom("jpeg_baseline_8", tmp, bits=8, edit=_jpeg_baseline)
    return Variant(v.name, v.path, v.truth, None, lossy=True)


VARIANT_BUILDERS["jpeg_baseline_8"] = _jpeg_baseline_variant

#: Names of every DICOM variant; parametrize tests over this.
VARIANTS = sorted(VARIANT_BUILDERS)
#: Lossless variants: stored values decode exactly.
LOSSLESS_VARIANTS = [n for n in VARIANTS if n != "jpeg_baseline_8"]


def make_variant(name: str, tmp_path: Path) -> Variant:
    """Write variant ``name`` into ``tmp_path`` and describe it."""
    return VARIANT_BUILDERS[name](Path(tmp_path))
