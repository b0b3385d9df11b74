"""Pixel data and display attributes of a synthetic follow-up, so that it shows exactly like its source.

A DICOM source keeps its pixel layout (bits, sign, photometric interpretation), Modality LUT and VOI LUT;
the written stored values are ``source.to_stored(frame)``, so unedited pixels are bit-identical. A source
without a VOI LUT gets the linear window LDEdit's reader displayed it with (its own value range), so that a
follow-up whose values moved still displays on the source's scale instead of being re-stretched.

A non-DICOM source that holds 8- or 16-bit unsigned samples displayed over their full range (PNG, TIFF,
:meth:`Radiograph.from_array`) is written as those samples; any other (a float or windowed NRRD, 32-bit TIFF)
is quantised to 16 bits. Both get a full-range window.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from pydicom import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import JPEGBaseline8Bit, JPEGExtended12Bit
from pydicom.valuerep import format_number_as_ds

from ldedit_core.errors import InputError
from ldedit_core.io.intensity import LookupMap
from ldedit_core.io.radiograph import Radiograph

#: Modality LUT, VOI LUT and pixel-value attributes copied from a DICOM source.
DISPLAY_KEYWORDS = (
    "RescaleIntercept", "RescaleSlope", "RescaleType", "ModalityLUTSequence",
    "WindowCenter", "WindowWidth", "WindowCenterWidthExplanation", "VOILUTFunction", "VOILUTSequence",
    "PixelPaddingValue", "PixelPaddingRangeLimit",
    "LossyImageCompression", "LossyImageCompressionRatio", "LossyImageCompressionMethod",
)  # fmt: skip
#: Spacing attributes copied from a DICOM source.
SPACING_KEYWORDS = (
    "PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing",
    "PixelSpacingCalibrationType", "PixelSpacingCalibrationDescription",
)  # fmt: skip
#: Transfer syntaxes that are always lossy: the follow-up inherits the source's lossy history.
LOSSY_SYNTAXES = {JPEGBaseline8Bit: "ISO_10918_1", JPEGExtended12Bit: "ISO_10918_1"}
WORD_TYPES = {(8, False): np.uint8, (8, True): np.int8, (16, False): np.uint16, (16, True): np.int16}


@dataclass(frozen=True)
class PixelLayout:
    """How the follow-up's pixel data is laid out.

    Attributes:
        bits_allocated: 8 or 16.
        bits_stored: 1 .. bits_allocated.
        signed: PixelRepresentation 1.
        photometric: ``"MONOCHROME1"`` or ``"MONOCHROME2"``.
        quantise: True when the source's samples cannot be written as they are (non-DICOM float or
            windowed data): the frame is quantised to 16 bits instead.
    """

    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    quantise: bool = False

    @property
    def word(self) -> type[np.integer]:
        return WORD_TYPES[(self.bits_allocated, self.signed)]


def pixel_layout(source: Radiograph) -> PixelLayout:
    """The layout of the follow-ups of ``source``.

    Raises:
        InputError: a DICOM source with BitsAllocated other than 8 or 16.
    """
    ds = source.dataset
    if ds is not None:
        allocated = int(ds.BitsAllocated)
        if allocated not in (8, 16):
            raise InputError(f"BitsAllocated {allocated} cannot be written back (8 or 16 only)", source.path)
        return PixelLayout(
            bits_allocated=allocated,
            bits_stored=int(ds.BitsStored),
            signed=int(ds.get("PixelRepresentation", 0)) == 1,
            photometric=str(ds.PhotometricInterpretation),
        )
    if _is_full_range_unsigned(source):
        bits = 8 * source.stored.dtype.itemsize
        return PixelLayout(bits, bits, False, "MONOCHROME2")
    return PixelLayout(16, 16, False, "MONOCHROME2", quantise=True)


def stored_words(source: Radiograph, frame: np.ndarray, layout: PixelLayout) -> np.ndarray:
    """The follow-up's stored values for ``frame``, as the pixel data's word type."""
    if layout.quantise:
        return np.rint(np.clip(np.asarray(frame, dtype=np.float64), 0.0, 1.0) * 65535.0).astype(np.uint16)
    return np.ascontiguousarray(source.to_stored(frame).astype(layout.word))


def display_attributes(source: Radiograph, layout: PixelLayout, *, rescale_type: bool) -> Dataset:
    """The Modality LUT, VOI LUT and lossy-compression attributes of the follow-ups.

    Args:
        source: the source radiograph.
        layout: from :func:`pixel_layout`.
        rescale_type: add RescaleType ``US`` (unspecified) when the source has a rescale but no type
            (required in the Modality LUT module of Secondary Capture).
    """
    out = Dataset()
    ds = source.dataset
    if ds is None:
        full = 1 << layout.bits_stored
        out.WindowCenter = format_number_as_ds(full / 2)
        out.WindowWidth = format_number_as_ds(float(full))
        out.WindowCenterWidthExplanation = "FULL RANGE"
        return out
    for keyword in DISPLAY_KEYWORDS:
        if keyword in ds:
            out[keyword] = copy.deepcopy(ds[keyword])
    if rescale_type and "RescaleIntercept" in out and "RescaleType" not in out:
        out.RescaleType = "US"
    if "WindowCenter" not in ds and "VOILUTSequence" not in ds:
        lo, hi = _modality_range(source)
        out.WindowCenter = format_number_as_ds((lo + hi) / 2 + 0.5)
        out.WindowWidth = format_number_as_ds(hi - lo + 1.0)
        out.WindowCenterWidthExplanation = "SOURCE RANGE"
    syntax = str(source.meta.get("transfer_syntax", ""))
    if syntax in LOSSY_SYNTAXES and str(out.get("LossyImageCompression", "")) != "01":
        out.LossyImageCompression = "01"
        out.LossyImageCompressionMethod = LOSSY_SYNTAXES[syntax]
    return out


def spacing_attributes(source: Radiograph) -> Dataset:
    """Pixel spacing: the source's spacing attributes as they are, or PixelSpacing from ``spacing_mm``."""
    out = Dataset()
    if source.dataset is not None:
        for keyword in SPACING_KEYWORDS:
            if keyword in source.dataset:
                out[keyword] = copy.deepcopy(source.dataset[keyword])
    elif source.spacing_mm is not None:
        out.PixelSpacing = [format_number_as_ds(float(s)) for s in source.spacing_mm]
    return out


def _modality_range(source: Radiograph) -> tuple[float, float]:
    """Smallest and largest Modality-LUT output of the source's stored values: the reader's stretch range."""
    present = np.unique(source.stored)
    values = np.asarray(apply_modality_lut(present.astype(np.int64), source.dataset), dtype=np.float64)
    return float(values.min()), float(values.max())


def _is_full_range_unsigned(source: Radiograph) -> bool:
    imap, dtype = source.intensity, np.asarray(source.stored).dtype
    if not isinstance(imap, LookupMap) or imap.lo != 0 or dtype not in (np.uint8, np.uint16):
        return False
    levels = 1 << (8 * dtype.itemsize)
    expected = (np.arange(levels, dtype=np.float64) / (levels - 1)).astype(np.float32)
    return len(imap.table) == levels and bool(np.array_equal(imap.table, expected))
