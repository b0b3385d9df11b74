"""Slicer volume arrays and IJK-to-RAS matrices to and from the NRRD files ``ldedit edit`` reads.

A Slicer scalar volume is a numpy array in (k, j, i) order, here (1, rows, cols), and a 4x4 IJK-to-RAS
matrix. NRRD stores axes fastest first (i, j, k) and LPS space (DICOM's), so: write the array in C order,
turn RAS into LPS by negating the first two rows of the matrix, and write its columns as ``space
directions`` (one per axis) and ``space origin``. ldedit reads the array in C order and takes row 0 as the
image's top row, so what Slicer shows as the array is what ldedit edits. pynrrd is imported only when
needed (Slicer installs it with ldedit_core on first use).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

#: RAS <-> LPS: the same diagonal both ways.
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: NRRD ``space`` values and the diagonal taking each to RAS.
SPACE_TO_RAS = {
    "left-posterior-superior": RAS_TO_LPS,
    "right-anterior-superior": np.eye(4),
    "left-anterior-superior": np.diag([-1.0, 1.0, 1.0, 1.0]),
}
SPACE_ALIASES = {
    "lps": "left-posterior-superior",
    "ras": "right-anterior-superior",
    "las": "left-anterior-superior",
}


def write_volume_nrrd(
    array: np.ndarray,
    ijk_to_ras: np.ndarray,
    path: str | os.PathLike[str],
    *,
    compress: bool = False,
) -> Path:
    """Write a single-slice Slicer volume as the radiograph NRRD for ``ldedit edit --input``.

    Args:
        array: ``(1, rows, cols)`` as ``slicer.util.arrayFromVolume`` gives it (or ``(rows, cols)``); any
            real sample type, kept as it is (ldedit stretches it to its own range).
        ijk_to_ras: 4x4 IJK-to-RAS matrix (``slicer.util.arrayFromVTKMatrix``); kept exactly.
        path: the file to write (its folder must exist). Raw by default: it is a temporary hand-over.
        compress: gzip the samples (smaller, slower).

    Raises:
        ValueError: several slices, an empty or non-numeric array, or a matrix that is not an invertible
            affine 4x4 one.
    """
    data = _single_slice(array, "volume")
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    if data.dtype.kind not in "iuf":
        raise ValueError(f"the volume holds {data.dtype} samples; expected integers or floats")
    return _write(data, ijk_to_ras, path, compress)


def write_mask_nrrd(
    mask_array: np.ndarray,
    ijk_to_ras: np.ndarray,
    path: str | os.PathLike[str],
    *,
    label: int | None = None,
    compress: bool = True,
) -> Path:
    """Write a labelmap or segment (in the radiograph's geometry) as the 0/1 uint8 NRRD for ``--mask``.

    Args:
        mask_array: ``(1, rows, cols)`` or ``(rows, cols)``, e.g. from
            ``slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, segment_id, volume)``.
        ijk_to_ras: the radiograph's 4x4 IJK-to-RAS matrix.
        path: the file to write.
        label: only this label value is the region; default every nonzero value.
        compress: gzip the samples (a mask compresses to almost nothing).

    Raises:
        ValueError: several slices, a bad matrix, or an empty region (nothing painted), which ldedit would
            refuse only after starting.
    """
    data = _single_slice(mask_array, "mask")
    region = (data == label) if label is not None else (data != 0)
    if not region.any():
        what = f"no pixel has label {label}" if label is not None else "every pixel is zero"
        raise ValueError(f"the region is empty ({what}): paint the region the disease should appear in")
    return _write(region.astype(np.uint8), ijk_to_ras, path, compress)


def read_volume_nrrd(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(array, ijk_to_ras)`` of a NRRD volume, as Slicer would hold it: the inverse of the writers.

    A 3-D file comes back in C order (``(1, rows, cols)`` for a file from :func:`write_volume_nrrd`); a 2-D
    one gets a leading axis of 1 and a unit slice direction perpendicular to its plane. Without ``space``
    the file is taken as LPS (as ITK does); without ``space directions``, axis-aligned with its spacings.

    Raises:
        ValueError: more than 3 axes, or a space that is not LPS, RAS or LAS.
    """
    import nrrd

    data, header = nrrd.read(os.fspath(path), index_order="C")
    if data.ndim not in (2, 3):
        raise ValueError(f"{path}: NRRD with {data.ndim} axes; expected a 2-D image or a 3-D volume")
    space = _space(header)
    ndim = data.ndim
    directions = _directions(header, ndim)
    origin = np.zeros(3)
    if header.get("space origin") is not None:
        origin = np.asarray(header["space origin"], dtype=np.float64).reshape(-1)
        origin = np.concatenate([origin, np.zeros(3 - origin.size)])
    if ndim == 2:
        normal = np.cross(directions[0], directions[1])
        norm = np.linalg.norm(normal)
        directions = np.vstack([directions, normal / norm if norm > 0 else [0.0, 0.0, 1.0]])
        data = data[np.newaxis]
    in_space = np.eye(4)
    in_space[:3, :3] = directions.T  # columns: the i, j, k axis vectors
    in_space[:3, 3] = origin
    return data, SPACE_TO_RAS[space] @ in_space


