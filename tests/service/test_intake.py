"""``ldedit_core.service.intake``: the checks and the durable spooling behind each C-STORE status."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from ldedit_core.io import read_radiograph, write_roi_seg
from ldedit_core.service import intake
from ldedit_core.service.intake import (
    CANNOT_UNDERSTAND,
    CR,
    DOES_NOT_MATCH,
    OUT_OF_RESOURCES,
    SECONDARY_CAPTURE,
    SEGMENTATION,
    SUCCESS,
    Checked,
    Refused,
    check_instance,
    check_room,
    spool_instance,
)
from tests.service.conftest import study


@pytest.fixture(scope="module")
def phantom(tmp_path_factory) -> Path:
    """One CR phantom study, written once; tests that change it work on a copy."""
    return study(tmp_path_factory.mktemp("phantom"), seed=3)


def variant(phantom: Path, folder: Path, name: str, change) -> tuple[Path, pydicom.Dataset]:
    """A copy of the phantom with ``change(ds)`` applied, saved as ``folder/name``."""
    ds = pydicom.dcmread(phantom)
    change(ds)
    path = folder / name
    ds.save_as(path)
    return path, ds


def make_colour(ds: pydicom.Dataset) -> None:
    """A well-formed 8-bit RGB image of the same size (interleaved samples, the right PixelData length)."""
    rgb = np.random.default_rng(0).integers(0, 256, (ds.Rows, ds.Columns, 3), dtype=np.uint8)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    for keyword in ("WindowCenter", "WindowWidth"):
        delattr(ds, keyword)
    ds.PixelData = rgb.tobytes()
    assert len(ds.PixelData) == ds.Rows * ds.Columns * 3
    np.testing.assert_array_equal(ds.pixel_array, rgb)  # pydicom itself decodes it: the data set is valid


def refused(path: Path, sop_class: str, sop_uid: str) -> Refused:
    with pytest.raises(Refused) as info:
        check_instance(path, sop_class, sop_uid)
    assert str(info.value) == info.value.reason and info.value.reason
    return info.value


def test_status_constants_are_the_storage_service_ones():
    # PS3.4 B.2.3: what a sending PACS reads from the C-STORE response
    assert (SUCCESS, OUT_OF_RESOURCES, DOES_NOT_MATCH, CANNOT_UNDERSTAND) == (0x0000, 0xA700, 0xA900, 0xC000)


def test_refused_carries_status_and_reason():
    exc = Refused(OUT_OF_RESOURCES, "disk full")
    assert (exc.status, exc.reason, str(exc)) == (0xA700, "disk full", "disk full")
    assert isinstance(exc, Exception)


# --- check_instance -------------------------------------------------------------------------------


def test_valid_cr_is_checked_with_its_uids(phantom):
    ds = pydicom.dcmread(phantom)
    checked = check_instance(phantom, CR, ds.SOPInstanceUID)
    assert checked == Checked(CR, ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID)
    assert checked.study_uid != checked.series_uid != checked.sop_uid


def test_check_only_reads_the_file(phantom):
    before = phantom.read_bytes()
    check_instance(phantom, CR, pydicom.dcmread(phantom).SOPInstanceUID)
    assert phantom.read_bytes() == before


def test_random_bytes_cannot_be_understood(tmp_path):
    path = tmp_path / "noise.dcm"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    assert refused(path, CR, "1.2.3.4").status == CANNOT_UNDERSTAND


def test_empty_file_cannot_be_understood(tmp_path):
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    assert refused(path, CR, "1.2.3.4").status == CANNOT_UNDERSTAND


def test_sop_instance_uid_other_than_the_commands_does_not_match(phantom):
    ds = pydicom.dcmread(phantom)
    exc = refused(phantom, CR, ds.SOPInstanceUID + ".1")
    assert exc.status == DOES_NOT_MATCH and "C-STORE request" in exc.reason


def test_sop_class_other_than_the_commands_does_not_match(phantom):
    exc = refused(phantom, SECONDARY_CAPTURE, pydicom.dcmread(phantom).SOPInstanceUID)
    assert exc.status == DOES_NOT_MATCH


def test_colour_cr_does_not_match(phantom, tmp_path):
    path, ds = variant(phantom, tmp_path, "rgb_cr.dcm", make_colour)
    exc = refused(path, CR, ds.SOPInstanceUID)
    assert exc.status == DOES_NOT_MATCH and "MONOCHROME" in exc.reason


def test_monochrome_cr_with_three_samples_does_not_match(phantom, tmp_path):
    def three_samples(ds):
        make_colour(ds)
        ds.PhotometricInterpretation = "MONOCHROME2"  # the samples give it away

    path, ds = variant(phantom, tmp_path, "mono3.dcm", three_samples)
    assert refused(path, CR, ds.SOPInstanceUID).status == DOES_NOT_MATCH


def test_colour_secondary_capture_cannot_be_understood(phantom, tmp_path):
    def colour_sc(ds):
        make_colour(ds)
        ds.SOPClassUID = SECONDARY_CAPTURE
        ds.file_meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE

    path, ds = variant(phantom, tmp_path, "rgb_sc.dcm", colour_sc)
    exc = refused(path, SECONDARY_CAPTURE, ds.SOPInstanceUID)
    assert exc.status == CANNOT_UNDERSTAND  # a valid SC, but not a radiograph LDEdit can edit
    assert "colour" in exc.reason


def test_greyscale_secondary_capture_is_checked(phantom, tmp_path):
    def greyscale_sc(ds):
        ds.SOPClassUID = SECONDARY_CAPTURE
        ds.file_meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE

    path, ds = variant(phantom, tmp_path, "sc.dcm", greyscale_sc)
    assert check_instance(path, SECONDARY_CAPTURE, ds.SOPInstanceUID).sop_class == SECONDARY_CAPTURE


def test_truncated_pixel_data_cannot_be_understood(phantom, tmp_path):
    def truncate(ds):
        ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]

    path, ds = variant(phantom, tmp_path, "half.dcm", truncate)
    exc = refused(path, CR, ds.SOPInstanceUID)
    assert exc.status == CANNOT_UNDERSTAND and "truncated" in exc.reason


def test_file_cut_short_cannot_be_understood(phantom, tmp_path):
    data = phantom.read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: len(data) - 1000])  # an association dropped mid-transfer
    assert refused(path, CR, pydicom.dcmread(phantom).SOPInstanceUID).status == CANNOT_UNDERSTAND


@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID"])
def test_missing_study_or_series_uid_does_not_match(phantom, tmp_path, keyword):
    path, ds = variant(phantom, tmp_path, "no_uid.dcm", lambda ds: delattr(ds, keyword))
    exc = refused(path, CR, ds.SOPInstanceUID)
    assert exc.status == DOES_NOT_MATCH and keyword in exc.reason


@pytest.mark.filterwarnings("ignore:.*VR UI:UserWarning")  # pydicom warns as it writes the bad UID
@pytest.mark.parametrize(
    "bad", ["1.2.abc", "1..2", "1." + "2" * 70, ""], ids=["letters", "empty part", "over 64", "empty"]
)
def test_malformed_study_uid_does_not_match(phantom, tmp_path, bad):
    def change(ds):
        ds.StudyInstanceUID = bad

    path, ds = variant(phantom, tmp_path, "bad_uid.dcm", change)
    exc = refused(path, CR, ds.SOPInstanceUID)
    assert exc.status == DOES_NOT_MATCH and "StudyInstanceUID" in exc.reason


def test_image_without_rows_does_not_match(phantom, tmp_path):
    path, ds = variant(phantom, tmp_path, "no_rows.dcm", lambda ds: delattr(ds, "Rows"))
    assert refused(path, CR, ds.SOPInstanceUID).status == DOES_NOT_MATCH


def test_image_without_pixel_data_does_not_match(phantom, tmp_path):
    path, ds = variant(phantom, tmp_path, "no_pixels.dcm", lambda ds: delattr(ds, "PixelData"))
    assert refused(path, CR, ds.SOPInstanceUID).status == DOES_NOT_MATCH


def test_valid_dicom_seg_is_checked(phantom, tmp_path):
    radiograph = read_radiograph(phantom)
    mask = np.zeros(radiograph.pixels.shape, dtype=bool)
    mask[40:80, 30:90] = True
    seg_path = write_roi_seg(mask, radiograph, tmp_path / "roi.dcm", label="Pleural effusion")
    seg = pydicom.dcmread(seg_path)
    checked = check_instance(seg_path, SEGMENTATION, seg.SOPInstanceUID)
    assert checked == Checked(SEGMENTATION, seg.SOPInstanceUID, seg.StudyInstanceUID, seg.SeriesInstanceUID)
    assert checked.study_uid == pydicom.dcmread(phantom).StudyInstanceUID  # the SEG joins the image's study


def test_image_sent_as_a_seg_does_not_match(phantom):
    assert refused(phantom, SEGMENTATION, pydicom.dcmread(phantom).SOPInstanceUID).status == DOES_NOT_MATCH


# --- check_room -----------------------------------------------------------------------------------


def test_check_room_refuses_an_instance_over_max_instance_mb(tmp_path):
    with pytest.raises(Refused) as info:
        check_room(tmp_path, 3_000_000, min_free_mb=0, max_instance_mb=2)
    assert info.value.status == OUT_OF_RESOURCES and "max_instance_mb" in info.value.reason


def test_check_room_refuses_when_the_disk_has_less_than_min_free_mb(tmp_path):
    free_mb = shutil.disk_usage(tmp_path).free / 1e6
    with pytest.raises(Refused) as info:
        check_room(tmp_path, 1000, min_free_mb=free_mb + 1e6, max_instance_mb=1024)
    assert info.value.status == OUT_OF_RESOURCES and "free" in info.value.reason


def test_check_room_passes_otherwise(tmp_path):
    assert check_room(tmp_path, 1000, min_free_mb=0, max_instance_mb=1024) is None
    assert check_room(tmp_path, 2_000_000, min_free_mb=0, max_instance_mb=2) is None  # exactly the limit


def test_check_room_counts_the_instance_against_the_free_space(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)._replace(free=600_000_000)
    monkeypatch.setattr(intake.shutil, "disk_usage", lambda path: usage)
    check_room(tmp_path, 50_000_000, min_free_mb=500, max_instance_mb=1024)  # 550 MB left: fine
    with pytest.raises(Refused) as info:
        check_room(tmp_path, 150_000_000, min_free_mb=500, max_instance_mb=1024)  # 450 MB left: too little
    assert info.value.status == OUT_OF_RESOURCES


# --- spool_instance -------------------------------------------------------------------------------


@pytest.fixture
def received(phantom, tmp_path) -> tuple[Path, Checked]:
    """The phantom as the SCP leaves a received file (in its own temporary folder), and its check."""
    (tmp_path / "incoming").mkdir()
    path = tmp_path / "incoming" / "pynetdicom-tmp"
    shutil.copyfile(phantom, path)
    return path, check_instance(path, CR, pydicom.dcmread(path).SOPInstanceUID)


def test_spool_puts_the_file_under_its_study_and_sop_uid(received, tmp_path, phantom):
    path, checked = received
    spool = tmp_path / "spool"
    original = phantom.read_bytes()
    final = spool_instance(path, checked, spool)
    assert final == spool / checked.study_uid / f"{checked.sop_uid}.dcm"
    assert final.read_bytes() == original
    assert path.read_bytes() == original  # the received file is never changed (it may be a hard link)
    assert list((spool / ".incoming").iterdir()) == []  # no temporary left
    assert sorted(p.name for p in spool.iterdir()) == [".incoming", checked.study_uid]
    assert check_instance(final, CR, checked.sop_uid) == checked


def test_spool_works_without_hard_links(received, tmp_path, monkeypatch):
    path, checked = received

    def no_link(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")  # the received file on another file system

    monkeypatch.setattr(intake.os, "link", no_link)
    final = spool_instance(path, checked, tmp_path / "spool")
    assert final.read_bytes() == path.read_bytes()
    assert not final.samefile(path)  # a copy
    assert list((tmp_path / "spool" / ".incoming").iterdir()) == []


def test_second_spool_of_the_same_instance_replaces_the_first(received, tmp_path, phantom):
    path, checked = received
    spool = tmp_path / "spool"
    spool_instance(path, checked, spool)
    again = tmp_path / "incoming" / "second"
    ds = pydicom.dcmread(phantom)  # a fresh received file for the same instance
    ds.InstanceNumber = 2  # the resent copy differs: the spool must hold the latest
    ds.save_as(again)
    final = spool_instance(again, checked, spool)
    assert list(final.parent.iterdir()) == [final]
    assert final.read_bytes() == again.read_bytes()
    assert pydicom.dcmread(final).InstanceNumber == 2
    assert path.read_bytes() == phantom.read_bytes()  # the first received file is untouched
    assert list((spool / ".incoming").iterdir()) == []


def test_full_disk_is_out_of_resources_and_leaves_no_part_file(received, tmp_path, monkeypatch):
    path, checked = received
    spool = tmp_path / "spool"
    original = path.read_bytes()

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(intake.os, "replace", full)
    with pytest.raises(Refused) as info:
        spool_instance(path, checked, spool)
    assert info.value.status == OUT_OF_RESOURCES
    assert list((spool / ".incoming").iterdir()) == []
    assert list(spool.rglob("*.part")) == [] and list(spool.rglob("*.dcm")) == []
    assert path.read_bytes() == original


def test_quota_exceeded_is_out_of_resources_too(received, tmp_path, monkeypatch):
    path, checked = received

    def quota(src, dst):
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    monkeypatch.setattr(intake.os, "link", quota)
    monkeypatch.setattr(intake.shutil, "copyfile", quota)
    with pytest.raises(Refused) as info:
        spool_instance(path, checked, tmp_path / "spool")
    assert info.value.status == OUT_OF_RESOURCES
    assert list((tmp_path / "spool" / ".incoming").iterdir()) == []


def test_other_os_errors_propagate_and_leave_no_part_file(received, tmp_path, monkeypatch, phantom):
    path, checked = received

    def denied(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(intake.os, "replace", denied)
    with pytest.raises(PermissionError):
        spool_instance(path, checked, tmp_path / "spool")
    assert list((tmp_path / "spool" / ".incoming").iterdir()) == []
    assert path.read_bytes() == phantom.read_bytes()
