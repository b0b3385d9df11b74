"""External tools for tests: skip locally when missing, fail in CI (CI=true) so nothing skips silently."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, package: str) -> str:
    """Path of executable ``name``; in CI a missing tool is a failure, locally a skip naming the package."""
    path = shutil.which(name)
    if path:
        return path
    msg = f"{name} not found: install the Debian package `{package}` (apt-get install {package})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)
