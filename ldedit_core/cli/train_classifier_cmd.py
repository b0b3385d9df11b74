"""``ldedit train-classifier``: train the guide or the independent evaluator disease classifier.

    ldedit train-classifier --out runs/guide --data phantoms --n 6000 --arch densenet-small
    ldedit train-classifier --out runs/eval --data phantoms --role evaluator --arch resnet10 --split-seed 1
    ldedit train-classifier --out runs/cxp --data CheXpert-v1.0-small --resolution 128 --arch densenet121

With ``--data phantoms`` the evaluator is trained on its own population (population seed + 1000), so it never
sees the guide's images. Writes ``OUT/classifier.safetensors`` (weights, config and metrics in the metadata)
and ``OUT/metrics.json``; ``--resume`` continues ``OUT/checkpoint.safetensors`` exactly.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from ldedit_core.errors import InputError

LOGGER = logging.getLogger(__name__)
EVALUATOR_SEED_OFFSET = 1000
DEFAULT_ARCH = {"guide": "densenet-small", "evaluator": "resnet10"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train-classifier`` on the main CLI's subparsers."""
    p = subparsers.add_parser("train-classifier", help="train a disease classifier (guide or evaluator)")
    p.add_argument("--out", type=Path, required=True, help="run folder (weights, metrics.json, checkpoint)")
    p.add_argument("--data", default="phantoms", help="'phantoms' or a data set folder / CSV file")
    p.add_argument(
        "--format", default=None, help="data set format: chexpert, nih, mimic, generic (default: detect)"
    )
    p.add_argument("--uncertainty", default="zeros", help="uncertain (-1) labels: zeros, ones or ignore")
    p.add_argument("--limit", type=int, default=None, help="use only the first LIMIT images of the data set")
    p.add_argument("--n", type=int, default=6000, help="number of phantoms when --data phantoms")
    p.add_argument("--data-seed", type=int, default=1, help="phantom population seed (evaluator: +1000)")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument(
        "--arch",
        default=None,
        help="densenet-small (guide default), densenet121, resnet10 (evaluator default), resnet18",
    )
    p.add_argument("--role", choices=("guide", "evaluator"), default="guide")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0, help="initialisation, order and augmentation seed")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train / held-out split")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--no-augment", action="store_true", help="train without augmentation")
    p.add_argument("--workers", type=int, default=0, help="DataLoader processes for augmentation")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _load_data(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels, cached in the run folder so that a resumed run trains on the same data."""
    from ldedit_core.training.data_cache import training_data

    seed = args.data_seed + (EVALUATOR_SEED_OFFSET if args.role == "evaluator" else 0)
    return training_data(
        args.data,
        args.resolution,
        n=args.n,
        seed=seed,
        cache_dir=args.out,
        fmt=args.format,
        uncertainty=args.uncertainty,
        limit=args.limit,
        progress=not args.quiet,
    )


def _table(metrics: dict) -> str:
    lines = [f"{'disease':<14}{'AUROC':>8}"]
    for name, value in metrics["auroc"].items():
        lines.append(f"{name:<14}{'n/a' if value is None else f'{value:.3f}':>8}")
    mean = metrics["auroc_mean"]
    lines.append(f"{'mean':<14}{'n/a' if mean is None else f'{mean:.3f}':>8}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say; print the held-out AUROC table; return the exit status (0)."""
    from ldedit_core.models.classifier import ClassifierConfig
    from ldedit_core.models.device import resolve_device
    from ldedit_core.training.classifier_trainer import (
        CHECKPOINT,
        METRICS,
        WEIGHTS,
        ClassifierTrainingConfig,
        train_classifier,
    )

    if args.n < 2:
        raise InputError(f"--n: expected at least 2 phantoms, got {args.n}")
    device = resolve_device(args.device)
    ckpt = args.out / CHECKPOINT
    if ckpt.is_file() and not args.resume:
        raise InputError(
            "a checkpoint exists here; pass --resume to continue it or choose another --out", ckpt
        )
    try:
        config = ClassifierTrainingConfig(
            classifier=ClassifierConfig(
                arch=args.arch or DEFAULT_ARCH[args.role], resolution=args.resolution
            ),
            epochs=args.epochs,
            batch=args.batch,
            lr=args.lr,
            val_fraction=args.val_fraction,
            split_seed=args.split_seed,
            seed=args.seed,
            augment=not args.no_augment,
            role=args.role,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    images, labels = _load_data(args)
    print(
        f"training a {config.classifier.arch} {args.role} on {device}: {len(images)} images at "
        f"{args.resolution} px, {args.epochs} epochs"
    )
    _, metrics = train_classifier(
        config,
        images,
        labels,
        out_dir=args.out,
        device=device,
        resume=args.resume,
        progress=not args.quiet,
        checkpoint_seconds=args.checkpoint_minutes * 60,
        workers=args.workers,
    )
    print(f"held-out AUROC ({metrics['n_val']} images, {metrics['n_train']} trained on):\n{_table(metrics)}")
    print(f"weights: {args.out / WEIGHTS}\nmetrics: {args.out / METRICS}")
    return 0
