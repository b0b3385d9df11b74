"""Render ``docs/figures/phantoms_grid.png``: one patient per disease row, severity 0 -> 1 across.

Rows: healthy (five different patients), cardiomegaly, bilateral effusion, edema, nodule; columns:
severity 0, 0.25, 0.5, 0.75, 1.0. Run from the repository root:

    .venv/bin/python docs/figures/make_phantoms_grid.py [--size 256] [--out docs/figures/phantoms_grid.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ldedit_core.phantoms import make_phantom

SEVERITIES = (0.0, 0.25, 0.5, 0.75, 1.0)
ROWS = (
    ("healthy", None, 11),
    ("cardiomegaly", {"cardiomegaly": 1.0}, 3),
    ("effusion", {"effusion_left": 1.0, "effusion_right": 0.6}, 4),
    ("edema", {"edema": 1.0}, 5),
    ("nodule", {"nodule": 1.0}, 6),
)


def render_grid(size: int = 256) -> Image.Image:
    """Return the grid as an 8-bit grey PIL image with row and column captions."""
    label_w, label_h = 110, 22
    grid = Image.new("L", (label_w + size * len(SEVERITIES), label_h + size * len(ROWS)), 255)
    draw = ImageDraw.Draw(grid)
    for j, s in enumerate(SEVERITIES):
        draw.text((label_w + j * size + size // 2 - 20, 4), f"severity {s:g}", fill=0)
    for i, (name, args, seed) in enumerate(ROWS):
        draw.text((6, label_h + i * size + size // 2 - 6), name, fill=0)
        for j, s in enumerate(SEVERITIES):
            if args is None:
                phantom = make_phantom(seed + j, size)
            else:
                phantom = make_phantom(seed, size, **{k: v * s for k, v in args.items()})
            tile = Image.fromarray(np.round(phantom.image * 255).astype(np.uint8))
            grid.paste(tile, (label_w + j * size, label_h + i * size))
    return grid


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("phantoms_grid.png"))
    args = parser.parse_args(argv)
    render_grid(args.size).save(args.out, optimize=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
