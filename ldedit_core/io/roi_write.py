"""Write an ROI mask for other tools: a NRRD on the radiograph's grid, or a DICOM SEG of the DICOM source.

Both writers write a temporary file next to the target and then link it into place, so a reader never
sees half a file, and an existing file (the user's input above all) is never replaced.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from ldedit_core import __version__
from ldedit_core.errors import InputError
from ldedit_core.io.radiograph import Radiograph
from ldedit_core.io.synthetic_marking import LO_MAX, ST_MAX, check_text, ensure_charset, fit
from ldedit_core.io.uids import DEFAULT_UID_ROOT, new_uid

LOGGER = logging.getLogger(__name__)
DEFAULT_DESCRIPTION = "Region of interest for LDEdit disease-progression editing"
#: SegmentedPropertyCategory / Type of the ROI: a lesion (CID 7150 / CID 7151).
LESION_CATEGORY: Code = codes.cid7150.MorphologicallyAbnormalStructure
LESION_TYPE: Code = codes.SCT.Lesion
ALGORITHM_TYPES = ("MANUAL", "SEMIAUTOMATIC", "AUTOMATIC")
#: NRRD header fields copied from a NRRD radiograph, so that the mask overlays it.
GEOMETRY_KEYS = ("space", "space dimension", "space directions", "space origin", "space units")


def write_roi_nrrd(mask: np.ndarray, path: str | Path, *, radiograph: Radiograph | None = None) -> Path:
    """Write ``mask`` as a NRRD that 3D Slicer overlays on the radiograph.

    A binary mask is written as unsigned 8-bit 0/1, a soft one as float32. With a radiograph read from
    NRRD, the file has its array layout and its ``space``, ``space directions`` and ``space origin``;
    otherwise it is one slice (1, rows, cols) in LPS space with the radiograph's pixel spacing (1 mm
    when unknown) and origin 0. :func:`read_roi` reads it back exactly.

    Args:
        mask: 2-D mask in [0, 1]: bool, integers 0/1 or floats.
        path: the output file; it must not exist. Its folder is created.
        radiograph: the image the mask belongs to (its size is checked and its geometry copied).

    Returns:
        The written path.

    Raises:
        TypeError: ``mask`` is not a numeric array, or ``radiograph`` not a Radiograph.
        ValueError: ``mask`` not 2-D, not finite, outside [0, 1], all zero, or not the radiograph's size.
        FileExistsError: ``path`` exists.

    Example:
        >>> write_roi_nrrd(roi, "out/cxr-roi.nrrd", radiograph=rg)
        PosixPath('out/cxr-roi.nrrd')
    """
    import nrrd

    if radiograph is not None and not isinstance(radiograph, Radiograph):
        raise TypeError(f"radiograph must be a Radiograph or None, got {type(radiograph).__name__}")
    arr, binary = _check_mask(mask, radiograph.shape if radiograph is not None else None)
    data = arr.astype(np.uint8) if binary else arr.astype(np.float32)
    data, header = _nrrd_layout(data, radiograph)
    header["encoding"] = "gzip"
    path = Path(path)
    _atomic_write(path, lambda tmp: nrrd.write(str(tmp), data, header, index_order="C"))
    LOGGER.info("wrote the ROI (%s) to %s", "binary" if binary else "soft", path)
    return path


def write_roi_seg(
    mask: np.ndarray,
    radiograph: Radiograph,
    path: str | Path,
    *,
    label: str = "ROI",
    description: str = DEFAULT_DESCRIPTION,
    algorithm_name: str = "LDEdit",
    algorithm_type: str = "MANUAL",
    fractional: bool = False,
    category: Code = LESION_CATEGORY,
    property_type: Code = LESION_TYPE,
    series_number: int = 1,
    uid_root: str = DEFAULT_UID_ROOT,
) -> Path:
    """Write ``mask`` as a DICOM Segmentation (SEG) of ``radiograph``, in a new series of its study.

    The SEG (built with highdicom) references the radiograph's SOP instance (Referenced Series Sequence and
    each frame's Derivation Image Sequence), has the radiograph's rows and columns, Patient Orientation and
    patient/study, and one segment: ``label``, coded as ``category`` / ``property_type`` (default:
    Morphologically Abnormal Structure / Lesion, SCT), algorithm type ``algorithm_type``. Its Series
    Description starts with ``LDEdit ROI``; Manufacturer is LDEdit.

    Args:
        mask: 2-D mask in [0, 1] of the radiograph's size: bool, integers 0/1 or floats.
        radiograph: a radiograph read from DICOM (its header is the SEG's source).
        path: the output file; it must not exist. Its folder is created.
        label: SegmentLabel (at most 64 characters).
        description: SegmentDescription, and the ContentDescription (cut to 64 characters).
        algorithm_name: SegmentAlgorithmName, for ``AUTOMATIC`` and ``SEMIAUTOMATIC`` segments (DICOM
            forbids it for ``MANUAL`` ones).
        algorithm_type: ``"MANUAL"`` (a user painted it), ``"SEMIAUTOMATIC"`` or ``"AUTOMATIC"``.
        fractional: write a FRACTIONAL (probability, 8-bit) SEG, for soft masks; default BINARY.
        category: SegmentedPropertyCategoryCodeSequence code.
        property_type: SegmentedPropertyTypeCodeSequence code.
        series_number: the SEG's SeriesNumber.
        uid_root: root of the new Series and SOP Instance UIDs.

    Returns:
        The written path.

    Raises:
        InputError: the radiograph did not come from DICOM (a SEG must reference a DICOM image).
        TypeError / ValueError: a bad argument, named; a soft mask without ``fractional=True``.
        FileExistsError: ``path`` exists.

    Example:
        >>> rg = read_radiograph("cxr.dcm")
        >>> write_roi_seg(roi, rg, "out/cxr-roi-seg.dcm", label="effusion")
        PosixPath('out/cxr-roi-seg.dcm')
    """
    import highdicom as hd
    from highdicom.seg import SegmentAlgorithmTypeValues, Segmentation, SegmentDescription

    if not isinstance(radiograph, Radiograph):
        raise TypeError(f"radiograph must be a Radiograph, got {type(radiograph).__name__}")
    source = radiograph.dataset
    if source is None or "SOPInstanceUID" not in source:
        raise InputError(
            f"a DICOM SEG must reference a DICOM image, but this radiograph is a {radiograph.format} image: "
            "read the DICOM original, or write the ROI with write_roi_nrrd",
            radiograph.path,
        )
    arr, binary = _check_mask(mask, radiograph.shape)
    if not binary and not fractional:
        raise ValueError("mask has values between 0 and 1: pass fractional=True, or threshold it first")
    label = _check_length(check_text(label, "label", allow_empty=False), "label", LO_MAX)
    description = _check_length(
        check_text(description, "description", allow_empty=False), "description", ST_MAX
    )
    algorithm_name = _check_length(
        check_text(algorithm_name, "algorithm_name", allow_empty=False), "algorithm_name", LO_MAX
    )
    kind = _algorithm_type(algorithm_type)
    for name, code in (("category", category), ("property_type", property_type)):
        if not isinstance(code, (Code, hd.sr.CodedConcept)):
            raise TypeError(f"{name} must be a pydicom Code, got {type(code).__name__} {code!r}")
    if (
        isinstance(series_number, bool)
        or not isinstance(series_number, int)
        or not 1 <= series_number < 2**31
    ):
        raise ValueError(f"series_number must be an int in 1..2**31-1, got {series_number!r}")
    new_uid(uid_root)  # raises ValueError naming uid_root when it is malformed

    algorithm = None
    if kind != "MANUAL":
        algorithm = hd.AlgorithmIdentificationSequence(
            name=algorithm_name, family=codes.cid7162.ArtificialIntelligence, version=__version__
        )
    segment = SegmentDescription(
        segment_number=1,
        segment_label=label,
        segmented_property_category=category,
        segmented_property_type=property_type,
        algorithm_type=SegmentAlgorithmTypeValues(kind),
        algorithm_identification=algorithm,
    )
    segment.SegmentDescription = description
    seg = Segmentation(
        source_images=[source],
        pixel_array=(arr if fractional else arr.astype(np.uint8))[None],
        segmentation_type="FRACTIONAL" if fractional else "BINARY",
        segment_descriptions=[segment],
        series_instance_uid=new_uid(uid_root),
        series_number=series_number,
        sop_instance_uid=new_uid(uid_root),
        instance_number=1,
        manufacturer="LDEdit",
        manufacturer_model_name="LDEdit ROI writer",
        software_versions=__version__,
        device_serial_number="none",
        fractional_type="PROBABILITY" if fractional else None,
        content_label="LDEDIT_ROI",
        content_description=fit(description, LO_MAX),
        series_description=fit(f"LDEdit ROI - {label}", LO_MAX),
    )
    # General Image: Type 2C for images without Image Orientation (Patient), as radiographs are.
    seg.PatientOrientation = source.get("PatientOrientation", "")
    ensure_charset(seg, [label, description, algorithm_name])
    path = Path(path)
    _atomic_write(path, lambda tmp: seg.save_as(tmp, enforce_file_format=True))
    LOGGER.info(
        "wrote the ROI as a %s DICOM SEG of %s to %s", seg.SegmentationType, source.SOPInstanceUID, path
    )
    return path


def _check_mask(mask: np.ndarray, shape: tuple[int, int] | None) -> tuple[np.ndarray, bool]:
    """``mask`` as float32 in [0, 1], and whether it is binary."""
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"mask must be a numpy array, got {type(mask).__name__}")
    if mask.dtype != np.bool_ and mask.dtype.kind not in "iuf":
        raise TypeError(f"mask must hold numbers or booleans, got dtype {mask.dtype}")
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (rows, cols), got shape {mask.shape}")
    if shape is not None and mask.shape != shape:
        raise ValueError(f"mask has shape {mask.shape}, expected the radiograph's {shape}")
    arr = mask.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError("mask has NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"mask has values in [{lo:g}, {hi:g}], expected [0, 1] (divide an 8-bit mask by 255)"
        )
    if hi == 0.0:
        raise ValueError("mask is empty (all zero): there is no region to write")
    return arr, bool(np.all((arr == 0.0) | (arr == 1.0)))


def _check_length(value: str, name: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"{name} must be at most {limit} characters, got {len(value)}: {value!r}")
    return value


def _algorithm_type(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"algorithm_type must be a str, got {type(value).__name__} {value!r}")
    if value.upper() not in ALGORITHM_TYPES:
        raise ValueError(f"algorithm_type must be one of {list(ALGORITHM_TYPES)}, got {value!r}")
    return value.upper()


def _nrrd_layout(data: np.ndarray, radiograph: Radiograph | None) -> tuple[np.ndarray, dict]:
    """The array (C order) and geometry header the NRRD is written with."""
    source = radiograph.meta.get("nrrd_header") if radiograph is not None else None
    if source is not None and len(source.get("sizes", [])) in (2, 3):
        c_shape = tuple(int(n) for n in reversed(list(source["sizes"])))
        header = {k: source[k] for k in GEOMETRY_KEYS if k in source}
        header["kinds"] = ["domain"] * len(c_shape)
        return data.reshape(c_shape), header
    row, col = radiograph.spacing_mm if radiograph is not None and radiograph.spacing_mm else (1.0, 1.0)
    header = {
        "space": "left-posterior-superior",
        "space directions": np.diag([col, row, 1.0]),  # i (columns), j (rows), k (the one slice)
        "space origin": np.zeros(3),
        "kinds": ["domain", "domain", "domain"],
    }
    return data[None], header


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through ``write(temporary)``, then link it into place without replacing anything."""
    if path.exists() or path.is_symlink():
        raise FileExistsError(f"{path}: refusing to overwrite an existing file")
    if path.parent.exists() and not path.parent.is_dir():
        raise FileExistsError(f"{path.parent}: exists and is not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.part"  # created by write(), usual mode
    try:
        write(tmp)
        try:
            os.link(tmp, path)  # fails if path exists: never replaces a file created meanwhile
        except FileExistsError:
            raise FileExistsError(f"{path}: refusing to overwrite an existing file") from None
        except OSError:  # a file system without hard links
            if path.exists():
                raise FileExistsError(f"{path}: refusing to overwrite an existing file") from None
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
