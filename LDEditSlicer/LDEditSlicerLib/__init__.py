"""LDEditSlicerLib: everything the LDEdit Slicer module does that needs no MRML, tested with pytest.

Build the ``ldedit edit --json-progress`` command (:mod:`.parameters`), run and cancel it in a subprocess
(:mod:`.runner`), hand volumes over as NRRD (:mod:`.geometry`), read the outputs back (:mod:`.results`) and
describe the torch devices (:mod:`.devices`). Importing it needs only the standard library and numpy, so
Slicer can load the module before ldedit_core, torch or pynrrd are installed.
"""

from .devices import DEFAULT_NEEDED_GB, describe_torch, device_choices, device_problem
from .geometry import read_volume_nrrd, write_mask_nrrd, write_volume_nrrd
from .parameters import EditParameters, build_edit_command, default_ldedit
from .results import EditResults, followup_arrays, load_results
from .runner import EditProcess, parse_line, run_blocking

__all__ = [
    "DEFAULT_NEEDED_GB",
    "EditParameters",
    "EditProcess",
    "EditResults",
    "build_edit_command",
    "default_ldedit",
    "describe_torch",
    "device_choices",
    "device_problem",
    "followup_arrays",
    "load_results",
    "parse_line",
    "read_volume_nrrd",
    "run_blocking",
    "write_mask_nrrd",
    "write_volume_nrrd",
]
