"""The ``bundle.json`` schema: field names, allowed values, and validation with errors naming the file.

Only JSON is checked here (no torch): what the weights files contain is checked by
:mod:`ldedit_core.models.bundle` when it loads them.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ldedit_core.errors import InputError
from ldedit_core.phantoms import DISEASES

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = (1,)
META_FILE = "bundle.json"
INTENDED_USE = "Research use only; synthetic outputs, not for diagnosis."

#: network roles; ``generator`` is the only required one
ROLES = ("generator", "discriminator", "encoder", "guide", "evaluator")
#: the kind a role's network has unless the caller says otherwise
DEFAULT_KINDS = {
    "generator": "generator",
    "discriminator": "discriminator",
    "encoder": "encoder",
    "guide": "classifier",
    "evaluator": "classifier",
}
DTYPES = ("float16", "float32")

#: how a ``Radiograph`` (``pixels`` in [0, 1], brighter = more attenuation) becomes generator input
PREPROCESSING_CHOICES = {
    "square": ("pad", "crop"),  # pad the short side symmetrically with pad_value, or centre-crop the long one
    "resize": ("area", "bilinear", "bicubic"),  # torch.nn.functional.interpolate mode to resolution^2
    "intensity": ("pixels*2-1",),  # [0, 1] -> [-1, 1], the generator's output range
}
REQUIRED_KEYS = (
    "schema_version",
    "name",
    "description",
    "intended_use",
    "resolution",
    "channels",
    "w_dim",
    "num_ws",
    "diseases",
    "preprocessing",
    "networks",
)
OPTIONAL_DICT_KEYS = ("training", "provenance", "directions", "extras")
NETWORK_KEYS = ("kind", "config", "file", "sha256", "dtype")
EXTRA_KEYS = ("file", "sha256")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def default_preprocessing(resolution: int) -> dict[str, Any]:
    """The default preprocessing: pad to a square with black, area-resize, map [0, 1] to [-1, 1]."""
    return {
        "square": "pad",
        "pad_value": 0.0,
        "resize": "area",
        "intensity": "pixels*2-1",
        "resolution": resolution,
    }


def check_name(value: str, what: str) -> str:
    """``value`` if it is a safe name (letters, digits, ``._-``, up to 100 characters), else ValueError."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{what} must be 1-100 letters, digits, '.', '_' or '-' starting with a letter or digit, "
            f"got {value!r}"
        )
    return value


def did_you_mean(value: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def read_meta(folder: Path) -> dict:
    """Parse and validate ``folder/bundle.json``.

    Raises:
        InputError: no such folder or file, invalid JSON, or any schema problem (see :func:`validate_meta`).
    """
    if not folder.is_dir():
        raise InputError("no such bundle folder", folder)
    path = folder / META_FILE
    if not path.is_file():
        raise InputError(f"not a model bundle: {META_FILE} is missing", folder)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"invalid JSON ({exc})", path) from exc
    validate_meta(meta, path)
    return meta


def validate_meta(meta: Any, path: Path) -> None:
    """Check a parsed ``bundle.json``; every problem is an ``InputError`` naming ``path``."""
    if not isinstance(meta, dict):
        raise InputError(f"must hold a JSON object, got {type(meta).__name__}", path)
    version = meta.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS or isinstance(version, bool):
        raise InputError(
            f"unsupported schema_version {version!r}; this LDEdit reads versions "
            f"{', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))} (a newer LDEdit may read it)",
            path,
        )
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise InputError(f"missing required key(s): {', '.join(missing)}", path)
    for key in ("name", "description", "intended_use"):
        _expect(meta, key, str, path)
    for key in ("resolution", "channels", "w_dim", "num_ws"):
        if not isinstance(meta[key], int) or isinstance(meta[key], bool) or meta[key] < 1:
            raise InputError(f"{key} must be a positive integer, got {meta[key]!r}", path)
    for key in OPTIONAL_DICT_KEYS:
        if meta.get(key) is not None:
            _expect(meta, key, dict, path)
    _check_diseases(meta["diseases"], path)
    _check_preprocessing(meta["preprocessing"], path)
    _check_networks(meta["networks"], meta, path)
    _check_files(meta.get("extras") or {}, "extras", EXTRA_KEYS, path)
    files = [e["file"] for e in meta["networks"].values()] + [
        e["file"] for e in (meta.get("extras") or {}).values()
    ]
    if len(set(files)) != len(files):
        raise InputError(f"networks and extras name the same file twice: {files}", path)


