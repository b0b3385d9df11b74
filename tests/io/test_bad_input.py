"""Each kind of bad input: an InputError naming the file and the reason; the file left as it was."""

from __future__ import annotations

import hashlib

import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image
from pydicom.pixels.decoders import JPEG2000LosslessDecoder
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage

from ldedit_core.errors import InputError
from ldedit_core.io import new_radiograph_dataset, read_radiograph
from tests.dicom_variants import make_variant


def _fingerprint(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, path.stat().st_size


def _expect(path, *words):
    """Reading ``path`` raises InputError whose message names the file and contains ``words``."""
    before = _fingerprint(path)
    with pytest.raises(InputError) as info:
        read_radiograph(path)
    message = str(info.value)
    assert str(path) in message, message
    for word in words:
        assert word.lower() in message.lower(), message
    assert _fingerprint(path) == before, "the input file must be left exactly as it was"
    return message


def _save(ds, path):
    ds.save_as(path, enforce_file_format=True)
    return path


def _cr(**kwargs):
    return new_radiograph_dataset(np.zeros((32, 24), np.uint16) + 100, **kwargs)


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("this is not a radiograph\n" * 20)
    _expect(path, "not a DICOM")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    _expect(path, "empty file")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_radiograph(tmp_path / "nope.dcm")
    with pytest.raises(InputError, match="not a file"):
        read_radiograph(tmp_path)


def test_no_pixel_data(tmp_path):
    ds = _cr()
    del ds.PixelData
    _expect(_save(ds, tmp_path / "nopix.dcm"), "no pixel data")


@pytest.mark.parametrize(
    ("sop", "modality", "what"), [(CTImageStorage, "CT", "a CT"), (MRImageStorage, "MR", "an MR")]
)
def test_non_radiograph_modality(tmp_path, sop, modality, what):
    ds = _cr()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop
    ds.Modality = modality
    _expect(_save(ds, tmp_path / f"{modality}.dcm"), "not a radiograph", f"{what} image")


def test_colour_dicom(tmp_path):
    ds = _cr()
    rgb = np.zeros((32, 24, 3), np.uint8)
    ds.PhotometricInterpretation, ds.SamplesPerPixel, ds.PlanarConfiguration = "RGB", 3, 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = rgb.tobytes()
    _expect(_save(ds, tmp_path / "rgb.dcm"), "colour")


def test_multiframe_dicom(tmp_path):
    ds = _cr()
    ds.NumberOfFrames = 2
    ds.PixelData = np.zeros((2, 32, 24), np.uint16).tobytes()
    _expect(_save(ds, tmp_path / "two.dcm"), "more than one frame")


def test_truncated_native_pixel_data(tmp_path):
    ds = _cr()
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 3]
    _expect(_save(ds, tmp_path / "short.dcm"), "truncated")


def test_truncated_compressed_pixel_data(tmp_path):
    v = make_variant("j2k_12", tmp_path)
    ds = pydicom.dcmread(v.path)
    frag = pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1)
    data = next(frag)
    ds.PixelData = pydicom.encaps.encapsulate([data[: len(data) // 4]])
    _expect(_save(ds, tmp_path / "short_j2k.dcm"), "decode")


def test_truncated_file(tmp_path):
    v = make_variant("cr_mono2_12", tmp_path)
    path = tmp_path / "cut.dcm"
    path.write_bytes(v.path.read_bytes()[:600])
    _expect(path, "truncated")


@pytest.mark.parametrize(("rows", "cols", "word"), [(9000, 24, "absurd"), (0, 24, "empty image")])
def test_absurd_or_empty_size(tmp_path, rows, cols, word):
    ds = _cr()
    ds.Rows, ds.Columns = rows, cols
    _expect(_save(ds, tmp_path / f"size{rows}.dcm"), word)


def test_missing_decoder_names_the_package(tmp_path, monkeypatch):
    """pydicom's own state when pylibjpeg-openjpeg (and the others) are not installed."""
    v = make_variant("j2k_12", tmp_path)
    deps = {label: ("numpy", label) for label in JPEG2000LosslessDecoder.available_plugins}
    deps["pylibjpeg"] = ("numpy", "pylibjpeg", "pylibjpeg-openjpeg")
    monkeypatch.setattr(JPEG2000LosslessDecoder, "_available", {})
    monkeypatch.setattr(JPEG2000LosslessDecoder, "_unavailable", deps)
    _expect(v.path, "no decoder", "pylibjpeg-openjpeg", "pip install")


def test_colour_png(tmp_path):
    path = tmp_path / "colour.png"
    img = np.zeros((32, 24, 3), np.uint8)
    img[..., 0] = 200
    Image.fromarray(img).save(path)
    _expect(path, "colour")


def test_multipage_tiff(tmp_path):
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tif:
        for _ in range(3):
            tif.write(np.zeros((32, 24), np.uint16), photometric="minisblack")
    _expect(path, "more than one frame")


def test_planar_colour_tiff(tmp_path):
    path = tmp_path / "planar.tif"
    rgb = np.zeros((3, 32, 24), np.uint8)
    rgb[1] = 90
    tifffile.imwrite(path, rgb, photometric="rgb", planarconfig="separate")
    _expect(path, "colour")


def test_corrupt_png(tmp_path):
    path = tmp_path / "bad.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:40])
    _expect(path, "corrupt")


def test_three_slice_nrrd(tmp_path):
    import nrrd

    path = tmp_path / "vol.nrrd"
    nrrd.write(str(path), np.zeros((3, 32, 24), np.int16), index_order="C")
    _expect(path, "single 2-D slice")


def test_dicom_with_bad_transfer_syntax_header(tmp_path):
    ds = _cr()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.BitsStored = 24
    _expect(_save(ds, tmp_path / "bits.dcm"), "BitsStored")
