"""write_followups: exact pixel round trips on every DICOM variant, IOD validity, marking, safety."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from ldedit_core import __version__
from ldedit_core.io import read_radiograph, write_followups
from ldedit_core.io.followups import FollowupIOD
from tests.dciodvfy import dciodvfy_errors
from tests.dicom_variants import VARIANTS, make_variant

WARNING = "SYNTHETIC - NOT FOR DIAGNOSTIC USE"
NOT_MIRRORABLE = {"dx_processing_16"}
BOX = (slice(12, 40), slice(8, 30))
PIXEL_LAYOUT = (
    "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
    "PhotometricInterpretation", "SamplesPerPixel",
)  # fmt: skip
DISPLAY = (
    "RescaleSlope", "RescaleIntercept", "ModalityLUTSequence", "WindowCenter", "WindowWidth",
    "VOILUTFunction", "VOILUTSequence",
)  # fmt: skip


def _state(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _edited(pixels: np.ndarray) -> np.ndarray:
    """The source with a box pushed towards 0.25..0.75 (changes almost every pixel in it)."""
    frame = pixels.copy()
    frame[BOX] = 0.25 + 0.5 * (1.0 - pixels[BOX])
    return frame


#: Every variant x IOD, except mirroring DX For Processing, which is refused (tested below).
VARIANT_IODS = [
    (n, iod) for n in VARIANTS for iod in ("sc", "source") if not (iod == "source" and n in NOT_MIRRORABLE)
]


@pytest.mark.parametrize(("name", "iod"), VARIANT_IODS)
def test_variant_round_trip_and_validity(name, iod, tmp_path):
    v = make_variant(name, tmp_path)
    before = _state(v.path)
    rg = read_radiograph(v.path)
    src = pydicom.dcmread(v.path)
    edited = _edited(rg.pixels)
    paths = write_followups(rg, [rg.pixels, edited], tmp_path / "out", description="effusion", iod=iod)
    assert _state(v.path) == before, "the source file was modified"
    same, changed = (pydicom.dcmread(p) for p in paths)

    # an unchanged frame reproduces the source's pixel data exactly
    np.testing.assert_array_equal(same.pixel_array, src.pixel_array)
    assert same.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    # a partly edited frame: bit-identical outside the box, changed inside, reads back as the frame
    outside = np.ones(rg.shape, dtype=bool)
    outside[BOX] = False
    np.testing.assert_array_equal(changed.pixel_array[outside], src.pixel_array[outside])
    assert (changed.pixel_array[BOX] != src.pixel_array[BOX]).mean() > 0.5
    back = read_radiograph(paths[1])
    np.testing.assert_allclose(back.pixels, rg.intensity.forward(changed.pixel_array), atol=1e-6)
    step = float(np.diff(np.unique(rg.intensity.table)).max())
    assert np.abs(back.pixels[BOX] - edited[BOX]).max() <= step + 1e-6
    assert back.spacing_mm == rg.spacing_mm

    for ds in (same, changed):
        for keyword in PIXEL_LAYOUT:
            assert ds.get(keyword) == src.get(keyword), keyword
        for keyword in DISPLAY:
            if keyword in src:
                assert ds[keyword].value == src[keyword].value, keyword
        expected_class = src.SOPClassUID if iod == "source" else pydicom.uid.SecondaryCaptureImageStorage
        assert ds.SOPClassUID == expected_class

    for path in paths:
        assert dciodvfy_errors(path) == [], path.name


@pytest.mark.parametrize("iod", ["sc", "source", FollowupIOD.SOURCE])
@pytest.mark.parametrize("name", ["cr_mono2_12", "dx_presentation_14"])
def test_followup_identity_dates_and_marking(name, iod, tmp_path):
    v = make_variant(name, tmp_path)
    rg = read_radiograph(v.path)
    src = pydicom.dcmread(v.path)
    frames = [_edited(rg.pixels) * s + rg.pixels * (1 - s) for s in (0.3, 0.6, 1.0)]
    root = "1.2.826.0.1.3680043.10.999."
    paths = write_followups(
        rg,
        frames,
        tmp_path / "out",
        description="cardiomegaly progression",
        derivation="test edit, strength 0.3/0.6/1.0",
        interval_days=30.5,
        iod=iod,
        uid_root=root,
        series_number_start=5,
    )
    assert [p.name for p in paths] == ["followup_001.dcm", "followup_002.dcm", "followup_003.dcm"]
    out = [pydicom.dcmread(p) for p in paths]
    uids = [d.get(k) for d in out for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")]
    assert len(set(uids)) == 9 and all(u.startswith(root) for u in uids)
    assert not {src.StudyInstanceUID, src.SeriesInstanceUID, src.SOPInstanceUID} & set(uids)
    origin = dt.datetime.strptime(src.StudyDate + src.StudyTime, "%Y%m%d%H%M%S")
    mirrored = iod != "sc"
    for t, ds in enumerate(out, start=1):
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
            assert ds[keyword].value == src[keyword].value
        when = dt.datetime.strptime(ds.StudyDate + ds.StudyTime.split(".")[0], "%Y%m%d%H%M%S")
        assert when - origin == dt.timedelta(days=30.5 * t)
        assert ds.SeriesDate == ds.ContentDate == ds.StudyDate
        assert ds.SeriesDescription.startswith(WARNING) and len(ds.SeriesDescription) <= 64
        assert f"step {t} of 3" in ds.SeriesDescription and f"step {t} of 3" in ds.StudyDescription
        assert "cardiomegaly progression" in ds.StudyDescription
        assert "cardiomegaly progression" in ds.ImageComments and WARNING in ds.ImageComments
        assert ds.SeriesNumber == 4 + t and ds.InstanceNumber == 1
        assert list(ds.ImageType[:2]) == ["DERIVED", "SECONDARY"]
        if mirrored and src.Modality == "DX":
            assert len(ds.ImageType) == 3
        assert ds.SyntheticData == "YES"
        assert ds.ContentQualification == "RESEARCH"
        assert ds.BurnedInAnnotation == "NO"
        assert "test edit, strength 0.3/0.6/1.0" in ds.DerivationDescription
        assert ds.AccessionNumber == "" and ds.StudyID == f"LDEDIT-FU{t}"
        if mirrored:
            assert ds.SOPClassUID == src.SOPClassUID and ds.Modality == src.Modality
            assert "ConversionType" not in ds
        else:
            assert ds.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage
            assert ds.ConversionType == "SYN" and ds.Modality == "OT"
        (ref,) = ds.SourceImageSequence
        assert ref.ReferencedSOPClassUID == src.SOPClassUID
        assert ref.ReferencedSOPInstanceUID == src.SOPInstanceUID
        ldedit = [e for e in ds.ContributingEquipmentSequence if e.Manufacturer == "LDEdit"]
        assert len(ldedit) == 1
        assert ldedit[0].SoftwareVersions == __version__
        assert ldedit[0].PurposeOfReferenceCodeSequence[0].CodeValue == "109103"
        assert ldedit[0].PurposeOfReferenceCodeSequence[0].CodingSchemeDesignator == "DCM"
        assert "ContributionDateTime" in ldedit[0] and "cardiomegaly" in ldedit[0].ContributionDescription


def test_png_source_gets_a_synthetic_patient_and_secondary_capture(tmp_path):
    rng = np.random.default_rng(0)
    img = (rng.random((48, 64)) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "cxr.png")
    rg = read_radiograph(tmp_path / "cxr.png")
    origin = dt.datetime(2025, 1, 1, 8, 30)
    paths = write_followups(
        rg, [rg.pixels, _edited(rg.pixels)], tmp_path / "a", description="effusion", origin=origin
    )
    out = [pydicom.dcmread(p) for p in paths]
    np.testing.assert_array_equal(out[0].pixel_array, img)
    assert out[0].SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage and out[0].ConversionType == "SYN"
    assert {str(d.PatientName) for d in out} == {"LDEDIT^SYNTHETIC"}
    assert out[0].PatientID == out[1].PatientID and out[0].PatientID.startswith("LDEDIT-")
    assert "SourceImageSequence" not in out[0]
    assert [d.StudyDate for d in out] == ["20250401", "20250630"] and out[0].StudyTime == "083000"
    back = read_radiograph(paths[1])
    assert np.abs(back.pixels - _edited(rg.pixels)).max() <= 1 / 255 + 1e-6
    for path in paths:
        assert dciodvfy_errors(path) == []
    # the same pixels give the same patient; other pixels another one; the caller may override it
    again = write_followups(rg, [rg.pixels], tmp_path / "b", description="effusion")
    assert pydicom.dcmread(again[0]).PatientID == out[0].PatientID
    assert pydicom.dcmread(again[0]).StudyDate >= dt.date.today().strftime("%Y%m%d")
    Image.fromarray(255 - img).save(tmp_path / "other.png")
    other = read_radiograph(tmp_path / "other.png")
    other_out = write_followups(other, [other.pixels], tmp_path / "c", description="effusion")
    assert pydicom.dcmread(other_out[0]).PatientID != out[0].PatientID
    named = write_followups(
        rg, [rg.pixels], tmp_path / "d", description="effusion", patient={"PatientID": "TRIAL-007"}
    )
    assert pydicom.dcmread(named[0]).PatientID == "TRIAL-007"
    with pytest.raises(ValueError, match="iod='source' needs a DICOM source"):
        write_followups(rg, [rg.pixels], tmp_path / "e", description="effusion", iod="source")


def test_array_and_float_sources_are_valid(tmp_path):
    from ldedit_core.io import Radiograph

    rg = Radiograph.from_array(np.linspace(0, 1, 48 * 64).reshape(48, 64), spacing_mm=(0.2, 0.2))
    (path,) = write_followups(rg, [rg.pixels], tmp_path, description="nodule growth")
    ds = pydicom.dcmread(path)
    np.testing.assert_array_equal(ds.pixel_array, rg.stored)
    assert [float(x) for x in ds.PixelSpacing] == [0.2, 0.2]
    assert dciodvfy_errors(path) == []


def test_refuses_to_overwrite_and_writes_nothing(tmp_path):
    v = make_variant("cr_mono2_12", tmp_path)
    rg = read_radiograph(v.path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "followup_002.dcm").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match=r"followup_002\.dcm"):
        write_followups(rg, [rg.pixels, rg.pixels], out, description="effusion")
    assert sorted(p.name for p in out.iterdir()) == ["followup_002.dcm"]
    assert (out / "followup_002.dcm").read_bytes() == b"keep me"
    first = write_followups(rg, [rg.pixels], tmp_path / "again", description="effusion")
    state = _state(first[0])
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        write_followups(rg, [rg.pixels], tmp_path / "again", description="effusion")
    assert _state(first[0]) == state


def test_a_failed_write_removes_what_it_wrote(tmp_path, monkeypatch):
    import ldedit_core.io.followups as followups

    v = make_variant("cr_mono2_12", tmp_path)
    rg = read_radiograph(v.path)
    real = followups.build_sc
    calls = []

    def fail_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(followups, "build_sc", fail_second)
    with pytest.raises(RuntimeError, match="disk full"):
        write_followups(rg, [rg.pixels, rg.pixels], tmp_path / "out", description="effusion")
    assert list((tmp_path / "out").iterdir()) == []


def test_dx_for_processing_cannot_be_mirrored(tmp_path):
    rg = read_radiograph(make_variant("dx_processing_16", tmp_path).path)
    with pytest.raises(ValueError, match=r"iod='source' cannot mirror .*use iod='sc'"):
        write_followups(rg, [rg.pixels], tmp_path / "out", description="effusion", iod="source")
    assert not (tmp_path / "out").exists()


def test_non_ascii_description_is_encoded(tmp_path):
    rg = read_radiograph(make_variant("cr_mono2_12", tmp_path).path)  # ISO_IR 100 (Latin-1)
    (path,) = write_followups(rg, [rg.pixels], tmp_path / "a", description="épanchement pleural")
    assert "épanchement" in pydicom.dcmread(path).StudyDescription
    with pytest.raises(ValueError, match="Specific Character Set"):
        write_followups(rg, [rg.pixels], tmp_path / "b", description="胸水")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"frames": [np.zeros((10, 10))]},
            ValueError,
            r"frames\[0\] has shape \(10, 10\), expected .*\(64, 48\)",
        ),
        ({"frames": []}, ValueError, "frames is empty"),
        ({"frames": [np.full((64, 48), np.nan)]}, ValueError, "NaN"),
        ({"frames": [np.full((64, 48), 1.5)]}, ValueError, r"values in \[1.5, 1.5\], expected \[0, 1\]"),
        ({"frames": "abc"}, TypeError, "frames must be a sequence"),
        ({"iod": "scc"}, ValueError, "did you mean 'sc'"),
        ({"iod": 3}, TypeError, "iod must be a str"),
        ({"interval_days": 0}, ValueError, "interval_days must be a finite number > 0, got 0"),
        ({"interval_days": "90"}, TypeError, "interval_days must be a number"),
        ({"description": ""}, ValueError, "description must not be empty"),
        ({"description": "a\\b"}, ValueError, "description must not contain backslashes"),
        ({"uid_root": "1.2.3"}, ValueError, "uid_root"),
        ({"series_number_start": 0}, ValueError, "series_number_start must be 1"),
        ({"patient": {"Age": "40"}}, ValueError, r"patient has keys \['Age'\]"),
        ({"name_prefix": "../x"}, ValueError, "name_prefix"),
        ({"origin": "20250101"}, TypeError, "origin must be a datetime"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, error, match, tmp_path):
    rg = read_radiograph(make_variant("cr_mono2_12", tmp_path).path)
    args = {"frames": [rg.pixels], "description": "effusion", **kwargs}
    frames = args.pop("frames")
    with pytest.raises(error, match=match):
        write_followups(rg, frames, tmp_path / "out", **args)
    assert not (tmp_path / "out").exists()


def test_source_must_be_a_radiograph(tmp_path):
    with pytest.raises(TypeError, match="source must be a Radiograph"):
        write_followups(np.zeros((4, 4)), [np.zeros((4, 4))], tmp_path, description="x")  # type: ignore[arg-type]


def test_dciodvfy_helper_reports_real_errors(tmp_path):
    """The validator must not pass everything: a follow-up without its Type 2 PatientID is an error."""
    rg = read_radiograph(make_variant("cr_mono2_12", tmp_path).path)
    (path,) = write_followups(rg, [rg.pixels], tmp_path / "out", description="effusion")
    ds = pydicom.dcmread(path)
    del ds.PatientID
    broken = tmp_path / "broken.dcm"
    ds.save_as(broken, enforce_file_format=True)
    errors = dciodvfy_errors(broken)
    assert any("PatientID" in e for e in errors) and any(e.startswith("[without 0008,001C]") for e in errors)
