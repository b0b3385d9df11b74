"""ROI masks: every input format written here and read back, the writers' round trips, and each refusal."""

from __future__ import annotations

import hashlib

import highdicom as hd
import nrrd
import numpy as np
import pydicom
import pytest
import slicerio
import tifffile
from PIL import Image
from pydicom.sr.codedict import codes

from ldedit_core.errors import InputError
from ldedit_core.io import (
    read_radiograph,
    read_roi,
    write_radiograph_dicom,
    write_roi_nrrd,
    write_roi_seg,
)
from tests.dciodvfy import dciodvfy_errors
from tests.dicom_variants import COLS, ROWS, make_variant, truth_image

# the radiograph's NRRD geometry: i = columns, j = rows, k = the one slice
SPACING = np.diag([0.15, 0.2, 1.0])
ORIGIN = np.array([10.0, 20.0, 30.0])


def _roi() -> np.ndarray:
    """An ellipse in rows 20..44, columns 13..31 of the 64 x 48 test image."""
    y, x = np.mgrid[0:ROWS, 0:COLS]
    return ((y - 32) / 12.5) ** 2 + ((x - 22) / 9.5) ** 2 <= 1


def _soft() -> np.ndarray:
    """A soft ROI: 1 in the middle of the ellipse, falling off to 0 at its edge."""
    y, x = np.mgrid[0:ROWS, 0:COLS]
    return np.clip(1.2 - ((y - 32) / 12.5) ** 2 - ((x - 22) / 9.5) ** 2, 0, 1).astype(np.float32)


ROI = _roi()


@pytest.fixture
def dicom_rg(tmp_path):
    return read_radiograph(write_radiograph_dicom(truth_image(), tmp_path / "cxr.dcm", patient_id="ROI-1"))


@pytest.fixture
def png_rg(tmp_path):
    path = tmp_path / "cxr.png"
    Image.fromarray(np.rint(truth_image() * 255).astype(np.uint8)).save(path)
    return read_radiograph(path)


@pytest.fixture
def nrrd_rg(tmp_path):
    path = tmp_path / "cxr.nrrd"
    stored = np.rint(truth_image() * 4000).astype(np.int16)[None]  # (1, rows, cols), as Slicer stores it
    header = {"space": "left-posterior-superior", "space directions": SPACING, "space origin": ORIGIN}
    nrrd.write(str(path), stored, header, index_order="C")
    return read_radiograph(path)


