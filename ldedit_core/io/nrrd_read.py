"""Read a single-slice NRRD volume (3D Slicer's exchange format) as a radiograph."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ldedit_core.errors import InputError
from ldedit_core.io.intensity import LinearMap, LookupMap, normalise_table
from ldedit_core.io.limits import check_size
from ldedit_core.io.radiograph import Radiograph


def read_nrrd(path: str | Path) -> Radiograph:
    """Read a NRRD holding one 2-D image, or a 3-D volume with exactly one slice.

    Arrays are read in C order, so a Slicer volume comes back as (slices, rows, columns) = (1, R, C), the
    same layout as ``slicer.util.arrayFromVolume``. Spacing comes from ``space directions``; the header is
    kept in ``meta["nrrd_header"]`` so geometry can be written back.

    Raises:
        InputError: corrupt file, several slices or components, bad size.
    """
    import nrrd

    path = Path(path)
    try:
        data, header = nrrd.read(str(path), index_order="C")
    except (nrrd.NRRDError, OSError, ValueError, EOFError) as exc:
        raise InputError(f"corrupt or truncated NRRD file ({exc})", path) from exc
    if data.ndim == 3 and 1 in data.shape:
        axis = data.shape.index(1)
        image = np.take(data, 0, axis=axis)
    elif data.ndim == 2:
        image = data
    else:
        raise InputError(
            f"NRRD holds an array of shape {data.shape}: expected a single 2-D slice (one radiograph)", path
        )
    image = np.ascontiguousarray(image)
    check_size(image.shape[0], image.shape[1], path)
    if image.dtype.kind in "iu" and image.dtype.itemsize <= 2:
        signed = image.dtype.kind == "i"
        bits = 8 * image.dtype.itemsize
        lo = -(1 << (bits - 1)) if signed else 0
        every = np.arange(lo, lo + (1 << bits), dtype=np.float64)
        table = normalise_table(every, float(image.min()), float(image.max()))
        imap: LookupMap | LinearMap = LookupMap(lo=lo, table=table, dtype=image.dtype)
        pixels = imap.forward(image)
    elif image.dtype.kind in "iuf":
        lo_v, hi_v = float(image.min()), float(image.max())
        imap = LinearMap(offset=lo_v, scale=max(hi_v - lo_v, 1e-12), dtype=image.dtype)
        pixels = normalise_table(image, lo_v, hi_v)
    else:
        raise InputError(f"unsupported NRRD sample type {image.dtype}", path)
    return Radiograph(
        pixels=pixels,
        stored=image,
        intensity=imap,
        spacing_mm=_spacing(header, data.shape, image.shape),
        path=path,
        format="nrrd",
        meta={"nrrd_header": header, "photometric": "MONOCHROME2", "bits_stored": 8 * image.dtype.itemsize},
    )


def _spacing(header: dict, full_shape: tuple, image_shape: tuple) -> tuple[float, float] | None:
    directions = header.get("space directions")
    if directions is None:
        return None
    directions = np.asarray(directions, dtype=np.float64)
    if directions.ndim != 2 or not np.isfinite(directions).all():
        return None
    # header axes are in file (fastest-first) order; the C-order array reverses them.
    norms = np.linalg.norm(directions, axis=1)[::-1]
    kept = (
        [n for n, size in zip(norms, full_shape, strict=True) if size != 1]
        if len(full_shape) == 3
        else list(norms)
    )
    if len(kept) != 2:
        return None
    return (float(kept[0]), float(kept[1]))
