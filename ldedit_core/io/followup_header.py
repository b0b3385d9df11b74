"""Who and when of a synthetic follow-up: the source's Patient module and the shifted study dates."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from collections.abc import Mapping

import numpy as np
from pydicom import Dataset
from pydicom.datadict import keyword_dict
from pydicom.valuerep import DA, DT, TM

from ldedit_core.io.radiograph import Radiograph

#: Attributes of the Patient module (PS3.3 C.7.1.1) that a follow-up copies from its source.
_PATIENT_MODULE = (
    "PatientName", "PatientID", "IssuerOfPatientID", "IssuerOfPatientIDQualifiersSequence",
    "TypeOfPatientID", "PatientBirthDate", "PatientBirthTime", "PatientBirthDateInAlternativeCalendar",
    "PatientDeathDateInAlternativeCalendar", "PatientAlternativeCalendar", "PatientSex",
    "ReferencedPatientPhotoSequence", "QualityControlSubject", "ReferencedPatientSequence",
    "OtherPatientIDsSequence", "OtherPatientNames", "EthnicGroup", "EthnicGroupCodeSequence",
    "PatientComments", "PatientSpeciesDescription", "PatientSpeciesCodeSequence",
    "PatientBreedDescription", "PatientBreedCodeSequence", "BreedRegistrationSequence",
    "StrainDescription", "StrainNomenclature", "StrainCodeSequence", "StrainAdditionalInformation",
    "StrainStockSequence", "GeneticModificationsSequence", "ResponsiblePerson", "ResponsiblePersonRole",
    "ResponsibleOrganization", "PatientIdentityRemoved", "DeidentificationMethod",
    "DeidentificationMethodCodeSequence", "SourcePatientGroupIdentificationSequence",
    "GroupOfPatientsIdentificationSequence",
)  # fmt: skip
PATIENT_KEYWORDS = tuple(kw for kw in _PATIENT_MODULE if kw in keyword_dict)
#: The anonymous patient of a follow-up made from a non-DICOM image.
SYNTHETIC_PATIENT_NAME = "LDEDIT^SYNTHETIC"
SYNTHETIC_PATIENT_COMMENT = (
    "Synthetic patient: the source image was not DICOM, so LDEdit made up this patient. "
    "The Patient ID is derived from a hash of the source pixels."
)
#: (date, time) attribute pairs moved forward with the study; DT attributes moved alone.
DATE_TIME_PAIRS = (
    ("StudyDate", "StudyTime"),
    ("SeriesDate", "SeriesTime"),
    ("AcquisitionDate", "AcquisitionTime"),
    ("ContentDate", "ContentTime"),
)
DATETIME_KEYWORDS = ("AcquisitionDateTime",)


def synthetic_patient_id(pixels: np.ndarray) -> str:
    """``LDEDIT-`` + 16 hex digits of the SHA-256 of the pixels: the same for all follow-ups of an image."""
    arr = np.ascontiguousarray(pixels, dtype=np.float32)
    digest = hashlib.sha256(repr(arr.shape).encode() + arr.tobytes()).hexdigest()
    return f"LDEDIT-{digest[:16]}"


def patient_module(source: Radiograph, override: Mapping[str, object] | None) -> Dataset:
    """The Patient-module attributes of the follow-ups.

    Args:
        source: the source; its header's Patient module is copied, or for a non-DICOM source an anonymous
            synthetic patient is made (PatientName ``LDEDIT^SYNTHETIC``, PatientID from the pixels' hash).
        override: Patient-module keywords and values that replace the above, e.g. ``{"PatientID": "X1"}``.

    Raises:
        TypeError: ``override`` is not a mapping.
        ValueError: ``override`` names an attribute that is not in the Patient module.
    """
    out = Dataset()
    if source.dataset is not None:
        for keyword in PATIENT_KEYWORDS:
            if keyword in source.dataset:
                out[keyword] = copy.deepcopy(source.dataset[keyword])
    else:
        out.PatientName = SYNTHETIC_PATIENT_NAME
        out.PatientID = synthetic_patient_id(source.pixels)
        out.PatientBirthDate = ""
        out.PatientSex = ""
        out.PatientComments = SYNTHETIC_PATIENT_COMMENT
    if override is not None:
        if not isinstance(override, Mapping):
            raise TypeError(
                f"patient must be a dict of Patient-module keywords, got {type(override).__name__}"
            )
        unknown = sorted(k for k in override if k not in PATIENT_KEYWORDS)
        if unknown:
            raise ValueError(
                f"patient has keys {unknown} that are not Patient-module attributes; "
                f"use DICOM keywords such as PatientName, PatientID, PatientBirthDate, PatientSex"
            )
        for keyword, value in override.items():
            setattr(out, keyword, value)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
        if keyword not in out:
            setattr(out, keyword, "")  # type 2 in every IOD written here
    return out


def study_datetime(source: Dataset | None) -> dt.datetime | None:
    """The source's StudyDate + StudyTime (midnight when there is no time), or None without a date."""
    if source is None:
        return None
    return _combine(source.get("StudyDate"), source.get("StudyTime"), "StudyDate")


def shifted_dates(source: Dataset | None, origin: dt.datetime, offset: dt.timedelta) -> Dataset:
    """Study, Series, Acquisition and Content date/time (and AcquisitionDateTime) of one follow-up.

    Each attribute the source has is moved by ``(origin - source study time) + offset``, so the intervals
    within the source study are kept; Study, Series and Content date/time the source lacks are set to
    ``origin + offset``.

    Args:
        source: the source header, or None.
        origin: the time the follow-up timeline counts from (the source study time by default).
        offset: how long after the origin this follow-up is.
    """
    source_study = study_datetime(source)
    shift = offset + (origin - source_study if source_study is not None else dt.timedelta(0))
    out = Dataset()
    for date_kw, time_kw in DATE_TIME_PAIRS:
        when = _combine(source.get(date_kw), source.get(time_kw), date_kw) if source is not None else None
        if when is not None:
            new = when + shift
        elif date_kw != "AcquisitionDate":
            new = origin + offset
        else:
            continue
        setattr(out, date_kw, new.strftime("%Y%m%d"))
        setattr(out, time_kw, _format_time(new))
    for keyword in DATETIME_KEYWORDS:
        value = source.get(keyword) if source is not None else None
        if value:
            try:
                when = DT(value)
            except ValueError as exc:
                raise ValueError(f"the source's {keyword} {value!r} is not a valid DICOM date-time") from exc
            new = when + shift
            text = new.strftime("%Y%m%d") + _format_time(new)
            if new.tzinfo is not None:
                text += new.strftime("%z")
            setattr(out, keyword, text)
    return out


def _combine(date: object, time: object, what: str) -> dt.datetime | None:
    if not date:
        return None
    try:
        day = DA(date)
        clock = TM(time) if time else dt.time(0, 0)
    except ValueError as exc:
        raise ValueError(f"the source's {what} {date!r} / time {time!r} is not a valid DICOM date") from exc
    return dt.datetime.combine(day, dt.time(clock.hour, clock.minute, clock.second, clock.microsecond))


def _format_time(when: dt.datetime) -> str:
    return when.strftime("%H%M%S.%f") if when.microsecond else when.strftime("%H%M%S")
