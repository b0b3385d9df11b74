"""Read grey PNG / JPEG / TIFF radiographs (8 or 16 bit; colour only if all channels are equal)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ldedit_core.errors import InputError
from ldedit_core.io.intensity import LinearMap, LookupMap, normalise_table
from ldedit_core.io.limits import check_size
from ldedit_core.io.radiograph import Radiograph


def read_image(path: str | Path, fmt: str) -> Radiograph:
    """Read a PNG, JPEG or TIFF file.

    Args:
        path: the file.
        fmt: ``"png"``, ``"jpeg"`` or ``"tiff"`` (from the file's signature).

    Raises:
        InputError: colour, several frames, unsupported sample type, bad size or a corrupt file.
    """
    path = Path(path)
    arr = _read_tiff(path) if fmt == "tiff" else _read_pil(path)
    arr = _to_grey(arr, path)
    check_size(arr.shape[0], arr.shape[1], path)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype in (np.uint8, np.uint16):
        bits = 8 * arr.dtype.itemsize
        table = (np.arange(1 << bits, dtype=np.float64) / ((1 << bits) - 1)).astype(np.float32)
        imap: LookupMap | LinearMap = LookupMap(lo=0, table=table, dtype=arr.dtype)
    elif arr.dtype.kind in "iuf":
        # 32-bit or float samples: stretch the image's own range, as a viewer would.
        lo, hi = float(arr.min()), float(arr.max())
        imap = LinearMap(offset=lo, scale=max(hi - lo, 1e-12), dtype=arr.dtype)
        bits = 8 * arr.dtype.itemsize
    else:
        raise InputError(f"unsupported sample type {arr.dtype}", path)
    pixels = imap.forward(arr)
    if isinstance(imap, LinearMap):
        pixels = normalise_table(arr, imap.offset, imap.offset + imap.scale)
    return Radiograph(
        pixels=pixels,
        stored=arr,
        intensity=imap,
        spacing_mm=None,
        path=path,
        format=fmt,
        meta={"bits_stored": bits, "signed": arr.dtype.kind == "i", "photometric": "MONOCHROME2"},
    )


def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if getattr(im, "n_frames", 1) > 1:
                raise InputError(f"more than one frame ({im.n_frames}): give a single image", path)
            check_size(im.height, im.width, path)
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            arr = np.asarray(im)
            if im.mode == "I" and arr.size and arr.min() >= 0 and arr.max() <= 65535:
                arr = arr.astype(np.uint16)  # 16-bit PNGs may open as 32-bit "I"
            return arr
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"corrupt or truncated image file ({exc})", path) from exc


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if len(tif.pages) > 1:
                raise InputError(f"more than one frame ({len(tif.pages)} pages): give a single image", path)
            page = tif.pages[0]
            check_size(int(page.shape[0]), int(page.shape[1]) if len(page.shape) > 1 else 0, path)
            return page.asarray()
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as exc:
        raise InputError(f"corrupt or truncated TIFF file ({exc})", path) from exc


def _to_grey(arr: np.ndarray, path: Path) -> np.ndarray:
    """Keep grey images; accept RGB(A) only when every colour channel is identical."""
    if arr.ndim == 2:
        return arr
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (2, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # planar (separate-plane) TIFF
    if arr.ndim == 3 and arr.shape[2] in (2, 3, 4):
        channels = arr.shape[2]
        colour = arr[..., :3] if channels >= 3 else arr[..., :1]
        alpha = arr[..., -1] if channels in (2, 4) else None
        if alpha is not None and alpha.min() != alpha.max():
            raise InputError("image has a non-uniform alpha channel (transparency)", path)
        if channels >= 3 and not (
            np.array_equal(colour[..., 0], colour[..., 1]) and np.array_equal(colour[..., 0], colour[..., 2])
        ):
            raise InputError(
                "colour image: its red, green and blue channels differ; a radiograph must be grey", path
            )
        return np.ascontiguousarray(colour[..., 0])
    raise InputError(f"unsupported image layout {arr.shape}: expected one grey 2-D image", path)
