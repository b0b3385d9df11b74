"""PNG / JPEG / TIFF / NRRD radiographs: bit depths, grey-in-RGB, spacing and layout."""

from __future__ import annotations

import nrrd
import numpy as np
import pytest
import tifffile
from PIL import Image

from ldedit_core.io import read_radiograph
from tests.dicom_variants import truth_image


@pytest.fixture
def truth():
    return truth_image()


def test_png_8_bit(tmp_path, truth):
    path = tmp_path / "a.png"
    Image.fromarray(np.rint(truth * 255).astype(np.uint8)).save(path)
    rg = read_radiograph(path)
    assert rg.format == "png" and rg.stored.dtype == np.uint8
    assert np.abs(rg.pixels - truth).max() <= 0.5 / 255 + 1e-6
    np.testing.assert_array_equal(rg.to_stored(rg.pixels), rg.stored)


def test_png_16_bit(tmp_path, truth):
    path = tmp_path / "a16.png"
    stored = np.rint(truth * 65535).astype(np.uint16)
    Image.fromarray(stored).save(path)
    rg = read_radiograph(path)
    np.testing.assert_array_equal(rg.stored, stored)
    assert rg.meta["bits_stored"] == 16
    assert np.abs(rg.pixels - truth).max() <= 1 / 65535


def test_grey_saved_as_rgb_is_accepted(tmp_path, truth):
    path = tmp_path / "rgb.png"
    grey = np.rint(truth * 255).astype(np.uint8)
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(path)
    np.testing.assert_array_equal(read_radiograph(path).stored, grey)


def test_jpeg(tmp_path, truth):
    path = tmp_path / "a.jpg"
    Image.fromarray(np.rint(truth * 255).astype(np.uint8)).save(path, quality=95)
    rg = read_radiograph(path)
    assert rg.format == "jpeg"
    assert np.abs(rg.pixels - truth).mean() < 0.02


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tiff(tmp_path, truth, dtype):
    path = tmp_path / "a.tif"
    levels = np.iinfo(dtype).max
    stored = np.rint(truth * levels).astype(dtype)
    tifffile.imwrite(path, stored)
    rg = read_radiograph(path)
    assert rg.format == "tiff"
    np.testing.assert_array_equal(rg.stored, stored)
    np.testing.assert_array_equal(rg.to_stored(rg.pixels), stored)


def test_float_tiff_is_stretched(tmp_path, truth):
    path = tmp_path / "f.tif"
    tifffile.imwrite(path, (truth * 3 + 1).astype(np.float32))
    rg = read_radiograph(path)
    np.testing.assert_allclose(rg.pixels, truth, atol=1e-5)


def test_slicer_style_single_slice_nrrd(tmp_path, truth):
    """A Slicer volume of one slice: (slices, rows, cols) in C order, spacing in space directions."""
    path = tmp_path / "cxr.nrrd"
    stored = np.rint(truth * 4000 - 1000).astype(np.int16)[None]  # (1, rows, cols)
    header = {
        "space": "left-posterior-superior",
        "space directions": np.diag([0.15, 0.2, 1.0]),  # i (cols), j (rows), k
        "space origin": np.zeros(3),
    }
    nrrd.write(str(path), stored, header, index_order="C")
    rg = read_radiograph(path)
    assert rg.format == "nrrd" and rg.pixels.shape == truth.shape
    np.testing.assert_array_equal(rg.stored, stored[0])
    assert rg.spacing_mm == pytest.approx((0.2, 0.15))  # (row, column)
    np.testing.assert_allclose(rg.pixels, truth, atol=1 / 4000 + 1e-6)
    np.testing.assert_array_equal(rg.to_stored(rg.pixels), stored[0])


def test_float_nrrd(tmp_path, truth):
    path = tmp_path / "f.nrrd"
    nrrd.write(str(path), truth.astype(np.float32), index_order="C")
    rg = read_radiograph(path)
    np.testing.assert_allclose(rg.pixels, truth, atol=1e-6)
    assert rg.spacing_mm is None
