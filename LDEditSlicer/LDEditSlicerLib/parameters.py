"""What the user chose in the module, checked and turned into an ``ldedit edit --json-progress`` argv.

Checking here, before a subprocess starts, lets the GUI show a mistake at once instead of after torch loads.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]
#: Device names ``ldedit edit --device`` understands: auto, cpu, cuda, cuda:N (and other torch backends).
DEVICE_NAME = re.compile(r"^[a-z]+(:\d+)?$")


def default_ldedit() -> list[str]:
    """``python -m ldedit_core.cli.main`` with this interpreter (``ldedit_core/cli/main.py`` runs as ``-m``).

    In Slicer pass PythonSlicer instead: Slicer's own executable is not a plain Python.
    """
    return [sys.executable, "-m", "ldedit_core.cli.main"]


@dataclass
class EditParameters:
    """One ``ldedit edit`` run. Paths may be ``str`` or ``Path``.

    Attributes:
        input_path: the radiograph (DICOM or NRRD, e.g. from :func:`write_volume_nrrd`).
        mask_path: the painted region (NRRD, .seg.nrrd, DICOM SEG, PNG); empty = ldedit's automatic ROI.
        segment: segment name or 0-based index inside a .seg.nrrd / DICOM SEG; None = the first.
        disease: e.g. ``"cardiomegaly"`` (the bundle lists what it knows).
        followups: number of synthetic follow-up studies (>= 1).
        interval_days: days between consecutive studies (> 0).
        target: disease probability of the last frame, strictly between 0 and 1.
        regress: the disease recedes instead (healing).
        device: ``"auto"``, ``"cpu"``, ``"cuda:0"``, ...
        bundle: bundle folder or name; empty = ldedit's shipped default.
        out_dir: output folder; must be new or empty (ldedit never touches a non-empty one).
    """

    input_path: PathLike
    mask_path: PathLike = ""
    segment: str | int | None = None
    disease: str = ""
    followups: int = 10
    interval_days: float = 90.0
    target: float = 0.9
    regress: bool = False
    device: str = "auto"
    bundle: PathLike = ""
    out_dir: PathLike = ""

    def validate(self) -> None:
        """Raise ValueError naming the first problem, in words a user can act on."""
        problems = _problems(self)
        if problems:
            raise ValueError(problems[0])


def build_edit_command(params: EditParameters, ldedit: str | Sequence[str] | None = None) -> list[str]:
    """The argv of ``ldedit edit ... --json-progress`` for ``params`` (validated first).

    Options are written ``--name=value`` so that a value starting with ``-`` (a path, a segment name) is
    never mistaken for an option by argparse.

    Args:
        params: what to run.
        ldedit: the command prefix: an executable (``"ldedit"``) or an argv prefix such as
            ``[PythonSlicer, "-m", "ldedit_core.cli.main"]``; default :func:`default_ldedit`.

    Raises:
        ValueError: a parameter a user must change (the message says which and how).
    """
    params.validate()
    if ldedit is None:
        prefix = default_ldedit()
    elif isinstance(ldedit, (str, os.PathLike)):
        prefix = [os.fspath(ldedit)]
    else:
        prefix = [os.fspath(part) for part in ldedit]
    if not prefix or not prefix[0]:
        raise ValueError("the ldedit command prefix is empty: give an executable or [python, '-m', ...]")
    argv = [*prefix, "edit", f"--input={os.fspath(params.input_path)}"]
    if _text(params.mask_path):
        argv.append(f"--mask={os.fspath(params.mask_path)}")
    if params.segment is not None and str(params.segment) != "":
        argv.append(f"--segment={params.segment}")
    argv += [
        f"--disease={params.disease.strip()}",
        f"--followups={int(params.followups)}",
        f"--out={os.fspath(params.out_dir)}",
        f"--interval-days={float(params.interval_days)!r}",
        f"--target={float(params.target)!r}",
    ]
    if params.regress:
        argv.append("--regress")
    argv.append(f"--device={params.device.strip()}")
    if _text(params.bundle):
        argv.append(f"--bundle={os.fspath(params.bundle)}")
    argv.append("--json-progress")
    return argv


def _text(value: object) -> str:
    return os.fspath(value) if isinstance(value, (str, os.PathLike)) else ""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _problems(p: EditParameters) -> list[str]:
    """Every problem with ``p``, most basic first (the GUI shows the first)."""
    out: list[str] = []
    source = _text(p.input_path)
    if not source:
        out.append("no radiograph: choose the input volume or file")
    elif not os.path.isfile(source):
        out.append(f"the radiograph file {source!r} does not exist")
    mask = _text(p.mask_path)
    if mask and not os.path.isfile(mask):
        out.append(f"the mask file {mask!r} does not exist; paint a segment or leave it empty for automatic")
    if p.segment is not None and (isinstance(p.segment, bool) or not isinstance(p.segment, (str, int))):
        out.append(f"segment must be a name, an index or None, got {p.segment!r}")
    if isinstance(p.segment, int) and not isinstance(p.segment, bool) and p.segment < 0:
        out.append(f"segment index must be >= 0 (segments are numbered from 0), got {p.segment}")
    if not isinstance(p.disease, str) or not p.disease.strip():
        out.append("no disease: choose one, e.g. cardiomegaly")
    if isinstance(p.followups, bool) or not isinstance(p.followups, int) or p.followups < 1:
        out.append(f"followups must be a whole number of at least 1, got {p.followups!r}")
    days = _number(p.interval_days)
    if days is None or days <= 0:
        out.append(f"interval_days must be a number of days greater than 0, got {p.interval_days!r}")
    target = _number(p.target)
    if target is None or not 0.0 < target < 1.0:
        out.append(f"target must be a probability strictly between 0 and 1 (e.g. 0.9), got {p.target!r}")
    if not isinstance(p.device, str) or not DEVICE_NAME.match(p.device.strip()):
        out.append(f"device must be auto, cpu or cuda:N, got {p.device!r}")
    bundle = _text(p.bundle)
    if bundle and (os.sep in bundle or (os.altsep and os.altsep in bundle)) and not os.path.isdir(bundle):
        out.append(f"the bundle folder {bundle!r} does not exist; leave it empty for the default bundle")
    out_dir = _text(p.out_dir)
    if not out_dir:
        out.append("no output folder: choose where the follow-ups go")
    elif os.path.exists(out_dir) and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        out.append(f"the output folder {out_dir!r} is not empty; choose a new or empty folder")
    return out
