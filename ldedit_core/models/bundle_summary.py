"""What a bundle holds, read from ``bundle.json`` and the safetensors headers only (no weights loaded)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ldedit_core.models.bundle_files import read_header


def summarize(folder: Path, meta: dict) -> dict[str, Any]:
    """A JSON-able summary: the bundle's facts plus, per network and extra, file size and stored values.

    ``parameters`` counts every stored value (parameters and persistent buffers) from the file header.

    Raises:
        InputError: a network or extras file is missing or not safetensors.
    """
    networks = {}
    for role, entry in meta["networks"].items():
        networks[role] = {
            "kind": entry["kind"],
            "dtype": entry["dtype"],
            **_file_facts(folder / entry["file"]),
            "config": entry["config"],
        }
    extras = {name: _file_facts(folder / e["file"]) for name, e in (meta.get("extras") or {}).items()}
    keys = (
        "name",
        "description",
        "intended_use",
        "schema_version",
        "resolution",
        "channels",
        "w_dim",
        "num_ws",
        "diseases",
        "preprocessing",
    )
    return {
        "path": str(folder),
        **{k: meta[k] for k in keys},
        "networks": networks,
        "extras": extras,
        "training": meta.get("training") or {},
        "provenance": meta.get("provenance") or {},
        "directions": meta.get("directions") or {},
    }


def _file_facts(path: Path) -> dict[str, Any]:
    header = read_header(path)
    return {
        "file": path.name,
        "file_bytes": path.stat().st_size,
        "tensors": len(header),
        "parameters": sum(math.prod(shape) for _, shape in header.values()),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as text for people (``ldedit bundle info``)."""
    s = summary
    lines = [
        f"{s['name']}  ({s['path']})",
        f"  {s['description']}",
        f"  intended use: {s['intended_use']}",
        f"  resolution {s['resolution']}x{s['resolution']}, {s['channels']} channel(s), "
        f"w_dim {s['w_dim']}, num_ws {s['num_ws']}",
        f"  diseases: {', '.join(s['diseases']) or 'none'}",
        "  preprocessing: " + ", ".join(f"{k}={v}" for k, v in s["preprocessing"].items()),
        "  networks:",
    ]
    for role, n in s["networks"].items():
        lines.append(
            f"    {role:13s} {n['kind']:13s} {n['parameters']:>12,d} values  {n['dtype']:7s} "
            f"{_size(n['file_bytes']):>9s}  {n['file']}"
        )
    if s["extras"]:
        lines.append("  extras:")
        for name, e in s["extras"].items():
            lines.append(f"    {name:13s} {e['tensors']} tensor(s), {_size(e['file_bytes'])}  {e['file']}")
    for section in ("training", "provenance", "directions"):
        if s[section]:
            lines.append(f"  {section}:")
            lines.extend(_nested(s[section], 4))
    return "\n".join(lines)


def _nested(d: dict, indent: int) -> list[str]:
    out = []
    for key, value in d.items():
        if isinstance(value, dict):
            out.append(" " * indent + f"{key}:")
            out.extend(_nested(value, indent + 2))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            # per-epoch histories and the like: hundreds of numbers nobody reads in a terminal
            out.append(" " * indent + f"{key}: {len(value)} records (ldedit bundle info --json shows them)")
        else:
            out.append(" " * indent + f"{key}: {value}")
    return out


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
