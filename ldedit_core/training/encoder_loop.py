"""The encoder training run: progress bar with ETA, checkpoints, sample grids, statistics, final metrics."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ldedit_core.models import Generator
from ldedit_core.models.encoder import Encoder
from ldedit_core.models.image_metrics import psnr, ssim
from ldedit_core.training.encoder_trainer import EncoderTrainer
from ldedit_core.training.seeding import derive_seed

LOGGER = logging.getLogger(__name__)
CHECKPOINT = "encoder_checkpoint.safetensors"
SAMPLES = "encoder_samples.png"
STATS = "encoder_stats.jsonl"
METRICS = "metrics.json"


def run_encoder_training(
    trainer: EncoderTrainer,
    out_dir: str | Path,
    *,
    total_kimg: float,
    heldout: torch.Tensor | None = None,
    n_eval_generated: int = 256,
    snapshot_kimg: float = 5.0,
    checkpoint_seconds: float = 300.0,
    max_seconds: float | None = None,
    progress: bool = True,
) -> dict:
    """Train until ``total_kimg`` (or ``max_seconds``), then evaluate the reconstructions.

    Writes ``out_dir/encoder_checkpoint.safetensors`` every ``checkpoint_seconds`` and at the end; one JSON
    line of mean losses per snapshot in ``encoder_stats.jsonl`` and the grid ``encoder_samples.png`` (top row
    inputs, bottom row reconstructions); at the end ``metrics.json`` with SSIM/PSNR on ``heldout`` real
    images (``uint8 [N, C, R, R]``, not used for training) and on ``n_eval_generated`` generator samples.

    Returns:
        The metrics (also in ``metrics.json``).
    """
    if total_kimg <= 0:
        raise ValueError(f"total_kimg must be positive, got {total_kimg}")
    if snapshot_kimg <= 0:
        raise ValueError(f"snapshot_kimg must be positive, got {snapshot_kimg}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "encoder_options.json").write_text(json.dumps(trainer.config.to_dict(), indent=2))
    start = last_ckpt = time.monotonic()
    next_snapshot = (int(trainer.kimg / snapshot_kimg) + 1) * snapshot_kimg
    bar = tqdm(
        total=total_kimg,
        initial=trainer.kimg,
        unit="kimg",
        disable=not progress,
        bar_format="{l_bar}{bar}| {n:.1f}/{total:.0f} kimg [{elapsed}<{remaining}]{postfix}",
    )
    window: list[dict] = []
    ckpt = out / CHECKPOINT
    while trainer.kimg < total_kimg:
        stats = trainer.train_step()
        window.append(stats)
        bar.update(trainer.config.batch / 1000)
        bar.set_postfix(loss=f"{stats['loss']:.3f}", refresh=False)
        now = time.monotonic()
        if trainer.kimg >= next_snapshot:
            _snapshot(trainer, out, window, now - start, heldout)
            window, next_snapshot = [], next_snapshot + snapshot_kimg
        if now - last_ckpt >= checkpoint_seconds:
            trainer.save_checkpoint(ckpt)
            last_ckpt = now
        if max_seconds is not None and now - start >= max_seconds:
            break
    bar.close()
    trainer.save_checkpoint(ckpt)
    if window:
        _snapshot(trainer, out, window, time.monotonic() - start, heldout)
    metrics = evaluate_reconstruction(
        trainer.encoder, trainer.G, heldout, n_generated=n_eval_generated, seed=trainer.config.seed
    )
    metrics.update(kimg=round(trainer.kimg, 3), step=trainer.step)
    (out / METRICS).write_text(json.dumps(metrics, indent=2))
    return metrics


def _snapshot(
    trainer: EncoderTrainer, out: Path, window: list[dict], seconds: float, heldout: torch.Tensor | None
) -> None:
    keys = sorted({k for w in window for k in w})
    record = {
        "kimg": round(trainer.kimg, 3),
        "step": trainer.step,
        "seconds": round(seconds, 1),
        **{k: float(np.mean([w[k] for w in window if k in w])) for k in keys},
    }
    with open(out / STATS, "a") as fh:
        fh.write(json.dumps(record) + "\n")
    seed = trainer.config.seed
    save_reconstruction_grid(trainer.encoder, trainer.G, out / SAMPLES, reals=heldout, seed=seed)
    LOGGER.info("snapshot %s", record)


def _to_float(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    return images.to(device, torch.float32) / 127.5 - 1.0


@torch.no_grad()
def _generated(G: Generator, n: int, seed: int, device: torch.device) -> torch.Tensor:
    """Fixed evaluation samples (W, constant noise), the same for every call with this seed."""
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(derive_seed(seed, "eval"))).to(device)
    return G.synthesis(G.broadcast(G.mapping(z)), noise_mode="const").clamp(-1, 1)


@torch.no_grad()
def evaluate_reconstruction(
    encoder: Encoder,
    G: Generator,
    reals: torch.Tensor | None,
    *,
    n_generated: int = 256,
    seed: int = 0,
    batch: int = 64,
) -> dict:
    """Mean (and standard deviation) SSIM and PSNR of ``G(E(x))`` against ``x``.

    Args:
        encoder, G: the networks (left in the mode they are in).
        reals: held-out real images ``uint8 [N, C, R, R]``, or ``None`` to skip.
        n_generated: generator samples to reconstruct (0 to skip).
        seed: which generator samples.
        batch: images per forward pass.

    Returns:
        ``{"real": {...}, "generated": {...}}`` with ``ssim``, ``ssim_std``, ``psnr``, ``psnr_std``, ``n``.
    """
    device = next(encoder.parameters()).device
    sets: dict[str, torch.Tensor] = {}
    if reals is not None and len(reals):
        sets["real"] = reals
    if n_generated > 0:
        sets["generated"] = _generated(G, n_generated, seed, device)
    result = {}
    for name, images in sets.items():
        s, p = [], []
        for i in range(0, len(images), batch):
            chunk = images[i : i + batch]
            x = _to_float(chunk, device) if chunk.dtype == torch.uint8 else chunk.to(device)
            x_hat = G.synthesis(encoder(x), noise_mode="const").clamp(-1, 1)
            s.append(ssim(x_hat, x).cpu())
            p.append(psnr(x_hat, x).cpu())
        s_all, p_all = torch.cat(s), torch.cat(p)
        result[name] = {
            "ssim": float(s_all.mean()),
            "ssim_std": float(s_all.std(unbiased=False)),
            "psnr": float(p_all.mean()),
            "psnr_std": float(p_all.std(unbiased=False)),
            "n": len(s_all),
        }
    return result


@torch.no_grad()
def save_reconstruction_grid(
    encoder: Encoder,
    G: Generator,
    path: str | Path,
    *,
    reals: torch.Tensor | None = None,
    n: int = 8,
    seed: int = 0,
) -> Path:
    """PNG grid: top row inputs (real images first, then generator samples), bottom row ``G(E(x))``."""
    from PIL import Image

    device = next(encoder.parameters()).device
    n_real = min(n // 2, len(reals)) if reals is not None else 0
    parts = [_to_float(reals[:n_real], device)] if n_real else []
    parts.append(_generated(G, n - n_real, seed, device))
    x = torch.cat(parts)  # [n, C, R, R]
    x_hat = G.synthesis(encoder(x), noise_mode="const").clamp(-1, 1)
    grid = torch.stack([x, x_hat])[:, :, 0]  # [2, n, R, R] (first channel)
    r = grid.shape[-1]
    grid = grid.permute(0, 2, 1, 3).reshape(2 * r, n * r)
    pixels = grid.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    Image.fromarray(pixels).save(path)
    return Path(path)
