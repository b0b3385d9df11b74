"""Device names as users write them (``auto``, ``cpu``, ``cuda:0``), for every layer that runs models."""

from __future__ import annotations

import torch

from ldedit_core.errors import InputError


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else the CPU; anything else as torch names it.

    Raises:
        InputError: a name torch does not know, or a CUDA device on a machine without one.
    """
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise InputError(f"--device: unknown device {name!r} ({exc})") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device: {name!r} asked for, but this machine has no CUDA device (try auto)")
    return device
