"""Where a bundle came from: command line, versions, git commit, date (written into ``bundle.json``)."""

from __future__ import annotations

import datetime
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from ldedit_core import __version__


def git_commit() -> str | None:
    """The commit of the source checkout LDEdit runs from, or ``None`` (installed package, no git)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def default_provenance() -> dict[str, Any]:
    """Facts recorded automatically when a bundle is saved."""
    return {
        "command": shlex.join(sys.argv),
        "ldedit_version": __version__,
        "git_commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
    }
