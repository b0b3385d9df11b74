"""Benchmark the generator, GAN training and the encoder, each against a reference measured in the same run.

    python benchmarks/generator.py [--quick] [--threads 2] [--json out.json]

- generator images/s (EMA generator, constant noise, no gradients) at batch 1 and batch 64; the reference
  is batch 1, so the ratio is what batching gains;
- GAN training throughput (kimg/h at batch 16, lazy R1 every 16 steps amortised) with DiffAugment on,
  against the same training with DiffAugment off; on CUDA also the peak GPU memory;
- encoder images/s (batch 64, no gradients), against the generator's synthesis at the same resolution
  and batch (how much an encoder initialisation costs next to one generator pass);

for the presets ``cpu64`` and ``gpu128``, on the CPU and, when there is one, on CUDA. Networks are freshly
initialised: the cost of a forward pass does not depend on the weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_devices, best_time, machine

PRESETS = ("cpu64", "gpu128")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def alternate(fns: dict[str | int, tuple[Callable[[], object], int]], rounds: int) -> dict[str | int, float]:
    """Best seconds per call of each ``name: (fn, calls per timing)``, timed in turn, ``rounds`` times.

    Alternating measure and reference means a burst of load from other processes hits both alike.
    """
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, (fn, number) in fns.items():
            best[name] = min(best[name], best_time(fn, repeat=1, number=number))
    return best


def bench_generator(preset: str, device: torch.device, quick: bool) -> dict:
    from ldedit_core.models import Generator
    from ldedit_core.training.presets import preset_configs

    g_cfg, _ = preset_configs(preset)
    G = Generator(g_cfg).to(device).eval().requires_grad_(False)
    fns = {}
    for batch in (1, 64):
        ws = G.broadcast(G.mapping(torch.randn(batch, G.z_dim, device=device)))

        def run(ws: torch.Tensor = ws) -> None:
            with torch.no_grad():
                G.synthesis(ws, noise_mode="const")
            _sync(device)

        run()
        fns[batch] = (run, 10 if batch == 1 else 1)
    seconds = alternate(fns, rounds=2 if quick else 4)
    out = {batch: batch / seconds[batch] for batch in fns}
    return {"batch1": out[1], "batch64": out[64], "ratio": out[64] / out[1]}


def _trainer(preset: str, device: torch.device, augment: bool):
    from ldedit_core.training.gan_trainer import GanTrainer, GanTrainingConfig
    from ldedit_core.training.presets import preset_configs

    g_cfg, d_cfg = preset_configs(preset)
    batch = 16
    images = torch.randint(0, 256, (64, 1, g_cfg.resolution, g_cfg.resolution), dtype=torch.uint8)
    cfg = GanTrainingConfig(
        generator=g_cfg,
        discriminator=d_cfg,
        batch=batch,
        r1_gamma=2e-4 * g_cfg.resolution**2 / batch,
        augment=GanTrainingConfig().augment if augment else (),
        augment_p=1.0,  # on: every image augmented (the most an adaptive run ever pays)
        ada_target=0.0,
    )
    return GanTrainer(cfg, images, device=device)


def bench_training(preset: str, device: torch.device, quick: bool) -> dict:
    """kimg/h with DiffAugment on and off, timed alternately (best of each) so load hits both alike."""
    trainers = {aug: _trainer(preset, device, aug) for aug in (True, False)}
    plain = {True: float("inf"), False: float("inf")}
    r1 = dict(plain)
    for t in trainers.values():
        t.train_step()  # warm-up: step 0, with R1
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(2 if quick else 4):
        for aug, t in trainers.items():
            t.step = 1  # steps 1..15 have no R1
            plain[aug] = min(plain[aug], best_time(lambda t=t: (t.train_step(), _sync(device)), repeat=1))
    for _ in range(1 if quick else 2):
        for aug, t in trainers.items():
            t.step = t.config.r1_interval  # this step runs the R1 penalty
            r1[aug] = min(r1[aug], best_time(lambda t=t: (t.train_step(), _sync(device)), repeat=1))
    result = {}
    for aug, t in trainers.items():
        interval = t.config.r1_interval
        per_step = (r1[aug] + (interval - 1) * plain[aug]) / interval  # lazy R1 amortised
        key = "on" if aug else "off"
        result[key] = {"kimg_per_h": t.config.batch / 1000 / per_step * 3600, "s_per_step": per_step}
    if device.type == "cuda":
        result["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30  # both trainers resident
    return result


def bench_encoder(preset: str, device: torch.device, quick: bool) -> dict:
    from ldedit_core.models import Generator
    from ldedit_core.models.encoder import Encoder, EncoderConfig
    from ldedit_core.training.presets import preset_configs

    g_cfg, _ = preset_configs(preset)
    G = Generator(g_cfg).to(device).eval().requires_grad_(False)
    E = Encoder(EncoderConfig.for_generator(g_cfg), w_avg=G.mapping.w_avg).to(device).eval()
    batch = 64
    x = torch.rand(batch, 1, g_cfg.resolution, g_cfg.resolution, device=device) * 2 - 1
    ws = G.broadcast(G.mapping(torch.randn(batch, G.z_dim, device=device)))

    def enc() -> None:
        with torch.no_grad():
            E(x)
        _sync(device)

    def gen() -> None:
        with torch.no_grad():
            G.synthesis(ws, noise_mode="const")
        _sync(device)

    enc()
    gen()
    seconds = alternate({"enc": (enc, 1), "gen": (gen, 1)}, rounds=2 if quick else 4)
    e, g = batch / seconds["enc"], batch / seconds["gen"]
    params = sum(p.numel() for p in E.parameters()) / 1e6
    return {"encoder_img_s": e, "generator_img_s": g, "ratio": e / g, "encoder_mparams": params}


def main(argv: list[str] | None = None) -> int:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (noisier figures)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--no-cuda", action="store_true", help="CPU only even when CUDA is available")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    rows, results = [], []
    for device, name in bench_devices(args.threads, cuda=not args.no_cuda):
        for preset in args.presets:
            g = bench_generator(preset, device, args.quick)
            t = bench_training(preset, device, args.quick)
            on, off = t["on"], t["off"]
            e = bench_encoder(preset, device, args.quick)
            results.append({"device": name, "preset": preset, "generator": g, "training": t, "encoder": e})
            mem = f" (peak {t['peak_gib']:.2f} GiB)" if "peak_gib" in t else ""
            rows += [
                (name, preset, "generator img/s, batch 64", f"{g['batch64']:.1f}",
                 f"batch 1: {g['batch1']:.1f}", f"{g['ratio']:.1f}x"),
                (name, preset, "GAN training kimg/h, DiffAugment on", f"{on['kimg_per_h']:.1f}{mem}",
                 f"off: {off['kimg_per_h']:.1f}", f"{on['kimg_per_h'] / off['kimg_per_h']:.2f}x"),
                (name, preset, f"encoder img/s, batch 64 ({e['encoder_mparams']:.2f} M params)",
                 f"{e['encoder_img_s']:.1f}", f"G synthesis: {e['generator_img_s']:.1f}",
                 f"{e['ratio']:.1f}x"),
            ]  # fmt: skip
            print(f"done: {name} {preset}", file=sys.stderr, flush=True)

    print(f"Machine: {machine()}, torch {torch.__version__}, {args.threads} CPU threads\n")
    print("| device | preset | measure | value | reference | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
