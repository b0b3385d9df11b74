"""The in-memory radiograph every LDEdit layer works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ldedit_core.io.intensity import IntensityMap

if TYPE_CHECKING:
    from pydicom import Dataset


@dataclass(eq=False)
class Radiograph:
    """A single-frame grey radiograph, normalised for editing, with what is needed to write it back.

    Attributes:
        pixels: float32 ``(rows, cols)`` in [0, 1]; brighter = more attenuation, whatever the file's
            photometric interpretation (MONOCHROME1 is inverted on reading). For DICOM the Modality LUT
            and the first VOI LUT / window are applied, as a viewer shows it by default.
        stored: the source's stored values, decompressed, same shape (integers for DICOM and images).
        intensity: the exact map ``stored -> pixels`` and its inverse.
        spacing_mm: (row, column) spacing in millimetres, when the file says it.
        path: the file it was read from.
        dataset: for DICOM, the source header (every element except Pixel Data).
        format: ``"dicom"``, ``"png"``, ``"jpeg"``, ``"tiff"``, ``"nrrd"``, or ``"array"``.
        meta: format details the writer may need (bits stored, photometric interpretation, ...).
    """

    pixels: np.ndarray
    stored: np.ndarray
    intensity: IntensityMap
    spacing_mm: tuple[float, float] | None = None
    path: Path | None = None
    dataset: Dataset | None = None
    format: str = "array"
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.pixels.shape)  # type: ignore[return-value]

    def to_stored(self, frame: np.ndarray) -> np.ndarray:
        """Map an edited frame (same domain and shape as ``pixels``) back to stored values.

        Pixels equal to the source's (``frame == pixels``) get the source's stored value exactly, so an
        unedited region, or an unedited frame, is written bit-identical; the rest is inverted through the
        intensity map.

        Raises:
            ValueError: if ``frame`` does not have the shape of ``pixels``.
        """
        frame = np.asarray(frame)
        if frame.shape != self.pixels.shape:
            raise ValueError(f"frame has shape {frame.shape}, expected the source's {self.pixels.shape}")
        changed = frame != self.pixels
        out = self.stored.copy()
        # only the edited pixels need the (nearest-value search) inverse: usually a small region
        out[changed] = self.intensity.inverse(frame[changed])
        return out

    @classmethod
    def from_array(cls, pixels: np.ndarray, spacing_mm: tuple[float, float] | None = None) -> Radiograph:
        """Wrap an in-memory image in [0, 1] (e.g. a phantom), stored as 16-bit unsigned values."""
        from ldedit_core.io.intensity import LookupMap

        arr = np.asarray(pixels, dtype=np.float32)
        if arr.ndim != 2:
            raise ValueError(f"pixels must be 2-D, got shape {arr.shape}")
        table = (np.arange(65536, dtype=np.float64) / 65535.0).astype(np.float32)
        lut = LookupMap(lo=0, table=table, dtype=np.dtype(np.uint16))
        stored = lut.inverse(arr)
        return cls(
            pixels=lut.forward(stored),
            stored=stored,
            intensity=lut,
            spacing_mm=spacing_mm,
            format="array",
            meta={"bits_stored": 16, "signed": False, "photometric": "MONOCHROME2"},
        )
