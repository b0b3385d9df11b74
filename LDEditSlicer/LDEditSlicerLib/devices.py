"""Which devices ``ldedit edit --device`` can use here, and a plain-words problem before a run fails on one.

:func:`describe_torch` gathers the facts once (torch imported only inside it, or in a separate Python so
that Slicer's process never loads torch); :func:`device_choices` and :func:`device_problem` are pure
functions of that dict, so the GUI logic is testable without a GPU.

The info dict: ``torch`` (importable), ``version``, ``cuda_build`` (``torch.version.cuda``; None for a
CPU-only build), ``cuda_available``, ``gpus`` (``[{"index", "name", "total_gb"}]``), ``mps_available``,
``error`` (why torch could not be imported or probed, else None).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

#: GPU memory (GiB) below which a GPU is not offered silently. The shipped bundle's networks are tiny; this
#: leaves room for the CUDA context and the batched Link-LR Jacobian of a larger bundle.
DEFAULT_NEEDED_GB = 2.0
CPU_FALLBACK = "Run on the CPU instead (slower, but it works everywhere)"
CUDA_NAME = re.compile(r"^cuda(?::(\d+))?$")


def describe_torch(python: str | None = None, timeout: float = 120.0) -> dict[str, Any]:
    """What torch offers. Never raises: a missing or broken torch is reported in the dict.

    Args:
        python: run the probe in this interpreter (e.g. PythonSlicer) instead of importing torch here;
            this keeps torch, and CUDA's memory, out of the calling process.
        timeout: seconds allowed for the separate probe (the first CUDA initialisation can be slow).
    """
    if python is None:
        return _probe()
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from LDEditSlicerLib.devices import _probe; print(json.dumps(_probe()))"
    )
    try:
        done = subprocess.run(
            [python, "-c", code, package_parent],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode == 0 and lines:
            return json.loads(lines[-1])
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        why = str(exc)
    return _no_torch(f"could not probe torch with {python}: {why}")


def device_choices(info: dict[str, Any]) -> list[str]:
    """``["auto", "cpu", "cuda:0", ...]``: what a device menu offers (auto = the first GPU, else the CPU)."""
    choices = ["auto", "cpu"]
    if info.get("torch") and info.get("cuda_available"):
        choices += [f"cuda:{gpu['index']}" for gpu in info.get("gpus", [])]
    if info.get("torch") and info.get("mps_available"):
        choices.append("mps")
    return choices


def device_problem(info: dict[str, Any], device: str, needed_gb: float = DEFAULT_NEEDED_GB) -> str | None:
    """Why ``device`` would fail or struggle, in words that offer the CPU; None if it should work.

    None too when torch is not installed yet (nothing to check; installing it is the caller's step).
    ``auto`` runs on the CPU without a GPU, so only a too-small first GPU is a problem for it.
    """
    device = (device or "auto").strip().lower()
    if device == "cpu" or not info.get("torch"):
        return None
    version = info.get("version") or "?"
    gpus = list(info.get("gpus") or [])
    if device == "auto":
        if info.get("cuda_available") and gpus:
            return _memory_problem(gpus[0], needed_gb, auto=True)
        return None
    if device == "mps":
        if info.get("mps_available"):
            return None
        return f"Apple's GPU (mps) is not available to PyTorch {version} here. {CPU_FALLBACK}."
    match = CUDA_NAME.match(device)
    if match is None:
        return f"Unknown device {device!r}: choose auto, cpu or cuda:N. {CPU_FALLBACK}."
    if not info.get("cuda_build"):
        return (
            f"This PyTorch ({version}) is a CPU-only build, so it cannot use a GPU. {CPU_FALLBACK}, or "
            "install a CUDA build of PyTorch (the PyTorch extension's installer) to use the GPU."
        )
    if not info.get("cuda_available") or not gpus:
        return (
            f"PyTorch {version} (CUDA {info.get('cuda_build')}) finds no usable GPU: there is no NVIDIA GPU, "
            f"or its driver is missing or too old. {CPU_FALLBACK}."
        )
    index = int(match.group(1) or 0)
    by_index = {int(gpu["index"]): gpu for gpu in gpus}
    if index not in by_index:
        listing = ", ".join(f"cuda:{g['index']} ({g.get('name', '?')})" for g in gpus)
        return f"There is no GPU cuda:{index}; this machine has {listing}. Choose one, or run on the CPU."
    return _memory_problem(by_index[index], needed_gb, auto=False)


# --- helpers ------------------------------------------------------------------------------------------------


def _memory_problem(gpu: dict[str, Any], needed_gb: float, auto: bool) -> str | None:
    total = float(gpu.get("total_gb") or 0.0)
    if total >= needed_gb:
        return None
    who = f"GPU cuda:{gpu.get('index', 0)} ({gpu.get('name') or '?'})"
    who += ", which auto uses," if auto else ""
    return (
        f"{who} has {total:.1f} GB of memory; LDEdit needs about {needed_gb:g} GB. "
        f"{CPU_FALLBACK}, or choose a larger GPU."
    )


def _no_torch(error: str) -> dict[str, Any]:
    return {
        "torch": False,
        "version": None,
        "cuda_build": None,
        "cuda_available": False,
        "gpus": [],
        "mps_available": False,
        "error": error,
    }


def _probe() -> dict[str, Any]:
    """The facts, in this process (imports torch)."""
    try:
        import torch
    except Exception as exc:  # ImportError, or a broken install failing to load its libraries
        return _no_torch(f"PyTorch is not installed ({type(exc).__name__}: {exc})")
    info = _no_torch("")
    info.update(torch=True, version=str(torch.__version__), error=None)
    info["cuda_build"] = getattr(torch.version, "cuda", None)
    try:
        info["cuda_available"] = bool(torch.cuda.is_available())
        if info["cuda_available"]:
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                info["gpus"].append(
                    {"index": i, "name": str(props.name), "total_gb": round(props.total_memory / 2**30, 2)}
                )
    except Exception as exc:  # a driver problem shows up here, not at import
        info.update(cuda_available=False, gpus=[], error=f"CUDA probe failed: {exc}")
    try:
        mps = getattr(torch.backends, "mps", None)
        info["mps_available"] = bool(mps is not None and mps.is_available())
    except Exception:
        info["mps_available"] = False
    return info


if __name__ == "__main__":  # python devices.py: what this interpreter offers
    json.dump(_probe(), sys.stdout, indent=2)
    print()
