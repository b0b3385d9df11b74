"""``read_roi``: read the region of interest (ROI) a user drew on a radiograph, from what tools export.

Accepted, recognised by content (not by name): a PNG / TIFF / JPEG mask, a plain NRRD mask, a 3D Slicer
segmentation (``.seg.nrrd``) and a DICOM Segmentation (SEG) of the radiograph. Every reader returns a
float32 ``(rows, cols)`` mask in [0, 1] on the radiograph's own pixel grid. See docs/roi.md.
"""

from __future__ import annotations

import difflib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ldedit_core.errors import InputError
from ldedit_core.io.radiograph import Radiograph
from ldedit_core.io.read import existing_file, sniff_format

if TYPE_CHECKING:
    from pydicom import Dataset

LOGGER = logging.getLogger(__name__)
SUPPORTED = "PNG, TIFF or JPEG mask, NRRD, 3D Slicer segmentation (.seg.nrrd) or DICOM Segmentation (SEG)"
SEG_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation",
}
SLICER_SEGMENT_KEY = re.compile(r"^Segment\d+_")


def read_roi(path: str | Path, radiograph: Radiograph, *, segment: str | int | None = None) -> np.ndarray:
    """Read an ROI mask drawn on ``radiograph``.

    Image and NRRD masks: a mask holding one nonzero value is binary (nonzero = 1); an 8- or 16-bit grey
    mask with several values is a soft mask scaled by 255 or 65535; a float mask is taken as it is and
    must lie in [0, 1]. A colour image is accepted only when it is black plus one paint colour.

    Args:
        path: the mask file.
        radiograph: the image the ROI was drawn on (from :func:`read_radiograph`); the mask must have its
            size, and a DICOM SEG must reference its SOP Instance UID.
        segment: for a ``.seg.nrrd`` or a DICOM SEG, the segment's name (Slicer's segment name, the SEG's
            SegmentLabel) or its 0-based position in the file's segment list. Default: the only segment,
            or the first one. Not allowed for formats without segments.

    Returns:
        float32 ``(rows, cols)`` mask in [0, 1], 1 = inside the ROI.

    Raises:
        TypeError: ``radiograph`` is not a Radiograph, or ``segment`` not a str, int or None.
        InputError: naming the file: missing or unreadable, not a mask, wrong size (both sizes given),
            empty (all zero), segment not found (the segments are listed), or a SEG of another image.

    Example:
        >>> rg = read_radiograph("cxr.dcm")
        >>> roi = read_roi("cxr-roi.seg.nrrd", rg, segment="effusion")
        >>> roi.shape == rg.shape, float(roi.max())
        (True, 1.0)
    """
    if not isinstance(radiograph, Radiograph):
        raise TypeError(f"radiograph must be a Radiograph, got {type(radiograph).__name__}")
    if segment is not None and (isinstance(segment, bool) or not isinstance(segment, (str, int))):
        raise TypeError(f"segment must be a str, an int or None, got {type(segment).__name__} {segment!r}")
    path = existing_file(path, SUPPORTED)
    fmt = sniff_format(path)
    if fmt in ("png", "jpeg", "tiff"):
        _no_segments(segment, fmt.upper(), path)
        mask = _image_mask(path, fmt)
    elif fmt == "nrrd" and (header := _slicer_header(path)) is not None:
        mask = _slicer_mask(path, header, radiograph, segment)
    elif fmt == "nrrd":
        _no_segments(segment, "plain NRRD", path)
        mask = _nrrd_mask(path)
    else:
        mask = _dicom_seg_mask(_read_dicom(path, fmt), path, radiograph, segment)
    if mask.shape != radiograph.shape:
        (r, c), (rr, rc) = mask.shape, radiograph.shape
        raise InputError(
            f"wrong size: the mask is {r} x {c} pixels, the radiograph {radiograph.path or ''} is "
            f"{rr} x {rc} (rows x columns); draw the ROI on that radiograph",
            path,
        )
    if not mask.any():
        raise InputError("empty mask: every pixel is zero, so there is no region to edit", path)
    return np.ascontiguousarray(mask, dtype=np.float32)


