"""``ldedit train-encoder``: train the image -> W+ encoder against a trained, frozen GAN.

    ldedit train-encoder --gan runs/gan/checkpoint.safetensors --out runs/encoder --kimg 50

Uses the checkpoint's EMA generator and its discriminator (for the feature distance). A tenth of the real
images (at most 256) is held out for the final SSIM/PSNR in ``OUT/metrics.json``. ``--resume`` continues
from ``OUT/encoder_checkpoint.safetensors`` exactly where it stopped (the GAN is read from it, not --gan).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

LOGGER = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train-encoder", help="train the image -> W+ encoder for GAN inversion")
    p.add_argument("--gan", type=Path, required=True, help="train-gan's checkpoint.safetensors")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoint, samples, stats, metrics)")
    p.add_argument("--data", default="phantoms", help="'phantoms' (generated) or a data set folder/CSV")
    p.add_argument("--n", type=int, default=4000, help="number of real images when --data phantoms")
    p.add_argument("--data-seed", type=int, default=2, help="phantom population seed (the GAN's is 1)")
    p.add_argument("--kimg", type=float, default=50.0, help="train until this many thousand images")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2.5e-3)
    p.add_argument("--real-fraction", type=float, default=0.5, help="share of real images per batch")
    p.add_argument("--no-features", action="store_true", help="do not use the discriminator feature loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/encoder_checkpoint.safetensors")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--snapshot-kimg", type=float, default=5.0)
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from ldedit_core.errors import InputError
    from ldedit_core.models.device import resolve_device
    from ldedit_core.models.encoder import EncoderConfig
    from ldedit_core.training.data_cache import training_images
    from ldedit_core.training.encoder_loop import CHECKPOINT, METRICS, SAMPLES, run_encoder_training
    from ldedit_core.training.encoder_trainer import EncoderTrainer, EncoderTrainingConfig, load_gan

    if args.n < 2:
        raise InputError(f"--n must be at least 2 (training and held-out images), got {args.n}")
    if args.kimg <= 0:
        raise InputError(f"--kimg must be positive, got {args.kimg}")
    device = resolve_device(args.device)
    ckpt = args.out / CHECKPOINT
    if ckpt.is_file() and not args.resume:
        raise InputError("an encoder checkpoint exists; pass --resume to continue it or choose --out", ckpt)
    G, D, gan_meta = load_gan(args.gan, device=device)
    images = training_images(args.data, G.img_resolution, n=args.n, seed=args.data_seed, cache_dir=args.out)
    n_held = max(1, min(256, len(images) // 10))
    train, heldout = images[:-n_held], images[-n_held:]
    if args.resume and ckpt.is_file():
        trainer = EncoderTrainer.from_checkpoint(ckpt, images=train, device=device)
        LOGGER.warning("resuming from %s at %.1f kimg", ckpt, trainer.kimg)
    else:
        try:
            cfg = EncoderTrainingConfig(
                encoder=EncoderConfig.for_generator(G.config),
                batch=args.batch,
                lr=args.lr,
                real_fraction=args.real_fraction,
                seed=args.seed,
            )
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        trainer = EncoderTrainer(
            cfg, G, images=train, discriminator=None if args.no_features else D, device=device
        )
    print(
        f"training the encoder on {device}: {len(train)} real images at {G.img_resolution} px "
        f"({len(heldout)} held out), GAN at {gan_meta.get('kimg', '?')} kimg, "
        f"{sum(p.numel() for p in trainer.encoder.parameters()) / 1e6:.2f} M encoder parameters"
    )
    metrics = run_encoder_training(
        trainer,
        args.out,
        total_kimg=args.kimg,
        heldout=heldout,
        snapshot_kimg=args.snapshot_kimg,
        checkpoint_seconds=args.checkpoint_minutes * 60,
        max_seconds=args.max_minutes * 60 if args.max_minutes else None,
        progress=not args.no_progress,
    )
    print(json.dumps(metrics, indent=2))
    print(f"checkpoint: {ckpt}\nsamples: {args.out / SAMPLES}\nmetrics: {args.out / METRICS}")
    return 0