# --- helpers ------------------------------------------------------------------------------------------------


def _single_slice(array: Any, what: str) -> np.ndarray:
    data = np.asarray(array)
    if data.ndim == 2:
        data = data[np.newaxis]
    if data.ndim != 3 or data.shape[0] != 1:
        raise ValueError(
            f"the {what} has shape {data.shape}; LDEdit edits one radiograph: a single slice "
            "(1, rows, cols) or (rows, cols)"
        )
    if data.shape[1] < 1 or data.shape[2] < 1:
        raise ValueError(f"the {what} is empty (shape {data.shape})")
    if data.dtype.kind not in "biuf":
        raise ValueError(f"the {what} holds {data.dtype} samples; expected numbers")
    return np.ascontiguousarray(data)


def _check_matrix(ijk_to_ras: Any) -> np.ndarray:
    m = np.asarray(ijk_to_ras, dtype=np.float64)
    if m.shape != (4, 4):
        raise ValueError(f"ijk_to_ras must be a 4x4 matrix, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError("ijk_to_ras holds NaN or infinite values")
    if not np.array_equal(m[3], [0.0, 0.0, 0.0, 1.0]):
        raise ValueError(f"ijk_to_ras must be affine (last row 0 0 0 1), got last row {m[3].tolist()}")
    if abs(np.linalg.det(m[:3, :3])) == 0.0:
        raise ValueError("ijk_to_ras is singular: an axis has zero spacing or two axes coincide")
    return m


def _write(data: np.ndarray, ijk_to_ras: Any, path: str | os.PathLike[str], compress: bool) -> Path:
    import nrrd

    lps = RAS_TO_LPS @ _check_matrix(ijk_to_ras)
    header = {
        "space": "left-posterior-superior",
        "space directions": lps[:3, :3].T.copy(),  # row n: the direction of file axis n (i, j, k)
        "space origin": lps[:3, 3].copy(),
        "kinds": ["domain", "domain", "domain"],
        "endian": "little",
        "encoding": "gzip" if compress else "raw",
    }
    path = Path(path)
    nrrd.write(os.fspath(path), data, header, index_order="C")
    return path


def _space(header: dict) -> str:
    raw = str(header.get("space", "left-posterior-superior")).strip().lower()
    space = SPACE_ALIASES.get(raw, raw)
    if space not in SPACE_TO_RAS:
        raise ValueError(f"NRRD space {raw!r} is not supported; expected LPS, RAS or LAS")
    return space


def _directions(header: dict, ndim: int) -> np.ndarray:
    """``(ndim, 3)``: the space vector of each file axis (i first)."""
    raw = header.get("space directions")
    if raw is not None:
        rows = [np.full(3, np.nan) if r is None else np.asarray(r, dtype=np.float64) for r in raw]
        directions = np.asarray(
            [np.concatenate([r.reshape(-1), np.zeros(3 - r.size)]) for r in rows], dtype=np.float64
        )
        if directions.shape == (ndim, 3) and np.isfinite(directions).all():
            return directions
        raise ValueError(f"NRRD space directions {raw!r} do not give one 3-D vector per axis")
    spacings = header.get("spacings")
    spacing = np.ones(ndim) if spacings is None else np.nan_to_num(np.asarray(spacings, float), nan=1.0)
    return np.eye(3)[:ndim] * spacing[:, None]
