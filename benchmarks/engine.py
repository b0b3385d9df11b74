"""Benchmark the engine on the shipped default bundle, each figure against the naive way in the same run.

    python benchmarks/engine.py [--images 8] [--threads 2] [--json docs/figures/engine.json]

1. Link-LR: forward-mode latent Jacobian vs one backward pass per pixel (``engine_link_lr.py``, which
   also runs on its own with more options).
2. Inversion vs a projector-style baseline (``w_avg`` start, W only, pixel L2, up to 1000 steps): generator
   evaluations (images x forward passes) until each held-out phantom reaches the SSIM our inversion reached.
3. End to end: ``ldedit edit`` with 10 follow-ups on a 512 px DICOM phantom, in a fresh process (bundle
   loading, DICOM in, DICOM out included), with ``--threads`` CPU threads, and the stage timings.
On a GPU (when there is one) the same, with peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_devices, machine, save_json
from engine_link_lr import bench_link_lr

ROOT = Path(__file__).resolve().parents[1]


def _phantom_batch(n: int, resolution: int, seed: int = 9001) -> torch.Tensor:
    from ldedit_core.models.preprocess import GeneratorGrid
    from ldedit_core.phantoms import sample_population

    images = [p.image for p in sample_population(n, seed=seed, size=256)]
    grid = GeneratorGrid((256, 256), resolution)
    return torch.cat([grid.to_generator(img) for img in images])


BUDGETS = ((5, 10), (15, 25), (40, 60), (100, 150))
"""Our inversion's (W steps, W+ steps) budgets; the last is the pipeline's default."""


def bench_inversion(device: torch.device, n: int) -> list[dict]:
    """Per budget: our evaluations and worst SSIM, and the projector's evaluations to reach that SSIM."""
    from ldedit_core.inversion import invert_with_bundle, project_baseline
    from ldedit_core.models.bundle import load_bundle

    bundle = load_bundle("default", device=device)
    x = _phantom_batch(n, bundle.meta["resolution"]).to(device)
    rows = []
    for w_steps, wplus_steps in BUDGETS:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        ours = invert_with_bundle(bundle, x, w_steps=w_steps, wplus_steps=wplus_steps)
        t_ours = time.perf_counter() - t0
        target = float(ours.ssim.min())  # every image must reach what our worst one reached
        t0 = time.perf_counter()
        base = project_baseline(bundle.generator, x, steps=1000, target_ssim=target)
        t_base = time.perf_counter() - t0
        rows.append(
            {
                "images": n,
                "budget": [w_steps, wplus_steps],
                "ours": {
                    "generator_evals": ours.generator_evals,
                    "seconds": t_ours,
                    "ssim_min": target,
                    "ssim_mean": float(ours.ssim.mean()),
                    "psnr_mean": float(ours.psnr.mean()),
                },
                "projector": {
                    "generator_evals": base.generator_evals,
                    "seconds": t_base,
                    "ssim_mean": float(base.ssim.mean()),
                    "reached_target": bool((base.ssim >= target - 1e-6).all()),
                },
                "evals_ratio": base.generator_evals / max(ours.generator_evals, 1),
                "peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20
                if device.type == "cuda"
                else None,
            }
        )
    return rows


def bench_edit(device: torch.device, threads: int) -> dict:
    from ldedit_core.cli.demo_cmd import demo_inputs

    with tempfile.TemporaryDirectory() as tmp:
        src, roi = demo_inputs(Path(tmp), seed=7, size=512, disease="cardiomegaly")
        out = Path(tmp) / "out"
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        cmd = [sys.executable, "-m", "ldedit_core.cli.main", "edit", "--input", str(src), "--mask", str(roi),
               "--disease", "cardiomegaly", "--followups", "10", "--out", str(out), "--device", str(device),
               "--json-progress"]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"ldedit edit failed:\n{proc.stderr[-2000:]}")
        summary = json.loads((out / "summary.json").read_text())
    return {
        "seconds": seconds,
        "stages": summary["timings_s"],
        "evaluator_probs": summary["evaluator_probs"],
        "threads": threads,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=8, help="held-out phantoms for the inversion benchmark")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (the issue's budget: 2 cores)")
    parser.add_argument("--pixels", type=int, default=512, help="Link-LR reverse mode: pixels timed")
    parser.add_argument("--skip-edit", action="store_true", help="skip the end-to-end run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = {"machine": machine(), "torch": torch.__version__, "threads": args.threads, "devices": {}}
    for device, name in bench_devices(args.threads):
        r = {"link_lr": bench_link_lr(device, args.pixels, 32, 2)}
        print(f"{name}: link-lr done", file=sys.stderr, flush=True)
        r["inversion"] = bench_inversion(device, args.images)
        print(f"{name}: inversion done", file=sys.stderr, flush=True)
        if not args.skip_edit:
            r["edit"] = bench_edit(device, args.threads)
        results["devices"][name] = r

    print(f"Machine: {results['machine']}, torch {results['torch']}, {args.threads} CPU threads\n")
    print("| device | measure | LDEdit | naive / reference | ratio | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in results["devices"].items():
        s = r["link_lr"]["seconds"]
        print(
            f"| {name} | Link-LR Jacobian 64x64, s | {s['forward']:.2f} | {s['reverse_per_pixel']:.1f} "
            f"(one backward per pixel) | {s['reverse_per_pixel'] / s['forward']:.0f}x | >= 20x |"
        )
        for inv in r["inversion"]:
            reached = inv["projector"]["reached_target"]
            bound = "" if reached else ">= "  # the projector never got there: the ratio is a lower bound
            note = "" if reached else ", not reached in 1000 steps"
            print(f"| {name} | inversion {inv['budget'][0]}+{inv['budget'][1]} steps: generator evaluations "
                  f"to SSIM {inv['ours']['ssim_min']:.3f} (worst of {inv['images']} phantoms) | "
                  f"{inv['ours']['generator_evals']} ({inv['ours']['seconds']:.1f} s) | "
                  f"{inv['projector']['generator_evals']}{note} ({inv['projector']['seconds']:.1f} s) | "
                  f"{bound}{inv['evals_ratio']:.1f}x | >= 5x |")  # fmt: skip
        if "edit" in r:
            e = r["edit"]
            stages = ", ".join(f"{k} {v:.1f}" for k, v in e["stages"].items())
            print(f"| {name} | `ldedit edit`, 10 follow-ups, 512 px DICOM, s | {e['seconds']:.1f} | "
                  f"stages: {stages} | - | <= 60 s |")  # fmt: skip
    if args.json:
        save_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
