"""UID generation. The root is configurable so that sites can use their own registered root."""

from __future__ import annotations

from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

#: pydicom's registered root; sites with their own root pass ``uid_root=`` to the writers.
DEFAULT_UID_ROOT = PYDICOM_ROOT_UID


def new_uid(root: str = DEFAULT_UID_ROOT) -> str:
    """A fresh random UID under ``root`` (which must end with a dot)."""
    if not root.endswith(".") or len(root) > 40:
        raise ValueError(f"uid_root must end with '.' and be at most 40 characters, got {root!r}")
    return str(generate_uid(prefix=root))
