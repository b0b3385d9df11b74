"""One network of a bundle: its ``bundle.json`` entry and tensors on saving, the checked module on loading."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ldedit_core.errors import InputError
from ldedit_core.models.bundle_files import check_file, read_tensors
from ldedit_core.models.bundle_schema import DEFAULT_KINDS
from ldedit_core.models.registry import build_network, network_kinds

_FLOAT16_MAX = torch.finfo(torch.float16).max


def network_kind(role: str, spec: nn.Module | tuple[str, nn.Module]) -> tuple[str, nn.Module]:
    """``(kind, module)``: the tuple's kind, else ``module.network_kind``, else the role's default kind."""
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[0], str) or not isinstance(spec[1], nn.Module):
            raise ValueError(f"networks[{role!r}] must be a module or a (kind, module) pair, got {spec!r}")
        return spec
    if not isinstance(spec, nn.Module):
        raise ValueError(f"networks[{role!r}] must be a torch.nn.Module, got {type(spec).__name__}")
    return getattr(spec, "network_kind", None) or DEFAULT_KINDS[role], spec


def module_config(role: str, module: nn.Module) -> dict[str, Any]:
    """The module's config as JSON (``module.config.to_dict()`` or a dict ``module.config``)."""
    config = getattr(module, "config", None)
    if hasattr(config, "to_dict"):
        config = config.to_dict()
    if not isinstance(config, Mapping):
        raise ValueError(
            f"networks[{role!r}] ({type(module).__name__}) has no config: it needs a `config` attribute "
            "with to_dict() (or a dict) from which build_network rebuilds it"
        )
    try:
        return json.loads(json.dumps(dict(config)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"networks[{role!r}].config is not JSON-serialisable: {exc}") from exc


def stored_tensors(module: nn.Module, *, half: bool) -> dict[str, torch.Tensor]:
    """The module's ``state_dict`` as it is stored: floating tensors float16 (``half``) or float32.

    Raises:
        ValueError: with ``half``, a finite value beyond float16's range (it would become infinite).
    """
    out = {}
    for key, value in module.state_dict().items():
        value = value.detach().to("cpu")
        if value.is_floating_point():
            if half:
                too_big = torch.isfinite(value) & (value.abs() > _FLOAT16_MAX)
                if too_big.any():
                    raise ValueError(
                        f"tensor {key!r} has values beyond float16's range; save without half=True"
                    )
            value = value.to(torch.float16 if half else torch.float32)
        out[key] = value.clone()
    return out


def network_entry(role: str, spec: Any, *, half: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The ``bundle.json`` entry (``sha256`` still to fill in) and the tensors to write for one network.

    Raises:
        ValueError: unknown kind, no config, or a config that does not rebuild the module's tensors.
    """
    kind, module = network_kind(role, spec)
    if kind not in network_kinds():
        raise ValueError(
            f"networks[{role!r}] has kind {kind!r}, which is not registered (known: {network_kinds()})"
        )
    config = module_config(role, module)
    try:
        rebuilt = _build_for_shapes(kind, config)
    except ValueError as exc:
        raise ValueError(f"networks[{role!r}]: {exc}") from exc
    tensors = stored_tensors(module, half=half)
    problem = state_mismatch(rebuilt.state_dict(), {k: tuple(v.shape) for k, v in tensors.items()})
    if problem:
        raise ValueError(
            f"networks[{role!r}]: a {kind} built from its config differs from the module: {problem}"
        )
    entry = {
        "kind": kind,
        "config": config,
        "file": f"{role}.safetensors",
        "sha256": "",
        "dtype": "float16" if half else "float32",
    }
    return entry, tensors


def _build_for_shapes(kind: str, config: dict[str, Any]) -> nn.Module:
    """The network on the meta device (no memory, no random numbers), or on the CPU if that fails."""
    try:
        with torch.device("meta"):
            return build_network(kind, config)
    except (RuntimeError, NotImplementedError):
        with torch.random.fork_rng(devices=[]):
            return build_network(kind, config)


def state_mismatch(expected: Mapping[str, torch.Tensor], stored: Mapping[str, tuple[int, ...]]) -> str | None:
    """A sentence naming the first missing, unexpected or misshapen tensor; ``None`` when all match."""
    missing = [k for k in expected if k not in stored]
    if missing:
        return f"tensor {missing[0]!r} is missing ({len(missing)} missing in all)"
    unexpected = [k for k in stored if k not in expected]
    if unexpected:
        return f"unexpected tensor {unexpected[0]!r} ({len(unexpected)} unexpected in all)"
    for key, value in expected.items():
        if tuple(value.shape) != tuple(stored[key]):
            return (
                f"tensor {key!r} has shape {list(stored[key])} in the file but the architecture "
                f"expects {list(value.shape)}"
            )
    return None


def restore_network(folder: Path, role: str, entry: Mapping[str, Any]) -> nn.Module:
    """Rebuild the network of ``entry`` on the CPU and fill it from its file (float32 weights).

    Raises:
        InputError: unknown kind or bad config (naming ``bundle.json``), or a missing, modified,
            unreadable or mismatched weights file (naming that file).
    """
    meta_path = folder / "bundle.json"
    kind = entry["kind"]
    if kind not in network_kinds():
        raise InputError(
            f"networks.{role}: unknown network kind {kind!r} (known: {', '.join(network_kinds())})", meta_path
        )
    try:
        net = build_network(kind, entry["config"])
    except ValueError as exc:
        raise InputError(f"networks.{role}: {exc}", meta_path) from exc
    file = folder / entry["file"]
    check_file(file, entry["sha256"], f"{role} weights")
    tensors = read_tensors(file)
    expected = net.state_dict()
    problem = state_mismatch(expected, {k: tuple(v.shape) for k, v in tensors.items()})
    if problem:
        raise InputError(f"does not fit the {role}'s {kind} architecture in bundle.json: {problem}", file)
    declared = getattr(torch, entry["dtype"])
    for key, value in tensors.items():
        if value.is_floating_point() and value.dtype != declared:
            raise InputError(f"tensor {key!r} is {value.dtype} but bundle.json says {entry['dtype']}", file)
        if value.is_floating_point():
            tensors[key] = value.to(expected[key].dtype)
    net.load_state_dict(tensors, strict=True)
    return net
