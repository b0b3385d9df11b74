"""The GAN training run: progress bar with kimg and ETA, periodic checkpoints, sample grids, loss plots."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ldedit_core.training.gan_trainer import GanTrainer

LOGGER = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.safetensors"


def run_training(
    trainer: GanTrainer,
    out_dir: str | Path,
    *,
    total_kimg: float,
    snapshot_kimg: float = 10.0,
    checkpoint_seconds: float = 300.0,
    progress: bool = True,
    max_seconds: float | None = None,
) -> Path:
    """Train until ``total_kimg`` (or ``max_seconds``), writing ``out_dir/checkpoint.safetensors``
    every ``checkpoint_seconds`` and at the end, a sample grid and loss plot every ``snapshot_kimg``, and one
    JSON line of statistics per snapshot in ``stats.jsonl``. Only rank 0 writes. Returns the checkpoint.
    Ctrl-C or SIGTERM stop it after the step in progress, with a checkpoint as exact as any other, and
    then raise ``KeyboardInterrupt``.
    """
    out = Path(out_dir)
    main = trainer.dist.is_main
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "training_options.json").write_text(json.dumps(trainer.config.to_dict(), indent=2))
    start = time.monotonic()
    bar = tqdm(
        total=total_kimg,
        initial=trainer.kimg,
        unit="kimg",
        disable=not (progress and main),
        bar_format="{l_bar}{bar}| {n:.1f}/{total:.0f} kimg [{elapsed}<{remaining}]{postfix}",
    )
    ckpt = out / CHECKPOINT
    stop = _StopFlag()
    with stop:
        window = _loop(
            trainer, out, bar, total_kimg, snapshot_kimg, checkpoint_seconds, max_seconds, start, stop
        )
    bar.close()
    if main:
        trainer.save_checkpoint(ckpt)
        if window:  # steps since the last snapshot: none if the run ended on one, or had nothing left to do
            _snapshot(trainer, out, window, time.monotonic() - start)
    if stop.raised:
        LOGGER.warning("stopped by signal: checkpoint at %.1f kimg in %s", trainer.kimg, ckpt)
        raise KeyboardInterrupt
    return ckpt


class _StopFlag:
    """While active, SIGINT/SIGTERM only set ``raised``; the loop stops between steps (exact resume)."""

    def __init__(self) -> None:
        self.raised = False
        self._old: dict = {}

    def _set(self, signum, frame) -> None:
        self.raised = True

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._old = {sig: signal.signal(sig, self._set) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _loop(
    trainer: GanTrainer,
    out: Path,
    bar,
    total_kimg: float,
    snapshot_kimg: float,
    checkpoint_seconds: float,
    max_seconds: float | None,
    start: float,
    stop: _StopFlag,
) -> list[dict]:
    main = trainer.dist.is_main
    ckpt = out / CHECKPOINT
    last_ckpt = time.monotonic()
    next_snapshot = (int(trainer.kimg / snapshot_kimg) + 1) * snapshot_kimg
    window: list[dict] = []
    while trainer.kimg < total_kimg and not stop.raised:
        stats = trainer.train_step()
        window.append(stats)
        bar.update(trainer.config.batch / 1000)
        bar.set_postfix(
            G=f"{stats['loss_g']:.2f}",
            D=f"{stats['loss_d']:.2f}",
            p=f"{trainer.augment_p:.2f}",
            refresh=False,
        )
        now = time.monotonic()
        if trainer.kimg >= next_snapshot:
            if main:
                _snapshot(trainer, out, window, now - start)
            window, next_snapshot = [], next_snapshot + snapshot_kimg
        if now - last_ckpt >= checkpoint_seconds:
            if main:
                trainer.save_checkpoint(ckpt)
            last_ckpt = now
        if max_seconds is not None and now - start >= max_seconds:
            break
    return window


def _snapshot(trainer: GanTrainer, out: Path, window: list[dict], seconds: float) -> None:
    keys = dict.fromkeys(k for w in window for k in w)  # lazy terms appear on some steps only
    record = {
        "kimg": round(trainer.kimg, 3),
        "step": trainer.step,
        "seconds": round(seconds, 1),
        **{k: float(np.mean([w[k] for w in window if k in w])) for k in keys},
    }
    with open(out / "stats.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")
    save_sample_grid(trainer.G_ema, out / f"samples_{trainer.kimg:07.1f}kimg.png")
    save_sample_grid(trainer.G_ema, out / "samples_latest.png")
    plot_losses(out / "stats.jsonl", out / "losses.png")
    LOGGER.info("snapshot %s", record)


@torch.no_grad()
def save_sample_grid(G: torch.nn.Module, path: Path, rows: int = 4, cols: int = 8) -> Path:
    """Generator samples from fixed latents (same z every snapshot, so progress is comparable)."""
    from PIL import Image

    device = next(G.parameters()).device
    z = torch.randn(rows * cols, G.z_dim, generator=torch.Generator().manual_seed(1234)).to(device)
    img = G(z, noise_mode="const").float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()
    r = G.img_resolution
    grid = img[:, 0].reshape(rows, cols, r, r).permute(0, 2, 1, 3).reshape(rows * r, cols * r)
    Image.fromarray(grid.numpy()).save(path)
    return path


def plot_losses(stats_path: Path, png: Path) -> Path:
    """Loss curves against kimg from ``stats.jsonl``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in stats_path.read_text().splitlines() if line.strip()]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("loss_g", "loss_d", "r1", "augment_p", "linearity"):
        if not any(key in r for r in rows):
            continue
        ax.plot([r["kimg"] for r in rows], [r.get(key, np.nan) for r in rows], label=key)
    ax.set_xlabel("kimg")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
