"""read_radiograph on every DICOM variant: exact stored values, display mapping, metadata, input untouched."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from ldedit_core.io import read_radiograph
from tests.dicom_variants import LOSSLESS_VARIANTS, VARIANTS, make_variant

LINEAR_WINDOW = [
    "cr_mono2_12",
    "cr_mono1_10",
    "cr_8bit",
    "cr_signed_16",
    "cr_rescale_12",
    "cr_two_windows_14",
    "cr_modality_lut_seq",
    "dx_presentation_14",
    "dx_presentation_mono1",
    "dx_processing_16",
    "cr_no_window_16",
    "sc_8bit",
    "rle_12",
    "jpegls_16",
    "j2k_12",
    "jpeg_lossless_12",
]


def _digest(path) -> tuple[str, float]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_reads_and_round_trips(name, tmp_path):
    v = make_variant(name, tmp_path)
    before = _digest(v.path)
    rg = read_radiograph(v.path)
    assert _digest(v.path) == before, "reading must not touch the input"
    assert rg.pixels.dtype == np.float32 and rg.pixels.shape == v.truth.shape
    assert rg.pixels.min() >= 0.0 and rg.pixels.max() <= 1.0
    assert rg.format == "dicom" and "PixelData" not in rg.dataset
    # brighter = more attenuation, whatever the photometric interpretation or LUT
    assert np.corrcoef(rg.pixels.ravel(), v.truth.ravel())[0, 1] > 0.99
    # an unedited frame maps back to the stored values exactly
    np.testing.assert_array_equal(rg.to_stored(rg.pixels.copy()), rg.stored)


@pytest.mark.parametrize("name", LOSSLESS_VARIANTS)
def test_lossless_variants_decode_exactly(name, tmp_path):
    v = make_variant(name, tmp_path)
    rg = read_radiograph(v.path)
    np.testing.assert_array_equal(rg.stored, v.expected_stored)
    assert rg.stored.dtype == v.expected_stored.dtype


@pytest.mark.parametrize("name", LINEAR_WINDOW)
def test_linear_windows_reproduce_the_attenuation_image(name, tmp_path):
    v = make_variant(name, tmp_path)
    rg = read_radiograph(v.path)
    step = 1.0 / ((1 << rg.meta["bits_stored"]) - 1)
    # Quantisation, plus the DICOM linear window's "c - 0.5" and "w - 1" terms, which are in rescaled
    # units: with RescaleSlope 0.5 they are worth two stored steps, hence three steps in all.
    assert np.abs(rg.pixels - v.truth).max() <= 3 * step


def test_monochrome1_reads_like_monochrome2(tmp_path):
    a = read_radiograph(make_variant("dx_presentation_mono1", tmp_path).path)
    b = read_radiograph(make_variant("cr_mono2_12", tmp_path).path)
    assert a.meta["photometric"] == "MONOCHROME1"
    np.testing.assert_allclose(a.pixels, b.pixels, atol=1e-3)


def test_first_of_several_windows_is_used(tmp_path):
    rg = read_radiograph(make_variant("cr_two_windows_14", tmp_path).path)
    # the second (narrow) window would clip a third of the image to 0 or 1
    assert np.mean((rg.pixels == 0) | (rg.pixels == 1)) < 0.01


def test_voi_lut_sequence_is_applied(tmp_path):
    v = make_variant("cr_voi_lut_seq", tmp_path)
    rg = read_radiograph(v.path)
    np.testing.assert_allclose(rg.pixels, np.sqrt(v.truth), atol=2e-3)


def test_sigmoid_voi_function_is_monotone_and_not_linear(tmp_path):
    v = make_variant("cr_sigmoid", tmp_path)
    rg = read_radiograph(v.path)
    order = np.argsort(v.truth.ravel(), kind="stable")
    assert np.all(np.diff(rg.pixels.ravel()[order]) >= -1e-6)
    assert np.abs(rg.pixels - v.truth).max() > 0.01


def test_rescale_slope_intercept_do_not_change_the_display(tmp_path):
    a = read_radiograph(make_variant("cr_rescale_12", tmp_path).path)
    b = read_radiograph(make_variant("cr_mono2_12", tmp_path).path)
    # equal up to the window formula's unit offsets (less than one 12-bit step), not shifted or scaled
    np.testing.assert_allclose(a.pixels, b.pixels, atol=1.0 / 4095)


@pytest.mark.parametrize(
    ("name", "spacing"),
    [("cr_mono2_12", (0.143, 0.143)), ("dx_processing_16", (0.143, 0.143)), ("sc_8bit", (0.2, 0.2))],
)
def test_pixel_spacing(name, spacing, tmp_path):
    assert read_radiograph(make_variant(name, tmp_path).path).spacing_mm == pytest.approx(spacing)


def test_metadata_describes_the_stored_values(tmp_path):
    rg = read_radiograph(make_variant("cr_signed_16", tmp_path).path)
    assert rg.meta["bits_stored"] == 16 and rg.meta["signed"] is True
    assert rg.stored.dtype == np.int16
    assert rg.dataset.PatientID == "VAR-cr_signed_16"


def test_edited_pixels_map_to_the_nearest_stored_value(tmp_path):
    rg = read_radiograph(make_variant("cr_mono2_12", tmp_path).path)
    frame = rg.pixels.copy()
    frame[10:20, 10:20] = np.clip(frame[10:20, 10:20] + 0.1, 0, 1)
    stored = rg.to_stored(frame)
    outside = np.ones(frame.shape, bool)
    outside[10:20, 10:20] = False
    np.testing.assert_array_equal(stored[outside], rg.stored[outside])
    np.testing.assert_allclose(rg.intensity.forward(stored)[~outside], frame[~outside], atol=1.0 / 4095)
