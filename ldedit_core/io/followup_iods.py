"""Build one synthetic follow-up dataset: a Secondary Capture, or a copy of the source's CR / DX header."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
from dataclasses import dataclass

import numpy as np
from highdicom import ContributingEquipment
from highdicom.sc import SCImage
from pydicom import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
)

from ldedit_core import __version__
from ldedit_core.io.followup_pixels import PixelLayout, display_attributes, spacing_attributes
from ldedit_core.io.radiograph import Radiograph
from ldedit_core.io.synthetic_marking import MANUFACTURER, FollowupStep, mark_synthetic

#: SOP classes a follow-up can mirror with ``iod="source"``.
MIRRORABLE = {
    ComputedRadiographyImageStorage: "CR",
    DigitalXRayImageStorageForPresentation: "DX For Presentation",
}
IMPLEMENTATION_VERSION = f"LDEDIT_{__version__}"[:16]
#: Header elements of the source that a mirrored follow-up must not carry over.
DROPPED_FROM_SOURCE = (
    # they describe the source's real order, procedure step, neighbours and radiation event
    "AccessionNumber", "StudyID", "RequestAttributesSequence", "ReferencedPerformedProcedureStepSequence",
    "PerformedProcedureStepID", "ReferencedImageSequence", "ReferencedStudySequence", "IrradiationEventUID",
    "AcquisitionUID", "ReferencedInstanceSequence",
    # values that no longer hold for the edited pixels, or signatures that would no longer verify
    "SmallestImagePixelValue", "LargestImagePixelValue", "LargestPixelValueInSeries",
    "SmallestPixelValueInSeries", "DigitalSignaturesSequence", "MACParametersSequence",
    "EncryptedAttributesSequence", "ExtendedOffsetTable", "ExtendedOffsetTableLengths",
    "DataSetTrailingPadding", "InstanceCreatorUID", "PixelDataProviderURL",
)  # fmt: skip


#: General Study / Series / Image attributes a Secondary Capture follow-up copies from a DICOM source.
SC_COPIED = (
    "SpecificCharacterSet", "ReferringPhysicianName", "BodyPartExamined", "Laterality", "ImageLaterality",
)  # fmt: skip


@dataclass(frozen=True)
class FollowupIds:
    """UIDs and numbers of one follow-up."""

    study_uid: str
    series_uid: str
    sop_uid: str
    series_number: int


def build_sc(
    source: Radiograph,
    words: np.ndarray,
    layout: PixelLayout,
    ids: FollowupIds,
    step: FollowupStep,
    patient: Dataset,
    dates: Dataset,
) -> Dataset:
    """A Secondary Capture Image (Conversion Type SYN) built with highdicom's :class:`SCImage`.

    Its ContributingEquipmentSequence lists the source's acquisition equipment (when known), highdicom
    (which adds itself) and LDEdit as Modifying Equipment.

    highdicom only accepts unsigned data with BitsStored = BitsAllocated, so the source's layout, Modality
    and VOI LUTs are set after construction; the SC IOD allows all of them.
    """
    src = source.dataset
    equipment: list[ContributingEquipment] = []
    if src is not None:
        # a source that names no manufacturer has no acquisition equipment to record
        with contextlib.suppress(AttributeError, TypeError, ValueError, KeyError):
            equipment.append(ContributingEquipment.for_image_acquisition(src))
    unsigned = words.view(np.uint8 if layout.bits_allocated == 8 else np.uint16)
    ds = SCImage(
        pixel_array=unsigned,
        photometric_interpretation=layout.photometric,
        bits_allocated=layout.bits_allocated,
        coordinate_system="PATIENT",
        study_instance_uid=ids.study_uid,
        series_instance_uid=ids.series_uid,
        series_number=ids.series_number,
        sop_instance_uid=ids.sop_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        patient_orientation=("L", "F"),  # placeholder, replaced below by the source's (or left empty)
        transfer_syntax_uid=ExplicitVRLittleEndian,
        contributing_equipment=equipment,
        software_versions=__version__,
    )
    ds.ConversionType = "SYN"
    ds.SecondaryCaptureDeviceManufacturer = MANUFACTURER
    ds.SecondaryCaptureDeviceSoftwareVersions = __version__
    has_orientation = src is not None and "PatientOrientation" in src
    ds.PatientOrientation = copy.deepcopy(src.PatientOrientation) if has_orientation else ""
    ds.BitsStored = layout.bits_stored
    ds.HighBit = layout.bits_stored - 1
    ds.PixelRepresentation = int(layout.signed)
    ds.PixelData = words.tobytes()
    if src is not None:
        for keyword in SC_COPIED:
            if keyword in src:
                ds[keyword] = copy.deepcopy(src[keyword])
    if "Laterality" not in ds and "ImageLaterality" not in ds:
        ds.Laterality = ""  # type 2C: unknown (a non-DICOM source says nothing about it)
    ds.AccessionNumber = ""
    ds.update(patient)
    ds.update(dates)
    ds.update(display_attributes(source, layout, rescale_type=True))
    ds.update(spacing_attributes(source))
    mark_synthetic(ds, step, src, ["DERIVED", "SECONDARY"])
    return ds


def build_mirror(
    source: Radiograph,
    words: np.ndarray,
    layout: PixelLayout,
    ids: FollowupIds,
    step: FollowupStep,
    patient: Dataset,
    dates: Dataset,
) -> Dataset:
    """A copy of the source's CR or DX For Presentation header with new identity, dates and marking."""
    src = source.dataset
    if src is None:  # checked by the caller; kept so a direct call cannot write a header-less file
        raise ValueError("build_mirror needs a DICOM source (source.dataset is None)")
    ds = copy.deepcopy(src)
    for keyword in DROPPED_FROM_SOURCE:
        if keyword in ds:
            delattr(ds, keyword)
    for tag in [elem.tag for elem in ds if elem.tag.group == 0x7FE0]:
        del ds[tag]
    ds.AccessionNumber = ""
    ds.StudyInstanceUID = ids.study_uid
    ds.SeriesInstanceUID = ids.series_uid
    ds.SOPInstanceUID = ids.sop_uid
    ds.SeriesNumber = ids.series_number
    ds.InstanceNumber = 1
    now = step.created
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    ds.update(patient)
    ds.update(dates)
    ds.update(display_attributes(source, layout, rescale_type=False))
    ds.PixelData = words.tobytes()
    ds["PixelData"].VR = "OB" if layout.bits_allocated == 8 else "OW"
    old_type = [str(v) for v in ds.get("ImageType", [])]
    mark_synthetic(ds, step, src, ["DERIVED", "SECONDARY", *old_type[2:]])
    ds.file_meta = _file_meta(ds)
    return ds


def _file_meta(ds: Dataset) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    return meta


def contribution_time() -> dt.datetime:
    """Now, local time, to the second: the ContributionDateTime and InstanceCreation date/time."""
    return dt.datetime.now().replace(microsecond=0)
