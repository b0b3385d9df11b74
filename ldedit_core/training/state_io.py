"""Training checkpoints as safetensors: tensors by name, everything else as JSON metadata. No pickle.

Optimizer state dicts are flattened to ``"{prefix}.{param_index}.{key}"`` tensors plus their
``param_groups`` in the metadata, so a checkpoint restores Adam's moments exactly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ldedit_core.errors import InputError

META_KEY = "ldedit"


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
    """Write atomically (temporary file, fsync, rename) so a crash never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_file(contiguous, str(tmp), metadata={META_KEY: json.dumps(meta)})
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a file written by :func:`save_tensors`; a missing or corrupt file is an ``InputError``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such checkpoint or weights file", path)
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get(META_KEY, "{}")
        return tensors, json.loads(raw)
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as exc:
        raise InputError(f"corrupt or unreadable safetensors file ({exc})", path) from exc


def flatten_optimizer(prefix: str, state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer ``state_dict()`` as named tensors plus JSON-able ``param_groups``."""
    tensors = {}
    for index, per_param in state["state"].items():
        for key, value in per_param.items():
            tensors[f"{prefix}.{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, {"param_groups": state["param_groups"]}


def unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def prefixed(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
