"""Find a bundle by path or by name: ``$LDEDIT_BUNDLE_PATH``, the user cache, then the shipped bundles."""

from __future__ import annotations

import os
from pathlib import Path

from ldedit_core.errors import InputError
from ldedit_core.models.bundle_schema import META_FILE, check_name, did_you_mean

ENV_VAR = "LDEDIT_BUNDLE_PATH"
DEFAULT_NAME = "default"


def shipped_bundles_dir() -> Path:
    """``ldedit_core/bundles``: the bundles installed with the package (package data)."""
    return Path(__file__).resolve().parent.parent / "bundles"


def user_bundles_dir() -> Path:
    """``~/.cache/ldedit/bundles`` (``$XDG_CACHE_HOME/ldedit/bundles`` when that is set)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ldedit" / "bundles"


def search_dirs() -> list[Path]:
    """The folders searched for a bundle name, in order."""
    env = [Path(p).expanduser() for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    return [*env, user_bundles_dir(), shipped_bundles_dir()]


def available_bundles() -> dict[str, Path]:
    """``{name: folder}`` of every bundle found in :func:`search_dirs` (the first of a name wins)."""
    found: dict[str, Path] = {}
    for folder in search_dirs():
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if (child / META_FILE).is_file():
                found.setdefault(child.name, child)
    return found


def resolve_bundle(path_or_name: str | os.PathLike) -> Path:
    """The bundle folder for a path or a name.

    A ``Path``, a string with a path separator, or a string naming an existing folder (or its
    ``bundle.json``) is used as a path. Any other string is a bundle name, looked up as
    ``<dir>/<name>/bundle.json`` in ``$LDEDIT_BUNDLE_PATH`` (``os.pathsep``-separated folders), then
    ``~/.cache/ldedit/bundles``, then the package's ``ldedit_core/bundles``.

    Raises:
        InputError: the name is found nowhere (the message lists where it looked and what it found).
    """
    if isinstance(path_or_name, os.PathLike) or _looks_like_path(str(path_or_name)):
        path = Path(path_or_name).expanduser()
        return path.parent if path.name == META_FILE and path.is_file() else path
    name = str(path_or_name)
    try:
        check_name(name, "bundle name")
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    for folder in search_dirs():
        if (folder / name / META_FILE).is_file():
            return folder / name
    names = sorted(available_bundles())
    where = ", ".join(str(d) for d in search_dirs())
    raise InputError(
        f"no bundle named {name!r} in {where} (set {ENV_VAR} to add folders); "
        f"available: {', '.join(names) or 'none'}{did_you_mean(name, names)}"
    )


def _looks_like_path(text: str) -> bool:
    return (
        os.sep in text
        or (os.altsep is not None and os.altsep in text)
        or "/" in text
        or text.startswith((".", "~"))
        or Path(text).exists()
    )