def _expect(meta: Mapping, key: str, typ: type, path: Path) -> None:
    if not isinstance(meta[key], typ):
        raise InputError(f"{key} must be a JSON {_json_type(typ)}, got {type(meta[key]).__name__}", path)


def _json_type(typ: type) -> str:
    return {str: "string", dict: "object", list: "array", int: "integer"}.get(typ, typ.__name__)


def _check_diseases(diseases: Any, path: Path) -> None:
    if not isinstance(diseases, list) or not all(isinstance(d, str) for d in diseases):
        raise InputError(f"diseases must be a list of names, got {diseases!r}", path)
    for d in diseases:
        if d not in DISEASES:
            raise InputError(
                f"unknown disease {d!r} (known: {', '.join(DISEASES)}){did_you_mean(d, DISEASES)}", path
            )
    if len(set(diseases)) != len(diseases):
        raise InputError(f"diseases lists a name twice: {diseases}", path)


def _check_preprocessing(pre: Any, path: Path) -> None:
    if not isinstance(pre, dict):
        raise InputError(f"preprocessing must be a JSON object, got {type(pre).__name__}", path)
    for key, choices in PREPROCESSING_CHOICES.items():
        if pre.get(key) not in choices:
            raise InputError(
                f"preprocessing.{key} must be one of {list(choices)}, got {pre.get(key)!r}"
                f"{did_you_mean(pre.get(key), choices)}",
                path,
            )
    pad = pre.get("pad_value", 0.0)
    if isinstance(pad, bool) or not isinstance(pad, int | float) or not 0.0 <= pad <= 1.0:
        raise InputError(f"preprocessing.pad_value must be a number in [0, 1], got {pad!r}", path)


def _check_networks(networks: Any, meta: Mapping, path: Path) -> None:
    if not isinstance(networks, dict):
        raise InputError(f"networks must be a JSON object, got {type(networks).__name__}", path)
    for role in networks:
        if role not in ROLES:
            raise InputError(
                f"unknown network role {role!r} (roles: {', '.join(ROLES)}){did_you_mean(role, ROLES)}", path
            )
    if "generator" not in networks:
        raise InputError("networks has no 'generator'; every bundle needs one", path)
    _check_files(networks, "networks", NETWORK_KEYS, path)
    for role, entry in networks.items():
        if not isinstance(entry["kind"], str) or not isinstance(entry["config"], dict):
            raise InputError(f"networks.{role}: kind must be a string and config an object", path)
        if entry["dtype"] not in DTYPES:
            raise InputError(
                f"networks.{role}.dtype must be one of {list(DTYPES)}, got {entry['dtype']!r}", path
            )
    config = networks["generator"]["config"]
    pre_res = meta["preprocessing"].get("resolution", meta["resolution"])
    for key, value in (
        ("resolution", meta["resolution"]),
        ("channels", meta["channels"]),
        ("w_dim", meta["w_dim"]),
    ):
        if key in config and config[key] != value:
            raise InputError(f"{key} is {value} but the generator config says {config[key]}", path)
    if pre_res != meta["resolution"]:
        raise InputError(
            f"preprocessing.resolution is {pre_res} but resolution is {meta['resolution']}", path
        )


def _check_files(entries: Any, what: str, keys: tuple[str, ...], path: Path) -> None:
    if not isinstance(entries, dict):
        raise InputError(f"{what} must be a JSON object, got {type(entries).__name__}", path)
    files = []
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise InputError(f"{what}.{name} must be a JSON object, got {type(entry).__name__}", path)
        missing = [k for k in keys if k not in entry]
        if missing:
            raise InputError(f"{what}.{name} is missing key(s): {', '.join(missing)}", path)
        file = entry["file"]
        # a plain file name inside the bundle folder: never a path that could point elsewhere
        if (
            not isinstance(file, str)
            or Path(file).name != file
            or not file.endswith(".safetensors")
            or file.startswith(".")
        ):
            raise InputError(
                f"{what}.{name}.file must be a plain '*.safetensors' file name, got {file!r}", path
            )
        if not isinstance(entry["sha256"], str) or not _SHA256.match(entry["sha256"]):
            raise InputError(f"{what}.{name}.sha256 must be 64 lowercase hex digits", path)
        files.append(file)
    if len(set(files)) != len(files):
        raise InputError(f"{what} name the same file twice: {files}", path)
