"""Benchmark the editing engine on the default bundle's generator.

    python benchmarks/engine_link_lr.py [--pixels 512] [--rounds 3] [--threads 1] [--json out.json]

Link-LR: the generator's latent Jacobian ``J [C*R*R, D]`` at a sample ``w``, built

- in forward mode (``latent_jacobian``: ``D`` JVPs under ``vmap``, ``--chunk`` at a time), against
- the naive reverse mode (``jacobian_reverse_per_pixel``: one backward pass per output pixel, as
  LowRankGAN's code does), and
- reverse mode batched (``vmap`` over ``vjp``, ``--chunk`` pixels per backward pass), to show that forward
  mode wins because ``D`` is much smaller than ``C*R*R``, not only because it batches;

and ``link_lr`` end to end (Jacobian, Gram matrices, generalized eigenproblem; k=10, a 16x16 ROI). The
reverse-mode figures are timed on ``--pixels`` evenly spaced output pixels and extrapolated linearly to
all ``C*R*R`` (``--pixels 0`` times every pixel); the table says which. Timings alternate between the
measures, best of ``--rounds``, so load from other processes hits them alike.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch.func import vjp, vmap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_devices, best_time, machine


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reverse_batched(G, w: torch.Tensor, rows: torch.Tensor, chunk: int) -> torch.Tensor:
    """Rows of J by reverse mode, ``chunk`` one-hot cotangents per batched backward pass (vmap over vjp)."""
    from ldedit_core.editing import shift_ws

    def f(v: torch.Tensor) -> torch.Tensor:
        return G.synthesis(shift_ws(G, w, v), noise_mode="const").reshape(-1)

    with torch.no_grad():
        out, pullback = vjp(f, torch.zeros(G.w_dim, device=w.device))
        batched = vmap(lambda u: pullback(u)[0])
        eye = torch.zeros(chunk, out.shape[0], device=w.device)
        parts = []
        for start in range(0, len(rows), chunk):
            idx = rows[start : start + chunk]
            eye.zero_()
            eye[torch.arange(len(idx)), idx] = 1
            parts.append(batched(eye[: len(idx)]))
    return torch.cat(parts)


def bench_link_lr(device: torch.device, pixels: int, chunk: int, rounds: int) -> dict:
    from ldedit_core.editing import jacobian_reverse_per_pixel, latent_jacobian, link_lr
    from ldedit_core.models.bundle import load_bundle

    G = load_bundle("default").generator.to(device)
    torch.manual_seed(0)
    with torch.no_grad():
        w = G.mapping(torch.randn(1, G.z_dim, device=device))[0]
    res = G.img_resolution
    total = G.img_channels * res * res
    n_rows = total if pixels <= 0 or pixels >= total else pixels
    rows = torch.linspace(0, total - 1, n_rows, device=device).round().long()
    roi = torch.zeros(res, res, device=device)
    roi[res * 5 // 16 : res * 9 // 16, res // 8 : res * 3 // 8] = 1  # 16x16 at 64 px, in the left lung

    def timed(fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            out = fn()
            _sync(device)
            return out

        return run

    fns = {
        "forward": timed(lambda: latent_jacobian(G, w, chunk=chunk)),
        "reverse_per_pixel": timed(lambda: jacobian_reverse_per_pixel(G, w, rows=rows.tolist())),
        "reverse_batched": timed(lambda: _reverse_batched(G, w, rows, chunk)),
        "link_lr": timed(lambda: link_lr(G, w, roi, k=10, margin=2, chunk=chunk)),
    }
    J = fns["forward"]()  # warm-up, and the agreement check
    diffs = {
        name: (fns[name]() - J[rows]).abs().max().item() for name in ("reverse_per_pixel", "reverse_batched")
    }
    fns["link_lr"]()
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], best_time(fn, repeat=1))
    scale = total / n_rows
    return {
        "resolution": res,
        "channels": G.img_channels,
        "w_dim": G.w_dim,
        "jacobian_rows": total,
        "timed_rows": n_rows,
        "extrapolated": n_rows < total,
        "chunk": chunk,
        "seconds": {
            "forward": best["forward"],
            "reverse_per_pixel": best["reverse_per_pixel"] * scale,
            "reverse_batched": best["reverse_batched"] * scale,
            "link_lr": best["link_lr"],
        },
        "seconds_timed_rows": {k: best[k] for k in ("reverse_per_pixel", "reverse_batched")},
        "max_abs_diff_vs_forward": diffs,
        "max_abs_jacobian": J.abs().max().item(),
    }


def main(argv: list[str] | None = None) -> int:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--pixels", type=int, default=512, help="reverse mode: pixels timed (0 = all)")
    parser.add_argument("--chunk", type=int, default=32, help="directions (or pixels) per batched pass")
    parser.add_argument("--rounds", type=int, default=3, help="timings per measure (best kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--no-cuda", action="store_true", help="CPU only even when CUDA is available")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    rows, results = [], []
    for device, name in bench_devices(args.threads, cuda=not args.no_cuda):
        r = bench_link_lr(device, args.pixels, args.chunk, args.rounds)
        results.append({"device": name, "link_lr": r})
        s, total, timed = r["seconds"], r["jacobian_rows"], r["timed_rows"]
        size = f"{r['resolution']}x{r['resolution']}x{r['channels']}, D={r['w_dim']}"
        note = f"timed on {timed} of {total} pixels, extrapolated" if r["extrapolated"] else "all pixels"
        diff = r["max_abs_diff_vs_forward"]
        rows += [
            (name, f"J {size}: forward mode (latent_jacobian, {r['w_dim']} JVPs, chunk {r['chunk']})",
             f"{s['forward']:.3f}", "1.0x"),
            (name, f"J: reverse mode, one backward per pixel ({total} backwards; {note}; "
             f"max diff {diff['reverse_per_pixel']:.1e})",
             f"{s['reverse_per_pixel']:.2f}", f"{s['reverse_per_pixel'] / s['forward']:.1f}x"),
            (name, f"J: reverse mode, vmap over vjp, {r['chunk']} pixels per pass ({note}; "
             f"max diff {diff['reverse_batched']:.1e})",
             f"{s['reverse_batched']:.2f}", f"{s['reverse_batched'] / s['forward']:.1f}x"),
            (name, "link_lr end to end (k=10, 16x16 ROI, margin 2)", f"{s['link_lr']:.3f}",
             f"{s['link_lr'] / s['forward']:.2f}x"),
        ]  # fmt: skip
        print(f"done: {name}", file=sys.stderr, flush=True)

    print(f"Machine: {machine()}, torch {torch.__version__}, {args.threads} CPU threads\n")
    print("## Link-LR: latent Jacobian of the default bundle's generator\n")
    print("| device | measure | seconds | vs forward mode |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for res in results:
        s = res["link_lr"]["seconds"]
        ratio = s["reverse_per_pixel"] / s["forward"]
        print(f"\n{res['device']}: forward mode {ratio:.1f}x faster than a backward per pixel (target 20x)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