def _fingerprint(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _refused(path, rg, *words, segment=None):
    """read_roi raises an InputError naming ``path`` and saying ``words``; the file is left as it was."""
    before = _fingerprint(path)
    with pytest.raises(InputError) as info:
        read_roi(path, rg, segment=segment)
    message = str(info.value)
    assert str(path) in message, message
    for word in words:
        assert word.lower() in message.lower(), message
    assert _fingerprint(path) == before
    return message


# --- images and NRRD ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 200, 255])
def test_png_any_nonzero_value_is_inside(tmp_path, png_rg, value):
    path = tmp_path / "roi.png"
    Image.fromarray(ROI.astype(np.uint8) * value).save(path)
    mask = read_roi(path, png_rg)
    assert mask.dtype == np.float32 and mask.shape == png_rg.shape
    np.testing.assert_array_equal(mask, ROI)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grey_png_is_a_soft_mask(tmp_path, dicom_rg, dtype):
    full = np.iinfo(dtype).max
    stored = np.rint(_soft() * full).astype(dtype)
    path = tmp_path / "soft.png"
    Image.fromarray(stored).save(path)
    np.testing.assert_allclose(read_roi(path, dicom_rg), stored / full, atol=1e-6)


def test_tiff_float_and_bool(tmp_path, dicom_rg):
    tifffile.imwrite(tmp_path / "soft.tif", _soft())
    np.testing.assert_allclose(read_roi(tmp_path / "soft.tif", dicom_rg), _soft(), atol=0)
    tifffile.imwrite(tmp_path / "bin.tif", ROI)
    np.testing.assert_array_equal(read_roi(tmp_path / "bin.tif", dicom_rg), ROI)


def test_jpeg_mask_is_read_as_soft(tmp_path, dicom_rg):
    path = tmp_path / "roi.jpg"
    Image.fromarray(ROI.astype(np.uint8) * 255).save(path, quality=95)
    mask = read_roi(path, dicom_rg)
    assert ((mask > 0.5) == ROI).mean() > 0.99  # lossy: close to the ROI, not exact


def test_colour_masks(tmp_path, dicom_rg):
    red = np.zeros((ROWS, COLS, 3), np.uint8)
    red[ROI] = (220, 30, 30)
    Image.fromarray(red).save(tmp_path / "red.png")
    np.testing.assert_array_equal(read_roi(tmp_path / "red.png", dicom_rg), ROI)
    grey = np.repeat((ROI * 255).astype(np.uint8)[..., None], 3, axis=2)
    Image.fromarray(grey).save(tmp_path / "grey-rgb.png")
    np.testing.assert_array_equal(read_roi(tmp_path / "grey-rgb.png", dicom_rg), ROI)
    overlay = np.zeros((ROWS, COLS, 4), np.uint8)
    overlay[..., 1] = 255
    overlay[..., 3] = np.rint(_soft() * 255)  # one colour, painted with varying opacity
    Image.fromarray(overlay).save(tmp_path / "overlay.png")
    np.testing.assert_allclose(read_roi(tmp_path / "overlay.png", dicom_rg), overlay[..., 3] / 255, atol=1e-6)


def test_nrrd_masks(tmp_path, dicom_rg):
    nrrd.write(str(tmp_path / "2d.nrrd"), ROI.astype(np.uint8), index_order="C")
    np.testing.assert_array_equal(read_roi(tmp_path / "2d.nrrd", dicom_rg), ROI)
    nrrd.write(str(tmp_path / "slice.nrrd"), _soft()[None], index_order="C")
    np.testing.assert_array_equal(read_roi(tmp_path / "slice.nrrd", dicom_rg), _soft())


@pytest.mark.parametrize("source", ["dicom_rg", "png_rg", "nrrd_rg"])
@pytest.mark.parametrize("kind", ["binary", "soft"])
def test_write_roi_nrrd_round_trip(tmp_path, request, source, kind):
    rg = request.getfixturevalue(source)
    mask = ROI if kind == "binary" else _soft()
    path = write_roi_nrrd(mask, tmp_path / "out" / "roi.nrrd", radiograph=rg)
    np.testing.assert_array_equal(read_roi(path, rg), mask)
    data, header = nrrd.read(str(path), index_order="C")
    assert data.dtype == (np.uint8 if kind == "binary" else np.float32)
    assert data.shape == (1, ROWS, COLS)
    if source == "nrrd_rg":  # overlays the radiograph in Slicer: same geometry
        np.testing.assert_allclose(header["space directions"], SPACING)
        np.testing.assert_allclose(header["space origin"], ORIGIN)
    elif source == "dicom_rg":
        assert np.linalg.norm(header["space directions"], axis=1)[:2] == pytest.approx(rg.spacing_mm[::-1])
    assert [p.name for p in path.parent.iterdir()] == ["roi.nrrd"], "a temporary file was left"


# --- 3D Slicer segmentations ---------------------------------------------------------------------------


def _slicerio_segmentation(path):
    """Three segments written by slicerio: 'lesion' and 'heart' share layer 0 (labels 1, 2), 'lung'
    overlaps 'lesion' and so gets layer 1. Voxels are (i, j, k) = (columns, rows, slice)."""
    seg = slicerio.create_segmentation((COLS, ROWS, 1), np.diag([0.143, 0.143, 1.0, 1.0]))
    masks = {"lesion": ROI, "lung": np.zeros_like(ROI), "heart": np.zeros_like(ROI)}
    masks["lung"][30:50, 20:40] = True
    masks["heart"][2:8, 2:8] = True
    for name, mask in masks.items():
        slicerio.add_segment(seg, mask.T[..., None], {"name": name})
    assert seg["voxels"].ndim == 4
    assert [(s["layer"], s["labelValue"]) for s in seg["segments"]] == [(0, 1), (1, 1), (0, 2)]
    slicerio.write_segmentation(str(path), seg)
    return masks


def test_slicer_segments_by_name_index_and_default(tmp_path, dicom_rg):
    path = tmp_path / "roi.seg.nrrd"
    masks = _slicerio_segmentation(path)
    np.testing.assert_array_equal(read_roi(path, dicom_rg), masks["lesion"])  # default: the first
    for index, (name, mask) in enumerate(masks.items()):
        np.testing.assert_array_equal(read_roi(path, dicom_rg, segment=name), mask)
        np.testing.assert_array_equal(read_roi(path, dicom_rg, segment=index), mask)


def _reference_geometry(extent):
    """Slicer's "Reference image geometry" conversion parameter: IJK-to-RAS (row major), then the extent."""
    ijk_to_ras = np.eye(4)
    ijk_to_ras[:3, :3] = np.diag([-1, -1, 1]) @ SPACING.T
    ijk_to_ras[:3, 3] = np.diag([-1, -1, 1]) @ ORIGIN
    values = [f"{v:g}" for v in ijk_to_ras.ravel()] + [str(e) for e in extent]
    return "Reference image geometry|" + ";".join(values) + ";|Image geometry of the source volume&"


def _cropped_slicer_file(path, *, extent=(0, COLS - 1, 0, ROWS - 1, 0, 0), origin=ORIGIN):
    """As Slicer saves a segmentation cropped to its segments: a file grid 2 voxels larger than the
    segments' box, placed by Segmentation_ReferenceImageExtentOffset; Segment<N>_Extent in file voxels.
    A stray voxel outside 'effusion''s extent must be ignored."""
    offset = np.array([13 - 2, 20 - 2, 0])  # (i, j, k) of file voxel 0 in the reference image
    box = np.zeros((COLS, ROWS), np.uint8)  # (i, j)
    box[ROI.T] = 1
    box[30:34, 50:55] = 2  # a second segment sharing the layer: label 2
    voxels = box[offset[0] : offset[0] + 24, offset[1] : offset[1] + 39, None].copy()
    voxels[0, 0, 0] = 1  # outside Segment0's extent
    header = {
        "space": "left-posterior-superior",
        "space directions": SPACING,
        "space origin": origin + SPACING.T @ offset,
        "kinds": ["domain", "domain", "domain"],
        "Segmentation_MasterRepresentation": "Binary labelmap",
        "Segmentation_ContainedRepresentationNames": "Binary labelmap|",
        "Segmentation_ReferenceImageExtentOffset": " ".join(map(str, offset)),
        "Segmentation_ConversionParameters": _reference_geometry(extent),
        "Segment0_ID": "Segment_1",
        "Segment0_Name": "effusion",
        "Segment0_LabelValue": "1",
        "Segment0_Layer": "0",
        "Segment0_Extent": "2 20 2 26 0 0",
        "Segment1_ID": "Segment_2",
        "Segment1_Name": "nodule",
        "Segment1_LabelValue": "2",
        "Segment1_Layer": "0",
        "Segment1_Extent": f"{30 - offset[0]} {33 - offset[0]} {50 - offset[1]} {54 - offset[1]} 0 0",
    }
    nrrd.write(str(path), voxels, header)  # Fortran order: (i, j, k), as Slicer writes
    nodule = np.zeros_like(ROI)
    nodule[50:55, 30:34] = True
    return nodule


@pytest.mark.parametrize("source", ["nrrd_rg", "dicom_rg"])
def test_cropped_slicer_segmentation_is_placed_by_its_offset(tmp_path, request, source):
    rg = request.getfixturevalue(source)
    path = tmp_path / "cropped.seg.nrrd"
    nodule = _cropped_slicer_file(path)
    np.testing.assert_array_equal(read_roi(path, rg, segment="effusion"), ROI)
    np.testing.assert_array_equal(read_roi(path, rg, segment="nodule"), nodule)


def test_legacy_slicer_file_one_layer_per_segment(tmp_path, dicom_rg):
    """Slicer < 4.11: a 4-D file, one binary layer per segment, no Layer or LabelValue keys."""
    other = np.zeros_like(ROI)
    other[5:9, 5:9] = True
    voxels = np.stack([ROI.T, other.T])[..., None].astype(np.uint8)  # (layer, i, j, k)
    header = {
        "space": "left-posterior-superior",
        "space directions": np.vstack([np.full(3, np.nan), np.eye(3)]),
        "kinds": ["list", "domain", "domain", "domain"],
        "Segment0_ID": "a",
        "Segment0_Name": "first",
        "Segment1_ID": "b",
        "Segment1_Name": "second",
    }
    path = tmp_path / "legacy.seg.nrrd"
    nrrd.write(str(path), voxels, header)
    np.testing.assert_array_equal(read_roi(path, dicom_rg, segment="second"), other)


def test_slicer_segment_errors(tmp_path, dicom_rg):
    path = tmp_path / "roi.seg.nrrd"
    _slicerio_segmentation(path)
    message = _refused(
        path, dicom_rg, "no segment named 'lesoin'", "0: 'lesion'", "2: 'heart'", segment="lesoin"
    )
    assert "did you mean 'lesion'" in message
    _refused(path, dicom_rg, "no segment number 3", "1: 'lung'", segment=3)
    with pytest.raises(TypeError, match="segment must be"):
        read_roi(path, dicom_rg, segment=1.5)

    twins = slicerio.create_segmentation((COLS, ROWS, 1), np.eye(4))
    for _ in range(2):
        slicerio.add_segment(twins, ROI.T[..., None], {"name": "roi"})
    slicerio.write_segmentation(str(tmp_path / "twins.seg.nrrd"), twins)
    _refused(tmp_path / "twins.seg.nrrd", dicom_rg, "2 segments are named 'roi'", segment="roi")


def test_slicer_geometry_and_size_errors(tmp_path, nrrd_rg, dicom_rg):
    moved = tmp_path / "moved.seg.nrrd"
    _cropped_slicer_file(moved, origin=ORIGIN + np.array([5.0, 0, 0]))
    _refused(moved, nrrd_rg, "does not lie on the radiograph's voxels", "another image")

    bigger = tmp_path / "bigger.seg.nrrd"
    _cropped_slicer_file(bigger, extent=(0, 79, 0, 99, 0, 0))
    _refused(bigger, dicom_rg, "wrong size", "100 x 80", f"{ROWS} x {COLS}")

    seg = slicerio.create_segmentation((COLS + 10, ROWS, 1), np.eye(4))  # no reference geometry
    slicerio.add_segment(seg, np.pad(ROI.T, ((0, 10), (0, 0)))[..., None], {"name": "roi"})
    slicerio.write_segmentation(str(tmp_path / "wide.seg.nrrd"), seg)
    _refused(tmp_path / "wide.seg.nrrd", dicom_rg, "wrong size", f"{ROWS} x {COLS + 10}")


# --- DICOM SEG ---------------------------------------------------------------------------------------------


def test_write_roi_seg_binary_round_trip_and_content(tmp_path, dicom_rg):
    path = write_roi_seg(ROI, dicom_rg, tmp_path / "seg" / "roi.dcm", label="effusion")
    np.testing.assert_array_equal(read_roi(path, dicom_rg), ROI)
    assert dciodvfy_errors(path) == []
    ds, src = pydicom.dcmread(path), pydicom.dcmread(dicom_rg.path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4" and ds.SegmentationType == "BINARY"
    assert ds.SeriesDescription.startswith("LDEdit ROI") and ds.Manufacturer == "LDEdit"
    refs = ds.ReferencedSeriesSequence[0]
    assert refs.SeriesInstanceUID == src.SeriesInstanceUID
    assert refs.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    for keyword in ("PatientID", "PatientName", "StudyInstanceUID", "Rows", "Columns", "PatientOrientation"):
        assert ds[keyword].value == src[keyword].value, keyword
    assert ds.SeriesInstanceUID != src.SeriesInstanceUID
    item = ds.SegmentSequence[0]
    assert item.SegmentLabel == "effusion" and item.SegmentAlgorithmType == "MANUAL"
    assert "SegmentAlgorithmName" not in item  # DICOM forbids it for MANUAL segments
    assert item.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
    assert item.SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Lesion"
    assert [p.name for p in path.parent.iterdir()] == ["roi.dcm"], "a temporary file was left"


def test_write_roi_seg_fractional_automatic(tmp_path, dicom_rg):
    path = write_roi_seg(
        _soft(), dicom_rg, tmp_path / "soft.dcm", fractional=True, algorithm_type="automatic"
    )
    np.testing.assert_allclose(read_roi(path, dicom_rg), _soft(), atol=0.5 / 255 + 1e-6)
    assert dciodvfy_errors(path) == []
    ds = pydicom.dcmread(path)
    assert ds.SegmentationType == "FRACTIONAL" and ds.SegmentationFractionalType == "PROBABILITY"
    item = ds.SegmentSequence[0]
    assert item.SegmentAlgorithmType == "AUTOMATIC" and item.SegmentAlgorithmName == "LDEdit"


@pytest.mark.parametrize("variant", ["cr_mono1_10", "cr_signed_16", "dx_presentation_14", "sc_8bit"])
def test_write_roi_seg_is_valid_for_each_source_kind(tmp_path, variant):
    rg = read_radiograph(make_variant(variant, tmp_path).path)
    path = write_roi_seg(ROI, rg, tmp_path / "roi.dcm", label="Pleural effusion (é)")
    assert dciodvfy_errors(path) == []
    np.testing.assert_array_equal(read_roi(path, rg), ROI)


def _two_segment_seg(rg, path):
    """A SEG with two segments ('lesion', 'lung'), as another tool might write it."""
    lung = np.zeros_like(ROI)
    lung[40:60, 5:40] = True
    descriptions = [
        hd.seg.SegmentDescription(
            number, name, codes.cid7150.MorphologicallyAbnormalStructure, codes.SCT.Lesion, "MANUAL"
        )
        for number, name in ((1, "lesion"), (2, "lung"))
    ]
    seg = hd.seg.Segmentation(
        [rg.dataset], np.stack([ROI, lung], axis=-1)[None].astype(np.uint8), "BINARY", descriptions,
        hd.UID(), 2, hd.UID(), 1, "other", "tool", "1", "0",
    )  # fmt: skip
    seg.PatientOrientation = rg.dataset.PatientOrientation
    seg.save_as(path)
    return lung


def test_seg_segment_choice(tmp_path, dicom_rg):
    path = tmp_path / "two.dcm"
    lung = _two_segment_seg(dicom_rg, path)
    np.testing.assert_array_equal(read_roi(path, dicom_rg), ROI)
    np.testing.assert_array_equal(read_roi(path, dicom_rg, segment="lung"), lung)
    np.testing.assert_array_equal(read_roi(path, dicom_rg, segment=1), lung)
    _refused(path, dicom_rg, "no segment named 'heart'", "0: 'lesion', 1: 'lung'", segment="heart")


def test_seg_of_another_image(tmp_path, dicom_rg):
    other = read_radiograph(write_radiograph_dicom(truth_image(), tmp_path / "other.dcm"))
    path = write_roi_seg(ROI, other, tmp_path / "seg.dcm")
    message = _refused(path, dicom_rg, "another image")
    assert other.dataset.SOPInstanceUID in message and dicom_rg.dataset.SOPInstanceUID in message


def test_seg_needs_a_dicom_radiograph(tmp_path, dicom_rg, png_rg):
    path = write_roi_seg(ROI, dicom_rg, tmp_path / "seg.dcm")
    _refused(path, png_rg, "SOP Instance UID", "png")
    with pytest.raises(InputError, match="must reference a DICOM image") as info:
        write_roi_seg(ROI, png_rg, tmp_path / "png-seg.dcm")
    assert str(png_rg.path) in str(info.value)
    assert not (tmp_path / "png-seg.dcm").exists()


def test_a_radiograph_is_not_a_seg(dicom_rg):
    _refused(dicom_rg.path, dicom_rg, "not a DICOM Segmentation", "Modality CR")


# --- refusals ------------------------------------------------------------------------------------------


def test_unreadable_files(tmp_path, dicom_rg):
    with pytest.raises(InputError, match="no such file"):
        read_roi(tmp_path / "missing.png", dicom_rg)
    (tmp_path / "empty.png").write_bytes(b"")
    _refused(tmp_path / "empty.png", dicom_rg, "empty file")
    (tmp_path / "notes.txt").write_text("not a mask\n" * 50)
    _refused(tmp_path / "notes.txt", dicom_rg, "not a PNG, TIFF or JPEG mask")
    Image.fromarray(ROI.astype(np.uint8) * 255).save(tmp_path / "whole.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "whole.png").read_bytes()[:60])
    _refused(tmp_path / "cut.png", dicom_rg, "corrupt or truncated")
    nrrd.write(str(tmp_path / "whole.nrrd"), ROI.astype(np.uint8), {"encoding": "raw"})
    (tmp_path / "cut.nrrd").write_bytes((tmp_path / "whole.nrrd").read_bytes()[:-100])
    _refused(tmp_path / "cut.nrrd", dicom_rg, "corrupt or truncated NRRD")


def test_wrong_size_empty_and_not_a_mask(tmp_path, dicom_rg):
    Image.fromarray(np.ones((32, 24), np.uint8)).save(tmp_path / "small.png")
    _refused(tmp_path / "small.png", dicom_rg, "wrong size", "32 x 24", f"{ROWS} x {COLS}")
    Image.fromarray(np.zeros((ROWS, COLS), np.uint8)).save(tmp_path / "zero.png")
    _refused(tmp_path / "zero.png", dicom_rg, "empty mask")
    photo = np.random.default_rng(0).integers(0, 256, (ROWS, COLS, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    _refused(tmp_path / "photo.png", dicom_rg, "not a mask", "colour")
    nrrd.write(str(tmp_path / "labels.nrrd"), (ROI * np.arange(COLS) % 3).astype(np.int16), index_order="C")
    _refused(tmp_path / "labels.nrrd", dicom_rg, "not a mask", "label map")
    nrrd.write(str(tmp_path / "neg.nrrd"), _soft() - 0.5, index_order="C")
    _refused(tmp_path / "neg.nrrd", dicom_rg, "negative values")
    nrrd.write(str(tmp_path / "volume.nrrd"), np.ones((3, ROWS, COLS), np.uint8), index_order="C")
    _refused(tmp_path / "volume.nrrd", dicom_rg, "single 2-D slice")
    Image.fromarray(ROI.astype(np.uint8)).save(tmp_path / "roi.png")
    _refused(tmp_path / "roi.png", dicom_rg, "has no segments", segment="lesion")


def test_writers_refuse_to_overwrite_and_bad_masks(tmp_path, dicom_rg):
    before = _fingerprint(dicom_rg.path)
    with pytest.raises(FileExistsError):
        write_roi_seg(ROI, dicom_rg, dicom_rg.path)
    with pytest.raises(FileExistsError):
        write_roi_nrrd(ROI, dicom_rg.path)
    assert _fingerprint(dicom_rg.path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cxr.dcm"]
    with pytest.raises(ValueError, match="fractional=True"):
        write_roi_seg(_soft(), dicom_rg, tmp_path / "a.dcm")
    with pytest.raises(ValueError, match="expected \\[0, 1\\]"):
        write_roi_nrrd(ROI.astype(np.uint8) * 255, tmp_path / "a.nrrd")
    with pytest.raises(ValueError, match="empty"):
        write_roi_nrrd(np.zeros((4, 4)), tmp_path / "a.nrrd")
    with pytest.raises(ValueError, match="radiograph's"):
        write_roi_seg(ROI[:10], dicom_rg, tmp_path / "a.dcm")
    with pytest.raises(ValueError, match="algorithm_type"):
        write_roi_seg(ROI, dicom_rg, tmp_path / "a.dcm", algorithm_type="magic")
    with pytest.raises(ValueError, match="label must be at most 64"):
        write_roi_seg(ROI, dicom_rg, tmp_path / "a.dcm", label="x" * 65)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cxr.dcm"]


def test_slicer_voxels_beyond_the_reference_image_are_dropped_with_a_warning(tmp_path, dicom_rg, caplog):
    """Slicer may save a grid reaching beyond the reference image (a negative extent offset)."""
    seg = slicerio.create_segmentation((COLS + 5, ROWS, 1), np.eye(4))
    seg["referenceImageExtentOffset"] = [-5, 0, 0]
    extent = f"0;{COLS - 1};0;{ROWS - 1};0;0"
    seg["conversionParameters"] = [
        {
            "name": "Reference image geometry",
            "value": "1;0;0;0;0;1;0;0;0;0;1;0;0;0;0;1;" + extent + ";",
            "description": "-",
        }
    ]
    voxels = np.pad(ROI.T, ((5, 0), (0, 0)))
    voxels[:5, 30:34] = True  # columns -5..-1: outside the image
    slicerio.add_segment(seg, voxels[..., None], {"name": "roi"})
    slicerio.write_segmentation(str(tmp_path / "beyond.seg.nrrd"), seg)
    np.testing.assert_array_equal(read_roi(tmp_path / "beyond.seg.nrrd", dicom_rg), ROI)
    assert "20 voxels of segment 'roi' lie outside the radiograph" in caplog.text