def _no_segments(segment: str | int | None, what: str, path: Path) -> None:
    if segment is not None:
        raise InputError(f"segment={segment!r} was given, but a {what} mask has no segments", path)


# --- values -----------------------------------------------------------------------------------------


def _mask_values(arr: np.ndarray, path: Path) -> np.ndarray:
    """Grey mask values as float32 in [0, 1] (rules in :func:`read_roi`)."""
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if arr.dtype.kind not in "iuf":
        raise InputError(f"not a mask: unsupported sample type {arr.dtype}", path)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError("not a mask: it holds NaN or infinite values", path)
    lo, hi = (arr.min(), arr.max()) if arr.size else (0, 0)
    if lo < 0:
        raise InputError(f"not a mask: it holds negative values (down to {lo}); a mask is in [0, 1]", path)
    if arr.dtype.kind == "f" and hi <= 1:
        return arr.astype(np.float32)
    if np.all((arr == 0) | (arr == hi)):  # one nonzero value: binary
        return (arr != 0).astype(np.float32)
    if arr.dtype in (np.uint8, np.uint16):
        return (arr / np.float32(np.iinfo(arr.dtype).max)).astype(np.float32)
    raise InputError(
        f"not a mask: {arr.dtype} values from {lo} to {hi}. A soft mask is 8- or 16-bit grey or float in "
        "[0, 1]; a label map with several labels should be exported as a .seg.nrrd or DICOM SEG",
        path,
    )


def _image_mask(path: Path, fmt: str) -> np.ndarray:
    from ldedit_core.io.image_read import _read_pil, _read_tiff

    arr = _read_tiff(path) if fmt == "tiff" else _read_pil(path)
    return _mask_values(_grey(arr, path), path)


