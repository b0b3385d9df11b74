"""Build new CR / DX radiograph objects from an image: the phantoms' DICOM export and test inputs.

These mimic acquisitions (ORIGINAL\\PRIMARY) of a phantom, so they carry Synthetic Data = YES too: nothing
LDEdit writes can pass for a real patient's image. Follow-ups are written by :mod:`followups` instead.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from pydicom import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    ExplicitVRLittleEndian,
)

from ldedit_core import __version__
from ldedit_core.io.uids import DEFAULT_UID_ROOT, new_uid

SOP_CLASSES = {
    "CR": ComputedRadiographyImageStorage,
    "DX": DigitalXRayImageStorageForPresentation,
    "DX-PROCESSING": DigitalXRayImageStorageForProcessing,
}


def new_radiograph_dataset(
    stored: np.ndarray,
    *,
    modality: str = "CR",
    bits_stored: int = 12,
    photometric: str = "MONOCHROME2",
    patient_name: str = "PHANTOM^ANONYMOUS",
    patient_id: str = "PHANTOM0001",
    patient_birth_date: str = "19600101",
    patient_sex: str = "O",
    study_date: str = "20260101",
    study_time: str = "090000",
    pixel_spacing_mm: float | None = 0.143,
    description: str = "LDEdit phantom chest PA",
    uid_root: str = DEFAULT_UID_ROOT,
) -> Dataset:
    """A complete, IOD-valid CR or DX single-frame dataset holding ``stored`` as its pixel data.

    Args:
        stored: 2-D integer array of stored values (unsigned for ``DX``, signed allowed for ``CR``).
        modality: ``"CR"``, ``"DX"`` (For Presentation) or ``"DX-PROCESSING"``.
        bits_stored: 8 to 16; 8 is held in 8-bit words, the rest in 16-bit words.
        photometric: ``"MONOCHROME2"`` or ``"MONOCHROME1"``.
        pixel_spacing_mm: detector pixel size; written as ImagerPixelSpacing (and PixelSpacing for CR).

    Returns:
        A dataset with file meta, ready for ``save_as(path, enforce_file_format=True)``.
    """
    if modality not in SOP_CLASSES:
        raise ValueError(f"modality must be one of {sorted(SOP_CLASSES)}, got {modality!r}")
    if not 8 <= bits_stored <= 16:
        raise ValueError(f"bits_stored must be 8..16, got {bits_stored}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"photometric must be MONOCHROME1 or MONOCHROME2, got {photometric!r}")
    stored = np.asarray(stored)
    if stored.ndim != 2 or stored.dtype.kind not in "iu":
        raise ValueError(f"stored must be a 2-D integer array, got {stored.dtype} {stored.shape}")
    signed = stored.dtype.kind == "i"
    if signed and modality != "CR":
        raise ValueError("signed pixel data is only allowed for CR (DX requires PixelRepresentation 0)")
    bits_allocated = 8 if bits_stored == 8 else 16
    sop_class = SOP_CLASSES[modality]
    now = dt.datetime.now()

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = new_uid(uid_root)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    # Patient / study / series
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = patient_birth_date
    ds.PatientSex = patient_sex
    ds.StudyInstanceUID = new_uid(uid_root)
    ds.SeriesInstanceUID = new_uid(uid_root)
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = study_time
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = description
    ds.SeriesDescription = description
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Modality = "CR" if modality == "CR" else "DX"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]
    ds.ImageLaterality = "U"
    ds.Manufacturer = "LDEdit phantom"
    ds.SoftwareVersions = __version__
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SyntheticData = "YES"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    # Image pixel
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = (int(n) for n in stored.shape)
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    word = {(8, False): np.uint8, (16, False): np.uint16, (16, True): np.int16}[(bits_allocated, signed)]
    ds.PixelData = np.ascontiguousarray(stored.astype(word)).tobytes()
    if pixel_spacing_mm is not None:
        ds.ImagerPixelSpacing = [pixel_spacing_mm, pixel_spacing_mm]
    lo, hi = int(stored.min()), int(stored.max())
    if modality == "CR":
        if pixel_spacing_mm is not None:
            ds.PixelSpacing = [pixel_spacing_mm, pixel_spacing_mm]
        ds.WindowCenter = (lo + hi) / 2
        ds.WindowWidth = max(hi - lo, 1)
    else:
        _add_dx_modules(ds, modality, lo, hi)
    return ds


def _add_dx_modules(ds: Dataset, modality: str, lo: int, hi: int) -> None:
    """The type 1/2 elements of the DX Series, Anatomy Imaged, Image and Detector modules."""
    processing = modality == "DX-PROCESSING"
    ds.PresentationIntentType = "FOR PROCESSING" if processing else "FOR PRESENTATION"
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.PresentationLUTShape = "INVERSE" if ds.PhotometricInterpretation == "MONOCHROME1" else "IDENTITY"
    if not processing:
        ds.WindowCenter = (lo + hi) / 2
        ds.WindowWidth = max(hi - lo, 1)
    ds.DetectorType = "SCINTILLATOR"
    ds.PositionerType = "NONE"
    ds.AcquisitionDeviceProcessingDescription = "phantom"
    anatomy = Dataset()
    anatomy.CodeValue = "51185008"
    anatomy.CodingSchemeDesignator = "SCT"
    anatomy.CodeMeaning = "Thorax"
    ds.AnatomicRegionSequence = [anatomy]
    view = Dataset()
    view.CodeValue = "399348003"
    view.CodingSchemeDesignator = "SCT"
    view.CodeMeaning = "postero-anterior"
    view.ViewModifierCodeSequence = []
    ds.ViewCodeSequence = [view]
    ds.AcquisitionContextSequence = []
    ds.PatientOrientation = ["L", "F"]


def write_radiograph_dicom(
    image: np.ndarray,
    path: str | Path,
    *,
    bits_stored: int = 12,
    modality: str = "CR",
    **kwargs: object,
) -> Path:
    """Write a [0, 1] image (brighter = more attenuation) as a new MONOCHROME2 CR/DX study.

    Args:
        image: 2-D float array in [0, 1].
        path: output file; its folder is created. An existing file is never overwritten.
        bits_stored: 8..16; the image is quantised to ``2**bits_stored - 1`` levels.
        modality: see :func:`new_radiograph_dataset`.
        **kwargs: patient and study fields of :func:`new_radiograph_dataset`.

    Returns:
        The written path.

    Example:
        >>> write_radiograph_dicom(phantom.image, "out/p1.dcm", patient_id="P1", study_date="20260101")
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or not np.isfinite(img).all():
        raise ValueError(f"image must be a finite 2-D array, got shape {img.shape}")
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path}: refusing to overwrite an existing file")
    levels = (1 << bits_stored) - 1
    stored = np.rint(np.clip(img, 0.0, 1.0) * levels).astype(np.uint16 if bits_stored > 8 else np.uint8)
    ds = new_radiograph_dataset(stored, modality=modality, bits_stored=bits_stored, **kwargs)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
