"""``EditParameters`` -> the ``ldedit edit --json-progress`` argv, and mistakes caught before a run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from LDEditSlicerLib import EditParameters, build_edit_command, default_ldedit

from ldedit_core.cli.main import build_parser


@pytest.fixture
def files(tmp_path):
    image, mask = tmp_path / "radiograph.nrrd", tmp_path / "-region.nrrd"  # a name that looks like an option
    image.write_bytes(b"NRRD0004\n")
    mask.write_bytes(b"NRRD0004\n")
    return image, mask, tmp_path / "out"


def params(files, **kwargs) -> EditParameters:
    image, mask, out = files
    return EditParameters(
        **{"input_path": image, "mask_path": mask, "disease": "cardiomegaly", "out_dir": out, **kwargs}
    )


def test_the_argv_parses_back_to_what_was_asked(files):
    image, mask, out = files
    p = params(files, segment="-heart", followups=3, interval_days=30.5, target=0.8, regress=True)
    p.device, p.bundle = "cuda:1", str(out.parent / "bundles" / "mine")
    (out.parent / "bundles" / "mine").mkdir(parents=True)
    argv = build_edit_command(p, ldedit=["PythonSlicer", "-m", "ldedit_core.cli.main"])
    assert argv[:4] == ["PythonSlicer", "-m", "ldedit_core.cli.main", "edit"]
    assert argv[-1] == "--json-progress"
    args = build_parser().parse_args(argv[3:])
    assert (args.input, args.mask, args.segment, args.out) == (image, mask, "-heart", out)
    assert (args.disease, args.followups, args.interval_days, args.target) == ("cardiomegaly", 3, 30.5, 0.8)
    assert args.regress and args.json_progress and args.device == "cuda:1"
    assert args.bundle == p.bundle


def test_defaults_leave_ldedit_defaults(files):
    argv = build_edit_command(params(files, mask_path=""))
    assert argv[:3] == default_ldedit() == [sys.executable, "-m", "ldedit_core.cli.main"]
    args = build_parser().parse_args(argv[3:])
    assert args.mask is None and args.segment is None and args.bundle is None and not args.regress
    assert (args.followups, args.interval_days, args.target, args.device) == (10, 90.0, 0.9, "auto")


def test_segment_index_and_a_single_executable(files):
    argv = build_edit_command(params(files, segment=0), ldedit="ldedit")
    assert argv[0] == "ldedit" and "--segment=0" in argv


def test_the_default_prefix_runs_ldedit():
    """``python -m ldedit_core.cli.main`` is a working entry point (main.py has the __main__ guard)."""
    done = subprocess.run([*default_ldedit(), "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("ldedit ")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"followups": 0}, "followups must be a whole number of at least 1"),
        ({"followups": 2.5}, "followups"),
        ({"followups": True}, "followups"),
        ({"target": 1.0}, "strictly between 0 and 1"),
        ({"target": 0}, "strictly between 0 and 1"),
        ({"target": float("nan")}, "target"),
        ({"interval_days": 0}, "greater than 0"),
        ({"interval_days": -3.0}, "greater than 0"),
        ({"disease": "  "}, "no disease"),
        ({"input_path": ""}, "no radiograph"),
        ({"input_path": "/nonexistent/x.nrrd"}, "does not exist"),
        ({"mask_path": "/nonexistent/m.nrrd"}, "mask file"),
        ({"segment": -1}, "segment index"),
        ({"segment": 1.5}, "segment must be"),
        ({"device": "gpu please"}, "device must be"),
        ({"bundle": "/nonexistent/bundle"}, "bundle folder"),
        ({"out_dir": ""}, "no output folder"),
    ],
)
def test_mistakes_raise_a_message_a_user_can_act_on(files, change, words):
    with pytest.raises(ValueError, match=words):
        build_edit_command(params(files, **change))


def test_a_non_empty_out_folder_is_refused(files):
    out = files[2]
    out.mkdir()
    build_edit_command(params(files))  # empty: fine
    (out / "old.dcm").write_bytes(b"")
    with pytest.raises(ValueError, match="not empty"):
        build_edit_command(params(files))


def test_a_bundle_name_is_passed_through(files):
    argv = build_edit_command(params(files, bundle="default"))
    assert "--bundle=default" in argv
    assert Path(build_parser().parse_args(argv[3:]).input) == files[0]