def _grey(arr: np.ndarray, path: Path) -> np.ndarray:
    """One grey channel from a grey, grey-as-RGB, alpha-only or black-plus-one-colour image."""
    if arr.ndim == 2:
        return arr
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (2, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # planar TIFF
    if arr.ndim != 3 or arr.shape[2] not in (2, 3, 4):
        raise InputError(f"not a mask: image layout {arr.shape}, expected one 2-D image", path)
    colour = arr[..., :3] if arr.shape[2] >= 3 else arr[..., :1]
    alpha = arr[..., -1] if arr.shape[2] in (2, 4) else None
    uniform = bool(np.all(colour == colour[:1, :1]))
    if alpha is not None and alpha.min() != alpha.max():
        if uniform:
            return alpha  # one colour painted with varying opacity: the opacity is the mask
        raise InputError("not a mask: both its colours and its transparency (alpha) vary", path)
    if np.all(colour == colour[..., :1]):
        return colour[..., 0]  # grey saved as RGB
    black = ~colour.any(axis=-1)
    painted = colour[~black]
    if np.all(painted == painted[:1]):
        return (~black).astype(np.uint8)  # black plus one paint colour: binary
    raise InputError(
        "not a mask: a colour image with more than one colour besides black; save the ROI as a grey "
        "or black-and-white image",
        path,
    )


def _nrrd_mask(path: Path) -> np.ndarray:
    import nrrd

    try:
        data, header = nrrd.read(str(path), index_order="C")
    except (nrrd.NRRDError, OSError, ValueError, EOFError) as exc:
        raise InputError(f"corrupt or truncated NRRD file ({exc})", path) from exc
    kinds = [str(k) for k in header.get("kinds", [])]
    if any(k not in ("domain", "space", "scalar", "none", "???") for k in kinds):
        raise InputError(f"not a mask: NRRD axes of kinds {kinds}, expected one grey 2-D slice", path)
    if data.ndim == 3 and 1 in data.shape:
        data = np.take(data, 0, axis=data.shape.index(1))
    if data.ndim != 2:
        raise InputError(f"not a mask: NRRD array of shape {data.shape}, expected a single 2-D slice", path)
    return _mask_values(data, path)


# --- segment choice ---------------------------------------------------------------------------------


def _choose_segment(names: list[str], segment: str | int | None, path: Path) -> int:
    """Index of the segment named or numbered by ``segment`` (0-based), or the first one by default."""
    listing = ", ".join(f"{i}: {n!r}" for i, n in enumerate(names))
    if not names:
        raise InputError("the segmentation holds no segments", path)
    if segment is None:
        if len(names) > 1:
            LOGGER.info("%s: using the first of %d segments (%s)", path, len(names), listing)
        return 0
    if isinstance(segment, int):
        if not 0 <= segment < len(names):
            raise InputError(
                f"no segment number {segment}: it holds {len(names)} segment(s), numbered from 0: {listing}",
                path,
            )
        return segment
    found = [i for i, name in enumerate(names) if name == segment]
    if len(found) > 1:
        raise InputError(
            f"{len(found)} segments are named {segment!r} (numbers {found}): choose one by number", path
        )
    if not found:
        close = difflib.get_close_matches(segment, names, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"no segment named {segment!r}: its segments are {listing}{hint}", path)
    return found[0]


# --- 3D Slicer segmentation -----------------------------------------------------------------------------


def _slicer_header(path: Path) -> dict | None:
    """The NRRD header if it is a 3D Slicer segmentation's (it has ``Segment<N>_`` keys), else None."""
    import nrrd

    try:
        header = nrrd.read_header(str(path))
    except (nrrd.NRRDError, OSError, ValueError, EOFError) as exc:
        raise InputError(f"corrupt or truncated NRRD header ({exc})", path) from exc
    return header if any(SLICER_SEGMENT_KEY.match(key) for key in header) else None


def _slicer_mask(path: Path, header: dict, radiograph: Radiograph, segment: str | int | None) -> np.ndarray:
    """The chosen segment of a ``.seg.nrrd``, placed on the radiograph's grid.

    A segment is the voxels of its layer equal to its label value, inside its extent (file voxel indices).
    File voxel (i, j, k) is voxel (i, j, k) + ``referenceImageExtentOffset`` of the image it was drawn on;
    of that image's i, j, k axes the one of size 1 is the slice, and of the other two the first runs
    along columns and the second along rows (as Slicer loads a radiograph).
    """
    import nrrd
    import slicerio

    try:
        seg = slicerio.read_segmentation(str(path))
    except (nrrd.NRRDError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError(f"unreadable 3D Slicer segmentation ({exc})", path) from exc
    segments = seg.get("segments", [])
    names = [str(s.get("name", s.get("id", f"Segment{i}"))) for i, s in enumerate(segments)]
    index = _choose_segment(names, segment, path)
    info, name = segments[index], names[index]
    voxels = np.asarray(seg["voxels"])
    voxels = voxels[..., None] if voxels.ndim == 2 else voxels
    layered = voxels.ndim == 4
    layer = int(info.get("layer", index if layered else 0))  # no Layer key: one layer per segment
    if layer >= (voxels.shape[0] if layered else 1):
        raise InputError(f"segment {name!r} is in layer {layer}, which the file does not hold", path)
    hit = (voxels[layer] if layered else voxels) == int(info.get("labelValue", 1))
    extent = info.get("extent")
    if extent is not None and len(extent) == 6:
        inside = np.zeros_like(hit)
        lo, hi = np.array(extent[0::2]), np.array(extent[1::2])
        if np.all(lo <= hi):
            inside[tuple(slice(max(a, 0), b + 1) for a, b in zip(lo, hi, strict=True))] = True
        hit &= inside
    offset = np.array(seg.get("referenceImageExtentOffset", [0, 0, 0]), dtype=int)
    if "space directions" in header:  # else slicerio reports an identity matrix
        _check_geometry(np.asarray(seg["ijkToLPS"], dtype=np.float64), offset, radiograph, path)
    ref, known = _reference_extent(seg, radiograph)
    return _place(hit, offset, ref, radiograph.shape, name, path, fit=not known)


def _reference_extent(seg: dict, radiograph: Radiograph) -> tuple[np.ndarray, bool]:
    """The (i, j, k) extent [[lo, hi] x 3] of the image the segmentation was drawn on, and whether the
    file says it (Slicer's "Reference image geometry") or it is assumed to be the radiograph's."""
    for param in seg.get("conversionParameters", []):
        if param.get("name") == "Reference image geometry":
            values = [v for v in str(param.get("value", "")).split(";") if v.strip()]
            if len(values) == 22:  # a 4 x 4 IJK-to-RAS matrix, then the extent
                return np.array([int(float(v)) for v in values[16:]]).reshape(3, 2), True
    sizes = list(radiograph.meta.get("nrrd_header", {}).get("sizes", []))
    if len(sizes) == 3:  # the radiograph's own NRRD layout, i fastest
        return np.array([[0, int(n) - 1] for n in sizes]), False
    rows, cols = radiograph.shape
    return np.array([[0, cols - 1], [0, rows - 1], [0, 0]]), False


def _place(
    hit: np.ndarray,
    offset: np.ndarray,
    ref: np.ndarray,
    shape: tuple[int, int],
    name: str,
    path: Path,
    *,
    fit: bool,
) -> np.ndarray:
    """Put the file's voxels ``hit`` (i, j, k) on the image's (rows, cols) grid.

    With ``fit`` (the reference image is not known from the file) the file's grid must lie within the
    image; otherwise voxels beyond the reference image are dropped with a warning.
    """
    sizes = ref[:, 1] - ref[:, 0] + 1
    if np.count_nonzero(sizes == 1) == 0:
        raise InputError(f"drawn on a volume of {' x '.join(map(str, sizes))} voxels, not a 2-D image", path)
    axis = 2 if sizes[2] == 1 else int(np.flatnonzero(sizes == 1)[0])
    col_axis, row_axis = (a for a in range(3) if a != axis)
    if (sizes[row_axis], sizes[col_axis]) != shape:
        raise InputError(
            f"wrong size: the segmentation was drawn on an image of {sizes[row_axis]} x {sizes[col_axis]} "
            f"pixels, the radiograph is {shape[0]} x {shape[1]} (rows x columns)",
            path,
        )
    out = np.zeros(shape, dtype=bool)
    layer = ref[axis, 0] - offset[axis]  # the file's slice on the image's slice
    if not 0 <= layer < hit.shape[axis]:
        raise InputError(f"segment {name!r} does not lie on the radiograph's slice", path)
    plane = np.take(hit, layer, axis=axis).T  # (cols, rows) -> (rows, cols)
    r0, c0 = offset[row_axis] - ref[row_axis, 0], offset[col_axis] - ref[col_axis, 0]
    if fit and not (
        r0 >= 0 and c0 >= 0 and r0 + plane.shape[0] <= shape[0] and c0 + plane.shape[1] <= shape[1]
    ):
        raise InputError(
            f"wrong size: the segmentation's grid is {plane.shape[0]} x {plane.shape[1]} pixels from row "
            f"{r0}, column {c0}, beyond the radiograph's {shape[0]} x {shape[1]} (rows x columns)",
            path,
        )
    rs = slice(max(r0, 0), min(r0 + plane.shape[0], shape[0]))
    cs = slice(max(c0, 0), min(c0 + plane.shape[1], shape[1]))
    if rs.start < rs.stop and cs.start < cs.stop:
        out[rs, cs] = plane[rs.start - r0 : rs.stop - r0, cs.start - c0 : cs.stop - c0]
    outside = int(np.count_nonzero(np.take(hit, layer, axis=axis))) - int(np.count_nonzero(out))
    if outside:
        LOGGER.warning("%s: %d voxels of segment %r lie outside the radiograph, ignored", path, outside, name)
    return out.astype(np.float32)


def _check_geometry(ijk_to_lps: np.ndarray, offset: np.ndarray, radiograph: Radiograph, path: Path) -> None:
    """For a NRRD radiograph with full geometry: the segmentation's voxels must be the image's voxels."""
    header = radiograph.meta.get("nrrd_header") or {}
    to_lps = {
        "left-posterior-superior": (1, 1, 1), "LPS": (1, 1, 1),
        "right-anterior-superior": (-1, -1, 1), "RAS": (-1, -1, 1),
    }  # fmt: skip
    try:
        dirs = np.asarray(header["space directions"], dtype=np.float64)
        origin = np.asarray(header["space origin"], dtype=np.float64)
        flip = np.diag(to_lps[header.get("space", "left-posterior-superior")])
    except (KeyError, TypeError, ValueError):
        return
    if dirs.shape != (3, 3) or origin.shape != (3,) or not np.isfinite(dirs).all():
        return
    expected = np.eye(4)
    expected[:3, :3] = flip @ dirs.T
    expected[:3, 3] = flip @ origin + flip @ dirs.T @ offset
    spacing = float(np.linalg.norm(dirs, axis=1).min())
    if not np.allclose(ijk_to_lps[:3], expected[:3], rtol=0, atol=1e-3 * spacing):
        raise InputError(
            f"the segmentation does not lie on the radiograph's voxels: {_geometry(ijk_to_lps)}, but the "
            f"radiograph's voxels are {_geometry(expected)}: drawn on another image, or resampled",
            path,
        )


def _geometry(ijk_to_lps: np.ndarray) -> str:
    origin, axes = np.round(ijk_to_lps[:3, 3], 3).tolist(), np.round(ijk_to_lps[:3, :3].T, 4).tolist()
    return f"first voxel at {origin} mm (LPS), voxel axes {axes}"


# --- DICOM SEG ------------------------------------------------------------------------------------------


def _read_dicom(path: Path, fmt: str | None) -> Dataset:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, force=fmt != "dicom")
    except InvalidDicomError as exc:
        raise InputError(f"not a {SUPPORTED} file", path) from exc
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as exc:
        if fmt != "dicom":
            raise InputError(f"not a {SUPPORTED} file", path) from exc
        raise InputError(f"unreadable DICOM header ({exc})", path) from exc


def _dicom_seg_mask(ds: Dataset, path: Path, radiograph: Radiograph, segment: str | int | None) -> np.ndarray:
    """The chosen segment's frames that belong to ``radiograph``, combined (maximum)."""
    sop = str(ds.get("SOPClassUID", ""))
    if sop not in SEG_SOP_CLASSES:
        if "SOPClassUID" not in ds and "PixelData" not in ds:
            raise InputError(f"not a {SUPPORTED} file", path)
        modality = str(ds.get("Modality", "")) or "-"
        raise InputError(
            f"a DICOM file of Modality {modality} (SOP Class {sop or '-'}), not a DICOM Segmentation (SEG)",
            path,
        )
    if radiograph.dataset is None or "SOPInstanceUID" not in radiograph.dataset:
        raise InputError(
            "a DICOM SEG is matched to its image by SOP Instance UID, but the radiograph "
            f"{radiograph.path or ''} is a {radiograph.format} image without one: give the DICOM "
            "radiograph the SEG was made for",
            path,
        )
    uid = str(radiograph.dataset.SOPInstanceUID)
    refs = _referenced_uids(ds)
    if uid not in refs:
        made_for = ", ".join(sorted(refs)) or "no image"
        raise InputError(
            f"SEG of another image: it references SOP Instance UID {made_for}, but the radiograph "
            f"{radiograph.path or ''} is SOP Instance UID {uid}",
            path,
        )
    items = list(ds.get("SegmentSequence", []))
    names = [
        str(item.get("SegmentLabel", f"Segment {item.get('SegmentNumber', i + 1)}"))
        for i, item in enumerate(items)
    ]
    number = int(items[_choose_segment(names, segment, path)].SegmentNumber)
    frames = _seg_frames(ds, path)
    kind = str(ds.get("SegmentationType", "BINARY")).upper()
    scale = float(ds.get("MaximumFractionalValue", 1) or 1) if kind == "FRACTIONAL" else 1.0
    mask = np.zeros(frames.shape[1:], dtype=np.float32)
    for i, frame in enumerate(frames):
        seg_number, sources = _frame_refs(ds, i)
        if sources and uid not in sources:
            continue  # a frame of another referenced image
        if kind == "LABELMAP":
            mask = np.maximum(mask, (frame == number).astype(np.float32))
        elif seg_number == number:
            values = frame / scale if kind == "FRACTIONAL" else (frame != 0)
            mask = np.maximum(mask, np.clip(values, 0.0, 1.0).astype(np.float32))
    return mask


def seg_summary(path: str | Path) -> tuple[set[str], list[str]]:
    """``(referenced SOP Instance UIDs, segment labels)`` of a DICOM SEG, read without its pixel data.

    Lets a caller (the PACS service) match a SEG to the image it was painted on before reading the mask.

    Raises:
        InputError: not readable as DICOM, or not a Segmentation.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"unreadable DICOM header ({exc})", path) from exc
    if str(ds.get("SOPClassUID", "")) not in SEG_SOP_CLASSES:
        raise InputError(f"SOP Class {ds.get('SOPClassUID', '-')} is not a DICOM Segmentation", path)
    labels = [str(item.get("SegmentLabel", "")) for item in ds.get("SegmentSequence", [])]
    return _referenced_uids(ds), labels


def _referenced_uids(ds: Dataset) -> set[str]:
    """SOP Instance UIDs the SEG says it was derived from (Referenced Series and per-frame Source Image)."""
    uids = {
        str(inst.ReferencedSOPInstanceUID)
        for series in ds.get("ReferencedSeriesSequence", [])
        for inst in series.get("ReferencedInstanceSequence", [])
        if "ReferencedSOPInstanceUID" in inst
    }
    for i in range(int(ds.get("NumberOfFrames", 1) or 1)):
        uids |= _frame_refs(ds, i)[1]
    return uids


def _frame_refs(ds: Dataset, index: int) -> tuple[int | None, set[str]]:
    """(ReferencedSegmentNumber, source SOP Instance UIDs) of frame ``index``, per-frame before shared."""
    groups = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence", [])
    if index < len(per_frame):
        groups.append(per_frame[index])
    groups += list(ds.get("SharedFunctionalGroupsSequence", []))
    number, sources = None, set()
    for group in groups:
        ident = group.get("SegmentIdentificationSequence", [])
        if number is None and ident and "ReferencedSegmentNumber" in ident[0]:
            number = int(ident[0].ReferencedSegmentNumber)
        for derivation in group.get("DerivationImageSequence", []):
            for source in derivation.get("SourceImageSequence", []):
                if "ReferencedSOPInstanceUID" in source:
                    sources.add(str(source.ReferencedSOPInstanceUID))
    return number, sources


def _seg_frames(ds: Dataset, path: Path) -> np.ndarray:
    try:
        frames = np.asarray(ds.pixel_array)
    except (
        RuntimeError,
        NotImplementedError,
        ImportError,
        ValueError,
        EOFError,
        OSError,
        AttributeError,
    ) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot decode the SEG's pixel data ({first})", path) from exc
    return frames if frames.ndim == 3 else frames[None]
