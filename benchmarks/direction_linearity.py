"""How linearly each disease is encoded in a bundle's W space: the assumption Link-PCA rests on.

    python benchmarks/direction_linearity.py [--bundle default ...] [--label NAME ...] [--n 6000]
        [--json out.json]

Link-PCA (method.md section 3) reads a disease from the linear moments of a population of W codes scored
by the guide. That works only where the guide's call is (close to) a linear function of w. For every
bundle given, ``n`` generator samples are scored by the guide (called diseased at p > 0.5) and two
classifiers are cross-validated (3-fold AUROC) on w: a logistic regression (linear) and a one-hidden-layer
MLP (not). A disease the MLP finds but the linear model does not is present in W, just not along one
direction: Link-PCA will combine noise for it (docs/default-bundle.md, "History").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine


def linearity(bundle: str, n: int, seed: int) -> dict[str, dict[str, float]]:
    """Per disease: guide-call rate and cross-validated AUROC of a linear and an MLP probe on w."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.neural_network import MLPClassifier

    from ldedit_core import load_bundle
    from ldedit_core.editing.population import scored_samples

    b = load_bundle(bundle, device="cpu")
    w, probs = scored_samples(b.generator, b.guide, n=n, seed=seed)
    w, calls = w.numpy(), probs.numpy() > 0.5
    out = {}
    for i, disease in enumerate(b.meta["diseases"]):
        y = calls[:, i]
        if y.sum() < 3 or (~y).sum() < 3:  # 3-fold CV needs both classes in every fold
            out[disease] = {"rate": float(y.mean()), "linear_auroc": float("nan"), "mlp_auroc": float("nan")}
            continue
        linear = LogisticRegression(max_iter=2000)
        mlp = MLPClassifier((256,), max_iter=300, random_state=0)
        out[disease] = {
            "rate": float(y.mean()),
            "linear_auroc": float(cross_val_score(linear, w, y, cv=3, scoring="roc_auc").mean()),
            "mlp_auroc": float(cross_val_score(mlp, w, y, cv=3, scoring="roc_auc").mean()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", nargs="+", default=["default"], help="bundle names or folders")
    parser.add_argument("--label", nargs="+", help="a name per bundle for the report (default: as given)")
    parser.add_argument("--n", type=int, default=6000, help="generator samples per bundle")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    labels = args.label or args.bundle
    if len(labels) != len(args.bundle):
        parser.error(f"{len(args.bundle)} bundles but {len(labels)} labels")
    start = time.perf_counter()
    results = {label: linearity(b, args.n, args.seed) for label, b in zip(labels, args.bundle, strict=True)}
    print("| bundle | disease | guide rate | linear AUROC | MLP AUROC |\n|---|---|---|---|---|")
    for bundle, rows in results.items():
        for disease, r in rows.items():
            figures = f"{r['rate']:.3f} | {r['linear_auroc']:.3f} | {r['mlp_auroc']:.3f}"
            print(f"| {bundle} | {disease} | {figures} |")
    report = {"n": args.n, "seed": args.seed, "results": results, "machine": machine()}
    report["seconds"] = round(time.perf_counter() - start, 1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
