"""Test helper: validate a DICOM file against its IOD with dicom3tools' ``dciodvfy``.

Debian bookworm's dicom3tools (2022-06) predates Synthetic Data (0008,001C) and reports it as
``Error - Attribute with an even group number is not a recognized standard attribute - (0x0008,0x001c)``.
:func:`dciodvfy_errors` therefore checks every file twice: as written, allowing exactly that one error line,
and as a copy without (0008,001C), which must have no error line at all. Everything else dciodvfy calls an
error is returned.

Without ``dciodvfy`` the calling test is skipped locally, and fails when the environment variable ``CI`` is
``"true"``, so that CI can never pass by silently skipping the validation.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pydicom

from tests.tools import require_tool

#: The one error line the 2022 dicom3tools emit for Synthetic Data (0008,001C), whitespace-normalised.
KNOWN_SYNTHETIC_DATA_ERROR = (
    "Error - Attribute with an even group number is not a recognized standard attribute - (0x0008,0x001c) ?"
)
SYNTHETIC_DATA_TAG = 0x0008001C


def dciodvfy_path() -> str:
    """The ``dciodvfy`` executable; fails under ``CI=true`` and skips otherwise when it is missing."""
    return require_tool("dciodvfy", "dicom3tools")


def raw_error_lines(path: str | Path) -> list[str]:
    """Every line of ``dciodvfy``'s report on ``path`` that is an error, whitespace-normalised."""
    result = subprocess.run(
        [dciodvfy_path(), str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
        check=False,
    )
    lines = (result.stdout + "\n" + result.stderr).splitlines()
    errors = [" ".join(line.split()) for line in lines if line.startswith("Error") or " - Error - " in line]
    if result.returncode not in (0, 1) and not errors:
        errors.append(f"dciodvfy exited with status {result.returncode}: {result.stderr.strip()[:500]}")
    return errors


def dciodvfy_errors(path: str | Path) -> list[str]:
    """Error lines dciodvfy reports for ``path``, after the Synthetic Data double check.

    Args:
        path: a DICOM Part 10 file.

    Returns:
        An empty list when the file is valid: as written it has no error other than the known Synthetic
        Data one, and without (0008,001C) it has none at all. Otherwise the offending lines, those of the
        copy prefixed with ``"[without 0008,001C] "``.
    """
    path = Path(path)
    errors = [line for line in raw_error_lines(path) if line != KNOWN_SYNTHETIC_DATA_ERROR]
    ds = pydicom.dcmread(path)
    if SYNTHETIC_DATA_TAG in ds:
        del ds[SYNTHETIC_DATA_TAG]
    with tempfile.TemporaryDirectory(prefix="dciodvfy-") as tmp:
        copy = Path(tmp) / "without-synthetic-data.dcm"
        ds.save_as(copy, enforce_file_format=True)
        errors += [f"[without 0008,001C] {line}" for line in raw_error_lines(copy)]
    return errors
