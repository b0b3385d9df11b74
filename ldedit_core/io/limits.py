"""Shared input checks for every reader."""

from __future__ import annotations

from pathlib import Path

from ldedit_core.errors import InputError

#: Largest side accepted; real detectors are at most ~4300 px, so anything beyond is a broken header.
MAX_SIDE = 8192


def check_size(rows: int, cols: int, path: Path) -> None:
    """Refuse empty or absurd image sizes before any pixel data is decoded."""
    if rows <= 0 or cols <= 0:
        raise InputError(f"empty image ({rows} x {cols} pixels)", path)
    if rows > MAX_SIDE or cols > MAX_SIDE:
        raise InputError(
            f"absurd image size {rows} x {cols}: at most {MAX_SIDE} pixels per side are accepted", path
        )
