"""Add or replace extra tensor groups (e.g. the disease-direction statistics) in an existing bundle.

The networks are copied byte for byte (their hashes stay valid); only ``bundle.json`` and the extras change.
The result is written through :func:`atomic_folder`, so a bundle is never left half-updated, and the
source bundle is untouched unless it is also the destination.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ldedit_core.models.bundle_files import atomic_folder, write_json, write_tensors
from ldedit_core.models.bundle_locate import resolve_bundle
from ldedit_core.models.bundle_schema import META_FILE, check_name, read_meta


def update_bundle(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    extras: Mapping[str, Mapping[str, torch.Tensor]],
    directions: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Copy bundle ``source`` to ``out`` with ``extras`` groups added (replacing same-named ones).

    Args:
        source: bundle path or name.
        out: destination folder; may be ``source`` itself with ``overwrite``.
        extras: ``{group: {tensor name: tensor}}``.
        directions: JSON facts merged into ``bundle.json``'s ``directions`` block.
        overwrite: allow replacing an existing bundle at ``out``.

    Raises:
        InputError: ``source`` is not a bundle, or ``out`` exists and may not be replaced.
    """
    src = resolve_bundle(source)
    out = Path(out)
    meta = read_meta(src)
    meta.setdefault("extras", {})
    meta["directions"] = {**meta.get("directions", {}), **dict(directions or {})}
    with atomic_folder(out, overwrite=overwrite) as tmp:
        for file in src.iterdir():
            if file.is_file() and file.name != META_FILE and not file.name.startswith("extras."):
                shutil.copy2(file, tmp / file.name)
        for name, entry in meta["extras"].items():
            if name not in extras:
                shutil.copy2(src / entry["file"], tmp / entry["file"])
        for name, group in extras.items():
            check_name(name, "extras name")
            file = f"extras.{name}.safetensors"
            digest = write_tensors(tmp / file, group, {"extras": name})
            meta["extras"][name] = {"file": file, "sha256": digest}
        write_json(tmp / META_FILE, meta)
        mode = (src / META_FILE).stat().st_mode & 0o777
        for file in tmp.iterdir():
            file.chmod(mode | 0o200)
    return out
