"""The files of a bundle: safetensors read/write, SHA-256 hashes, and writing a folder atomically.

Never unpickles anything: tensors come from safetensors, everything else from JSON.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ldedit_core.errors import InputError
from ldedit_core.models.bundle_schema import META_FILE

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_tensors(path: Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> str:
    """Write ``tensors`` as safetensors (CPU, contiguous), fsync, and return the file's SHA-256.

    The same tensors and metadata always give the same bytes (so the same hash), see
    :func:`_sort_metadata`.
    """
    save_file(
        {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()},
        str(path),
        metadata=dict(metadata),
    )
    _sort_metadata(path)
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
    return sha256_file(path)


def _sort_metadata(path: Path) -> None:
    """Rewrite the header's ``__metadata__`` with its keys sorted, in place.

    safetensors keeps the metadata in a Rust ``HashMap``, whose order changes from one process to the
    next, so identical weights would hash differently in every build. The header is re-serialised the
    way safetensors writes it (compact JSON, UTF-8); it is only rewritten when that gives exactly the
    same length, so the tensor data and offsets never move.
    """
    with open(path, "r+b") as fh:
        size = int.from_bytes(fh.read(8), "little")
        raw = fh.read(size)
        text = raw.decode("utf-8")
        header = json.loads(text)
        meta = header.get("__metadata__")
        if not meta:
            return
        ordered = {"__metadata__": dict(sorted(meta.items()))}
        ordered.update((k, v) for k, v in header.items() if k != "__metadata__")
        body = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        padded = body + b" " * (size - len(body))
        if len(body) > size or padded.rstrip(b" ") != body or len(raw.rstrip(b" ")) != len(body):
            return  # serialised differently from safetensors: leave the file as written
        fh.seek(8)
        fh.write(padded)


def check_file(path: Path, sha256: str, what: str) -> None:
    """Raise ``InputError`` if ``path`` is missing or its hash is not ``sha256``."""
    if not path.is_file():
        raise InputError(f"{what} file is missing", path)
    actual = sha256_file(path)
    if actual != sha256:
        raise InputError(
            f"{what} file is corrupt or modified: its SHA-256 is {actual}, bundle.json says {sha256}", path
        )


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, on the CPU; anything else is an ``InputError``."""
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"not a readable safetensors file ({exc})", path) from exc


def read_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` from a safetensors header, without reading the tensors."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            out = {}
            for key in fh.keys():  # noqa: SIM118 (safe_open is not a Mapping)
                sl = fh.get_slice(key)
                out[key] = (str(sl.get_dtype()), tuple(sl.get_shape()))
            return out
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"not a readable safetensors file ({exc})", path) from exc


def write_json(path: Path, obj: object) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_folder(path: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it replaces ``path`` by renames.

    The temporary folder is removed if the block raises, so a bundle is either complete or absent.
    ``path`` may already exist only as an empty folder, or as a bundle (a folder with ``bundle.json``)
    when ``overwrite`` is true; anything else is refused rather than deleted.

    Raises:
        InputError: ``path`` exists and may not be replaced.
    """
    _check_target(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        yield tmp
        _check_target(path, overwrite)  # it may have appeared meanwhile
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _check_target(path: Path, overwrite: bool) -> None:
    if not path.exists():
        return
    if not path.is_dir():
        raise InputError("exists and is not a folder; refusing to replace it with a bundle", path)
    if not any(path.iterdir()):
        return
    if not (path / META_FILE).is_file():
        raise InputError(f"folder is not empty and holds no {META_FILE}; refusing to replace it", path)
    if not overwrite:
        raise InputError("a bundle already exists here; pass overwrite=True to replace it", path)
