"""Measure a bundle's generator with its independent evaluator on held-out phantoms.

    python benchmarks/default_bundle_quality.py [--bundle default] [--n 1000] [--json out.json]
        [--grid docs/figures/default_bundle_samples.png] [--evaluator runs/evaluator/classifier.safetensors]

``--evaluator`` measures the bundle's generator with another evaluator (a ``train-classifier`` weights file
or run folder) instead of the bundle's own, e.g. to compare generators on one yardstick before a rebuild.

Held-out phantoms come from population seed 9001, which no training run uses (GAN: 1; classifiers: their
own seeds). Targets (issue 3): evaluator AUROC >= 0.95 per disease; C2ST accuracy <= 0.75; generated
disease rates within 10 points of the real ones; FID reported next to the real-vs-real FID.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine

HELDOUT_SEED = 9001


def main(argv: list[str] | None = None) -> int:
    from ldedit_core import load_bundle
    from ldedit_core.training.classifier_trainer import load_classifier
    from ldedit_core.training.gan_loop import save_sample_grid
    from ldedit_core.training.phantom_data import phantom_tensors
    from ldedit_core.training.quality import generator_quality

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="default")
    parser.add_argument("--n", type=int, default=1000, help="held-out real phantoms (and generated samples)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--grid", type=Path, help="write a sample grid PNG here")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--evaluator", type=Path, help="measure with this evaluator instead of the bundle's")
    args = parser.parse_args(argv)

    start = time.monotonic()
    bundle = load_bundle(args.bundle, device=args.device)
    evaluator = bundle.evaluator
    if args.evaluator is not None:
        weights = args.evaluator / "classifier.safetensors" if args.evaluator.is_dir() else args.evaluator
        evaluator = load_classifier(weights, device=args.device)[0]
    if evaluator is None:
        raise SystemExit(f"{bundle.path}: the bundle has no evaluator; nothing to measure with")
    images, labels, _ = phantom_tensors(args.n, seed=HELDOUT_SEED, resolution=bundle.resolution)
    order = [["cardiomegaly", "effusion", "edema", "nodule"].index(d) for d in evaluator.config.diseases]
    q = generator_quality(bundle.generator, evaluator, images, labels[:, order], device=args.device)
    q.update({"bundle": args.bundle, "machine": machine(), "seconds": round(time.monotonic() - start, 1)})
    if args.evaluator is not None:
        q["evaluator"] = str(args.evaluator)

    print(f"bundle {bundle.path}  ({q['n_real']} held-out real phantoms, {q['n_generated']} generated)\n")
    print(
        "| disease | evaluator AUROC (>= 0.95) | rate real | rate generated | gap (<= 0.10) "
        "| evaluator's rate on real |"
    )
    print("|---|---|---|---|---|---|")
    for d in q["diseases"]:
        real, fake = q["disease_rate_real"][d], q["disease_rate_generated"][d]
        called = q["disease_rate_real_by_evaluator"][d]
        print(
            f"| {d} | {q['evaluator_auroc'][d]:.3f} | {real:.3f} | {fake:.3f} | {abs(real - fake):.3f} "
            f"| {called:.3f} |"
        )
    print(f"\nC2ST accuracy (<= 0.75): {q['c2st_accuracy']:.3f}")
    print(
        f"FID on evaluator features: real vs generated {q['fid_real_vs_generated']:.2f}, "
        f"real vs real {q['fid_real_vs_real']:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps(q, indent=2))
    if args.grid:
        save_sample_grid(bundle.generator, args.grid, rows=4, cols=8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
