"""Slicer volume <-> NRRD: exact round trips, and ldedit reads what the module writes the right way up."""

from __future__ import annotations

import nrrd
import numpy as np
import pytest
from LDEditSlicerLib import read_volume_nrrd, write_mask_nrrd, write_volume_nrrd

from ldedit_core.io import read_radiograph
from ldedit_core.io.roi_read import read_roi


def oblique_matrix(seed: int = 0) -> np.ndarray:
    """A rotated, anisotropic IJK-to-RAS matrix with an awkward origin (nothing axis-aligned or round)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation = q * np.sign(np.diag(r))
    m = np.eye(4)
    m[:3, :3] = rotation @ np.diag([0.1431, 0.3779, 2.5])
    m[:3, 3] = [-123.456789, 78.9012345, 0.001]
    return m


def pattern(rows: int = 48, cols: int = 80, dtype=np.int16) -> np.ndarray:
    """Asymmetric in both directions: a ramp along columns, a step in the top-left corner only."""
    img = np.tile(np.arange(cols, dtype=np.float64) * 10, (rows, 1)) + np.arange(rows)[:, None]
    img[:5, :7] = 3000
    return img.astype(dtype)


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1])
def test_round_trip_is_exact(tmp_path, dtype, seed):
    array = (
        pattern(dtype=dtype)[np.newaxis] if dtype != np.uint8 else (pattern() % 256).astype(np.uint8)[None]
    )
    matrix = oblique_matrix(seed)
    path = write_volume_nrrd(array, matrix, tmp_path / "v.nrrd")
    back, back_matrix = read_volume_nrrd(path)
    assert back.dtype == array.dtype and back.shape == (1, 48, 80)
    assert np.array_equal(back, array)
    assert np.array_equal(back_matrix, matrix)


def test_header_is_lps_with_axes_i_j_k(tmp_path):
    matrix = oblique_matrix(3)
    path = write_volume_nrrd(pattern()[None], matrix, tmp_path / "v.nrrd", compress=True)
    header = nrrd.read_header(str(path))
    assert header["space"] == "left-posterior-superior"
    assert list(header["sizes"]) == [80, 48, 1]  # i (columns) fastest
    lps = np.diag([-1.0, -1.0, 1.0]) @ matrix[:3, :]
    assert np.array_equal(header["space directions"], lps[:, :3].T)  # row n: axis n's vector
    assert np.array_equal(header["space origin"], lps[:, 3])
    assert header["encoding"] == "gzip"


def test_two_d_input_and_two_d_or_ras_files(tmp_path):
    matrix = np.diag([0.5, 0.25, 3.0, 1.0])
    path = write_volume_nrrd(pattern(), matrix, tmp_path / "flat.nrrd")  # (rows, cols): one slice
    assert read_volume_nrrd(path)[0].shape == (1, 48, 80)

    ras = tmp_path / "ras.nrrd"
    header = {"space": "right-anterior-superior", "space directions": np.diag([0.5, 0.25, 3.0])}
    header["space origin"] = np.array([1.0, 2.0, 3.0])
    nrrd.write(str(ras), pattern()[None], header, index_order="C")
    expected = matrix.copy()
    expected[:3, 3] = [1.0, 2.0, 3.0]
    assert np.array_equal(read_volume_nrrd(ras)[1], expected)

    two_d = tmp_path / "2d.nrrd"
    nrrd.write(str(two_d), pattern(), {"space": "left-posterior-superior"}, index_order="C")
    array, m = read_volume_nrrd(two_d)
    assert array.shape == (1, 48, 80) and np.array_equal(m, np.diag([-1.0, -1.0, 1.0, 1.0]))


def test_ldedit_reads_the_volume_row_zero_at_the_top(tmp_path):
    array = pattern()[np.newaxis]
    path = write_volume_nrrd(array, oblique_matrix(), tmp_path / "radiograph.nrrd")
    radiograph = read_radiograph(path)
    assert radiograph.shape == (48, 80)
    lo, hi = float(array.min()), float(array.max())
    expected = ((array[0].astype(np.float64) - lo) / (hi - lo)).astype(np.float32)
    np.testing.assert_allclose(radiograph.pixels, expected, atol=1e-6)
    assert radiograph.pixels[0, 0] == 1.0 and radiograph.pixels[47, 0] < 0.02  # the bright corner: top left
    assert radiograph.pixels[10, 79] > radiograph.pixels[10, 8]  # the ramp rises to the right
    assert radiograph.spacing_mm == pytest.approx((0.3779, 0.1431))  # (row, column) = (j, i) spacing


def test_ldedit_reads_the_mask_with_the_radiograph(tmp_path):
    matrix = oblique_matrix()
    radiograph = read_radiograph(write_volume_nrrd(pattern()[None], matrix, tmp_path / "r.nrrd"))
    labels = np.zeros((1, 48, 80), np.int16)
    labels[0, 3:20, 50:70] = 2  # the region, off-centre so a flip would show
    labels[0, 30:40, 5:9] = 7  # another label, not part of it
    path = write_mask_nrrd(labels, matrix, tmp_path / "mask.nrrd", label=2)
    roi = read_roi(path, radiograph)
    assert roi.dtype == np.float32 and np.array_equal(roi, (labels[0] == 2).astype(np.float32))
    data, _ = nrrd.read(str(path), index_order="C")
    assert data.dtype == np.uint8 and set(np.unique(data)) == {0, 1}
    assert np.array_equal(read_volume_nrrd(path)[1], matrix)

    every = write_mask_nrrd(labels, matrix, tmp_path / "any.nrrd")  # default: every nonzero label
    assert np.array_equal(read_roi(every, radiograph), (labels[0] != 0).astype(np.float32))


@pytest.mark.parametrize(
    ("array", "matrix", "words"),
    [
        (np.zeros((2, 8, 8)), np.eye(4), "single slice"),
        (np.zeros((1, 1, 8, 8)), np.eye(4), "single slice"),
        (np.zeros((1, 8, 8)), np.eye(3), "4x4"),
        (np.zeros((1, 8, 8)), np.diag([1.0, 0.0, 1.0, 1.0]), "singular"),
        (np.zeros((1, 8, 8)), np.full((4, 4), 0.5), "affine"),
        (np.zeros((1, 8, 8)), np.diag([1.0, np.nan, 1.0, 1.0]), "NaN"),
        (np.array([[["a"]]]), np.eye(4), "samples"),
    ],
)
def test_bad_volumes_are_refused_with_a_reason(tmp_path, array, matrix, words):
    with pytest.raises(ValueError, match=words):
        write_volume_nrrd(array, matrix, tmp_path / "v.nrrd")
    assert not (tmp_path / "v.nrrd").exists()


def test_an_empty_region_is_refused_before_ldedit_runs(tmp_path):
    with pytest.raises(ValueError, match=r"empty.*paint"):
        write_mask_nrrd(np.zeros((1, 8, 8), np.uint8), np.eye(4), tmp_path / "m.nrrd")
    with pytest.raises(ValueError, match="no pixel has label 3"):
        write_mask_nrrd(np.ones((1, 8, 8), np.uint8), np.eye(4), tmp_path / "m.nrrd", label=3)
