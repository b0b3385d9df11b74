"""Pictures people look at: the sequence as a PNG strip, and the probabilities against the frame."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def save_strip(
    frames: Sequence[np.ndarray],
    path: str | Path,
    *,
    labels: Sequence[str] | None = None,
    roi: np.ndarray | None = None,
    height: int = 256,
) -> Path:
    """Frames side by side (each scaled to ``height`` pixels), captioned, with the ROI outlined on the first.

    Args:
        frames: float images in [0, 1] (frame 0 = the source).
        labels: one caption per frame (e.g. the evaluator's probability).
        roi: mask of the first frame's shape; its outline is drawn in red on frame 0.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(frames)
    aspect = frames[0].shape[1] / frames[0].shape[0]
    fig, axes = plt.subplots(1, n, figsize=(n * 1.6 * aspect, 2.1), dpi=max(72, height // 2))
    for i, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(frames[i], cmap="gray", vmin=0.0, vmax=1.0, interpolation="lanczos")
        if i == 0 and roi is not None:
            ax.contour(roi > 0.5, levels=[0.5], colors="red", linewidths=0.6)
        ax.set_title(labels[i] if labels else str(i), fontsize=6)
        ax.axis("off")
    fig.subplots_adjust(left=0.005, right=0.995, bottom=0.09, top=0.86, wspace=0.04)
    fig.text(0.5, 0.01, "SYNTHETIC - NOT FOR DIAGNOSTIC USE", fontsize=6, color="darkred", ha="center")
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def save_probability_plot(
    curves: dict[str, Sequence[float]], path: str | Path, *, title: str, target: float | None = None
) -> Path:
    """Probability against frame for each named curve (e.g. guide, evaluator), with the target line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.8), dpi=120)
    for name, values in curves.items():
        ax.plot(range(len(values)), values, marker="o", markersize=3, label=name)
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", linewidth=0.8, label=f"target {target:g}")
    ax.set_xlabel("frame (0 = source)")
    ax.set_ylabel("probability")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
