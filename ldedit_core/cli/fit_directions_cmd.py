"""``ldedit fit-directions``: compute the per-disease latent statistics Link-PCA needs, into a bundle.

    ldedit fit-directions --bundle my-bundle --data samples --n 20000 --in-place
    ldedit fit-directions --bundle default --data /data/CheXpert-v1.0-small --out my-bundle

``--data samples`` (default): generator samples scored by the bundle's guide (no data needed).
``--data phantoms`` or a data set (CheXpert, NIH, MIMIC, generic CSV): labelled images encoded into W by
the bundle's encoder. The result is written as the bundle's ``latent_stats`` extras; the networks are copied
unchanged. Without ``--in-place`` a new bundle is written to ``--out``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fit-directions", help="compute Link-PCA's disease statistics for a bundle")
    p.add_argument("--bundle", required=True, help="bundle folder or name")
    p.add_argument("--data", default="samples", help="'samples', 'phantoms', or a data set folder/CSV")
    p.add_argument("--n", type=int, default=20000, help="samples or phantoms to use (data sets: all)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (phantoms: population seed 3)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="write a new bundle here")
    where.add_argument("--in-place", action="store_true", help="update the bundle itself")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ldedit_core.cli.progress_display import Progress
    from ldedit_core.editing.latent_stats import EXTRAS_NAME
    from ldedit_core.editing.population import encoded_population, sampled_population
    from ldedit_core.errors import InputError
    from ldedit_core.models.bundle import load_bundle
    from ldedit_core.models.bundle_locate import resolve_bundle
    from ldedit_core.models.bundle_update import update_bundle
    from ldedit_core.models.device import resolve_device
    from ldedit_core.phantoms import DISEASES

    if args.n < 2:
        raise InputError(f"--n must be at least 2, got {args.n}")
    device = resolve_device(args.device)
    source = resolve_bundle(args.bundle)
    bundle = load_bundle(source, device=device)
    diseases = list(bundle.meta["diseases"])
    progress = Progress(json_lines=False)
    if args.data == "samples":
        if bundle.guide is None:
            raise InputError("--data samples needs a bundle with a guide classifier", source)
        stats = sampled_population(
            bundle.generator, bundle.guide, diseases, n=args.n, seed=args.seed, progress=progress
        )
        described = f"{args.n} generator samples (seed {args.seed}) scored by the guide"
    else:
        if bundle.encoder is None:
            raise InputError(f"--data {args.data} needs a bundle with an encoder", source)
        from ldedit_core.training.data_cache import training_data

        with tempfile.TemporaryDirectory() as cache:
            images, labels = training_data(
                args.data, bundle.meta["resolution"], n=args.n, seed=3 + args.seed, cache_dir=Path(cache)
            )
        columns = [DISEASES.index(d) for d in diseases]
        labels = torch.nan_to_num(labels[:, columns], nan=0.0)
        stats = encoded_population(
            bundle.encoder, images.float() / 127.5 - 1.0, labels, diseases, progress=progress
        )
        described = f"{len(images)} labelled images from {args.data}, encoded"
    progress.close()
    r2 = {d: float(r) for d, r in zip(diseases, stats.linear_r2(), strict=True)}
    out = source if args.in_place else args.out
    update_bundle(
        source,
        out,
        extras={EXTRAS_NAME: stats.to_tensors()},
        directions={
            "diseases": diseases,
            "source": described,
            "n": stats.n,
            "linear_r2": {d: None if math.isnan(r) else round(r, 4) for d, r in r2.items()},
        },
        overwrite=args.in_place,
    )
    print(f"directions for {', '.join(diseases)} from {described}\nbundle: {out}")
    print(_linearity(r2, stats.n, stats.w_dim))
    return 0


def _linearity(r2: dict[str, float], n: int, w_dim: int) -> str:
    """How much of each disease is linear in W (what Link-PCA can use), with a warning where it is little."""
    from ldedit_core.editing.latent_stats import WEAK_LINEAR_R2

    if all(math.isnan(r) for r in r2.values()):
        return f"linear fit of each disease on W: not measured ({n} latents for {w_dim} dimensions)"
    lines = ["disease: share of its score linear in W (adjusted R^2; Link-PCA reads only this share)"]
    for disease, r in r2.items():
        weak = r < WEAK_LINEAR_R2
        note = " -- WARNING: too little for Link-PCA; edits may not reach their target" if weak else ""
        lines.append(f"  {disease}: {r:.2f}{note}")
    return "\n".join(lines)
