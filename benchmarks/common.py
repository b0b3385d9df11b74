"""Shared helpers for the benchmark scripts: timing and naming the machine."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable


def machine() -> str:
    """CPU model, core count and Python version, for the figures' caption."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def best_time(fn: Callable[[], object], repeat: int = 3, number: int = 1) -> float:
    """Best wall time of ``number`` calls, over ``repeat`` runs, in seconds per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def bench_devices(threads: int, *, cuda: bool = True) -> list[tuple[object, str]]:
    """``(torch.device, name)`` for the CPU (``threads`` intra-op threads) and, when present, CUDA."""
    import torch

    devices = [(torch.device("cpu"), f"CPU x{threads}")]
    if cuda and torch.cuda.is_available():
        devices.append((torch.device("cuda"), torch.cuda.get_device_name(0)))
    return devices


def save_json(path, results) -> None:
    """Write a benchmark's figures (numpy scalars as floats), creating the folder: docs/figures/*.json."""
    import json
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=float) + "\n")
