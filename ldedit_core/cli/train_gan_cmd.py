"""``ldedit train-gan``: train a StyleGAN2 on radiographs, on one device or many (``torchrun``).

    ldedit train-gan --out runs/gan --data phantoms --preset cpu64 --kimg 300
    torchrun --nproc_per_node 4 -m ldedit_core.cli.main train-gan --out runs/gan --preset gpu128 ...

``--resume`` continues from ``OUT/checkpoint.safetensors`` exactly where it stopped; augmentation and
``--linear-*`` flags given with ``--resume`` change the run from then on (recorded in the checkpoint).

``--linear-guide GUIDE --linear-weight 1`` adds the disease-linearity penalty
(:mod:`ldedit_core.training.linearity`): it keeps each disease linear in W, which Link-PCA needs.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

LOGGER = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train-gan", help="train the StyleGAN2 generator (CPU, GPU, torchrun)")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoint, samples, stats)")
    p.add_argument("--data", default="phantoms", help="'phantoms' (generated) or a data set folder/CSV")
    # not "--n": torchrun's own parser would take it for an abbreviation of its options
    p.add_argument("--num-images", type=int, default=10000, help="number of phantoms when --data phantoms")
    p.add_argument("--data-seed", type=int, default=1, help="phantom population seed")
    p.add_argument("--preset", default="cpu64", help="architecture: cpu64, gpu128, tiny16")
    p.add_argument("--kimg", type=float, default=300.0, help="train until this many thousand images")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--micro-batch", type=int, default=0, help="gradient accumulation chunk (0: off)")
    p.add_argument("--r1-gamma", type=float, default=None, help="R1 weight (default 2e-4 * res^2 / batch)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--augment-p", type=float, default=None, help="augmentation probability to start from (default 0)"
    )
    p.add_argument(
        "--ada-target",
        type=float,
        default=None,
        help="adapt the probability so that E[sign(D(real))] stays here (ADA; default 0.6; 0: fixed p)",
    )
    p.add_argument(
        "--ada-kimg", type=float, default=None, help="kimg for the probability to move by 1 (default 100)"
    )
    p.add_argument(
        "--linear-guide",
        default=None,
        help="guide classifier (train-classifier run folder or classifier.safetensors) for --linear-weight",
    )
    p.add_argument(
        "--linear-weight",
        type=float,
        default=None,
        help="weight of the penalty keeping each disease's guide logit linear in W (default 0: off)",
    )
    p.add_argument(
        "--linear-interval", type=int, default=None, help="apply the linearity penalty every N steps (4)"
    )
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--snapshot-kimg", type=float, default=10.0)
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ldedit_core.training.data_cache import training_images
    from ldedit_core.training.distributed import init_from_env
    from ldedit_core.training.gan_loop import CHECKPOINT, run_training
    from ldedit_core.training.gan_trainer import GanTrainer, GanTrainingConfig
    from ldedit_core.training.presets import preset_configs

    info, device = init_from_env(args.device)
    g_cfg, d_cfg = preset_configs(args.preset)
    images = training_images(
        args.data,
        g_cfg.resolution,
        n=args.num_images,
        seed=args.data_seed,
        cache_dir=args.out,
        rank=info.rank,
    )
    ckpt = args.out / CHECKPOINT
    overrides = {
        key: value
        for key, value in (
            ("augment_p", args.augment_p),
            ("ada_target", args.ada_target),
            ("ada_kimg", args.ada_kimg),
            ("linear_guide", str(args.linear_guide) if args.linear_guide else None),
            ("linear_weight", args.linear_weight),
            ("linear_interval", args.linear_interval),
        )
        if value is not None
    }
    if args.resume and ckpt.is_file():
        trainer = GanTrainer.from_checkpoint(ckpt, images, device=device, dist_info=info, overrides=overrides)
        LOGGER.warning("resuming from %s at %.1f kimg", ckpt, trainer.kimg)
        if overrides:
            LOGGER.warning("from now on: %s (augmentation probability %.3f)", overrides, trainer.augment_p)
    else:
        if ckpt.is_file():
            raise SystemExit(f"ldedit train-gan: {ckpt} exists; pass --resume to continue it or choose --out")
        gamma = args.r1_gamma if args.r1_gamma is not None else 2e-4 * g_cfg.resolution**2 / args.batch
        cfg = GanTrainingConfig(
            generator=g_cfg,
            discriminator=d_cfg,
            batch=args.batch,
            micro_batch=args.micro_batch,
            r1_gamma=gamma,
            seed=args.seed,
            **overrides,
        )
        trainer = GanTrainer(cfg, images, device=device, dist_info=info)
    if info.is_main:
        print(
            f"training on {device} x{info.world_size}: {len(images)} images at {g_cfg.resolution} px, "
            f"{sum(p.numel() for p in trainer.G.parameters()) / 1e6:.2f} M generator parameters"
        )
    max_seconds = args.max_minutes * 60 if args.max_minutes else None
    path = run_training(
        trainer,
        args.out,
        total_kimg=args.kimg,
        snapshot_kimg=args.snapshot_kimg,
        checkpoint_seconds=args.checkpoint_minutes * 60,
        max_seconds=max_seconds,
    )
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if info.is_main:
        print(f"checkpoint: {path} ({trainer.kimg:.1f} kimg)\nsamples: {args.out / 'samples_latest.png'}")
    return 0
