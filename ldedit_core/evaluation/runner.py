"""``evaluate``: LDEdit against four direction-finding baselines on held-out healthy phantoms.

Per disease and image: invert the phantom (once, shared by the diseases), paint the disease's ROI, find each
method's direction, walk it with the same :func:`plan_trajectory` (same target, frame count, spacing, scan
length in population standard deviations), and measure every frame with the independent evaluator. So the
methods differ only in the direction. LDEdit's frames are also composited back onto the phantom (method.md
section 5, the code path of ``synthesize_followups``) and measured there, which is what a user receives.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ldedit_core.editing.latent_stats import EXTRAS_NAME, LatentStats
from ldedit_core.editing.link_lr import background_mask, link_lr
from ldedit_core.editing.link_pca import link_pca
from ldedit_core.editing.trajectory import plan_trajectory
from ldedit_core.errors import InputError
from ldedit_core.evaluation import baselines
from ldedit_core.evaluation.cases import disease_roi, diseased_phantoms, healthy_phantoms
from ldedit_core.evaluation.measures import (
    background_psnr,
    background_ssim,
    frechet_distance,
    mean_change,
    monotonicity,
    outside_identical,
)
from ldedit_core.evaluation.methods import METHODS, Method
from ldedit_core.evaluation.population import LatentSample, sample_latents
from ldedit_core.evaluation.summary import Targets, check_targets, summarise_method, summarise_native
from ldedit_core.inversion import invert_with_bundle
from ldedit_core.models.bundle import Bundle
from ldedit_core.models.classifier import classifier_features
from ldedit_core.models.device import resolve_device
from ldedit_core.models.preprocess import GeneratorGrid
from ldedit_core.phantoms import Disease, Phantom
from ldedit_core.pipeline.bundles import get_bundle
from ldedit_core.pipeline.composite import composite, feather_weights
from ldedit_core.pipeline.followups import EditOptions, guide_goal
from ldedit_core.progress import ProgressCallback, check_cancel, report

STAGE = "evaluate"
REQUIRED = ("generator", "guide", "evaluator")


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high and value > high):
        expected = f"an integer >= {low}" + (f" and <= {high}" if high else "")
        raise InputError(f"{name} must be {expected}, got {value!r}")
    return value


@torch.no_grad()
def _probs(model: torch.nn.Module, images: torch.Tensor, index: int) -> np.ndarray:
    return torch.sigmoid(model(images.clamp(-1, 1)).float())[:, index].cpu().double().numpy()


@torch.no_grad()
def _features(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    return classifier_features(model, images.clamp(-1, 1)).double().cpu()


class _Run:
    """What every image of one evaluation shares: networks, statistics, grid and settings."""

    def __init__(self, b: Bundle, stats: LatentStats, sample: LatentSample, size: int, options: Mapping):
        self.b, self.stats, self.sample = b, stats, sample
        self.G, self.guide, self.evaluator = b.generator, b.guide, b.evaluator
        self.device = next(self.G.parameters()).device
        self.grid = GeneratorGrid.for_bundle((size, size), b.meta["preprocessing"])
        self.edit = EditOptions()
        self.n_followups, self.target = options["n_followups"], options["target"]
        self.methods: list[Method] = options["methods"]
        self.trajectory = dict(options["trajectory"])
        self.trajectory.setdefault("max_scale", self.edit.max_scale)
        self.trajectory.setdefault("scan_limit", self.edit.scan_limit)
        feather_px = self.edit.feather_px
        self.feather = feather_px if feather_px is not None else 1.5 * self.grid.side / self.grid.resolution

    def scale(self, direction: torch.Tensor) -> float:
        """The population's standard deviation along ``direction`` (the trajectory's length unit)."""
        n = direction.double().cpu()
        return float(torch.sqrt(n @ self.stats.cov @ n))

    def global_directions(self, disease: str) -> dict[Method, baselines.Direction | ValueError]:
        """The ROI-free baselines' directions; a method that cannot find one keeps its error instead."""
        finders = {
            Method.INTERFACEGAN: lambda: baselines.interfacegan_direction(self.sample, self.stats, disease),
            Method.GANSPACE: lambda: baselines.ganspace_direction(self.sample, self.stats, disease),
            Method.SEFA: lambda: baselines.sefa_direction(self.G, self.sample, self.stats, disease),
        }
        found: dict[Method, baselines.Direction | ValueError] = {}
        for method, finder in finders.items():
            if method in self.methods:
                try:
                    found[method] = finder()
                except ValueError as exc:
                    found[method] = exc
        return found

    def walk(self, disease: str, ws0: torch.Tensor, direction: torch.Tensor, **extra: Any):
        d_guide = self.b.diseases.index(disease)
        return plan_trajectory(
            self.G,
            self.guide,
            d_guide,
            ws0,
            direction.to(ws0),
            n_frames=self.n_followups,
            target=guide_goal(
                self.target, self.edit.guide_margin, False
            ),  # as the pipeline, for every method
            layers=self.edit.layers,
            scale=self.scale(direction),
            **self.trajectory,
            **extra,
        )

    def case(
        self, disease: str, phantom: Phantom, ws0: torch.Tensor, global_dirs: Mapping[Method, Any]
    ) -> tuple[dict, dict]:
        """Every method on one image: (JSON-able record, arrays kept for realism and the example strip)."""
        e, d_eval = self.edit, self.b.diseases.index(disease)
        clock = time.perf_counter()
        roi = disease_roi(phantom, disease)
        m = self.grid.mask_to_generator(roi)
        background = background_mask(m, e.margin)
        dirs: dict[Method, Any] = dict(global_dirs)
        ld = None
        if Method.LDEDIT in self.methods or Method.RESEFA in self.methods:
            links = link_lr(
                self.G, ws0, m.to(self.device), k=e.k, margin=e.margin, eps=e.eps, layers=e.layers
            )
            U = links.directions.cpu()
            try:
                pca = link_pca(U, self.stats, disease, n_components=e.n_components, keep=e.keep)
                ld = dirs[Method.LDEDIT] = baselines.Direction(pca.direction, {"components_used": pca.used})
            except ValueError as exc:  # the population carries no disease signal inside this ROI subspace
                dirs[Method.LDEDIT] = exc
            dirs[Method.RESEFA] = baselines.resefa_direction(U, self.stats, disease)
        record: dict[str, Any] = {"seed": int(phantom.params["seed"]), "methods": {}}
        arrays: dict[str, Any] = {"last": {}}
        for method in self.methods:
            chosen = dirs[method]
            if isinstance(chosen, Exception):
                record["methods"][method.value] = {"error": str(chosen)}
                continue
            traj = self.walk(disease, ws0, chosen.direction)
            images = traj.images.float()
            probs = _probs(self.evaluator, images, d_eval)
            entry = {
                "evaluator_probs": probs.round(5).tolist(),
                "guide_probs": traj.guide_probs.double().numpy().round(5).tolist(),
                "spearman": monotonicity(probs),
                "background_ssim": background_ssim(images[0], images[-1], background),
                "background_psnr": background_psnr(images[0], images[-1], background),
                "background_change": mean_change(images[0], images[-1], background),
                "roi_change": mean_change(images[0], images[-1], m),
                "reached": bool(traj.reached),
                "end_position_sd": float(traj.positions[-1]) / max(self.scale(chosen.direction), 1e-12),
                "cosine_to_ldedit": float(chosen.direction.cpu() @ ld.direction.cpu()) if ld else None,
                "info": chosen.info,
            }
            arrays["last"][method.value] = images[-1:].cpu()
            if method is Method.LDEDIT:
                entry["native"], arrays["native"] = self._native(
                    disease, phantom.image, roi, ws0, chosen, traj
                )
            record["methods"][method.value] = entry
        record["seconds"] = round(time.perf_counter() - clock, 3)
        return record, arrays

    def _native(self, disease: str, source: np.ndarray, roi: np.ndarray, ws0: torch.Tensor, found, traj):
        """LDEdit's output as ``synthesize_followups`` makes it: composited onto the source, then measured.

        When the pipeline's guide judges the composited frame (``EditOptions.guide_composite``), the
        frames are planned again that way; otherwise the generator-frame trajectory is composited.
        """
        weights = feather_weights(roi, self.feather)
        x0 = self.grid.to_generator(source).to(self.device)
        if self.edit.guide_composite:
            onto = (x0, self.grid.mask_to_generator(weights).to(self.device))
            traj = self.walk(disease, ws0, found.direction, composite_onto=onto)
        g = traj.images[:, 0].float().cpu()
        frames = [
            composite(source, self.grid.difference_to_native(g[t] - g[0]), weights) for t in range(1, len(g))
        ]
        x = torch.cat([x0.cpu(), *(self.grid.to_generator(f) for f in frames)]).to(self.device)
        probs = _probs(self.evaluator, x, self.b.diseases.index(disease))
        return (
            {
                "evaluator_probs": probs.round(5).tolist(),
                "guide_probs": traj.guide_probs.double().numpy().round(5).tolist(),
                "spearman": monotonicity(probs),
                "identical_outside_roi": outside_identical(source, frames, weights),
                "reached": bool(traj.reached),
            },
            {"frames": [source, *frames], "probs": probs, "roi": roi, "last": x[-1:].cpu()},
        )


def _describe_path(path) -> str:
    """A shipped bundle by its place in the package (reports stay the same on every machine)."""
    from ldedit_core.models.bundle_locate import shipped_bundles_dir

    path = Path(path).resolve()
    shipped = shipped_bundles_dir().resolve()
    return f"ldedit_core/bundles/{path.relative_to(shipped)}" if path.is_relative_to(shipped) else str(path)


def _latent_stats(b: Bundle, sample: LatentSample) -> tuple[LatentStats, str]:
    if EXTRAS_NAME in b.extras:
        names = (b.meta.get("directions") or {}).get("diseases", b.diseases)
        return LatentStats.from_tensors(b.extras[EXTRAS_NAME], names), "bundle extras"
    return sample.stats(), f"computed from {len(sample)} generator samples (the bundle ships none)"


def _scaled(progress: ProgressCallback | None, start: int, size: int, total: int) -> ProgressCallback | None:
    """A progress callback for images ``start .. start + size`` of ``total``, reporting over all of them."""
    if progress is None:
        return None

    def step(stage: str, fraction: float, message: str) -> None:
        report(progress, stage, (start + fraction * size) / total, f"{start + size}/{total}: {message}")

    return step


def _invert(b: Bundle, images: torch.Tensor, batch: int, options: Mapping, progress, cancel):
    """Invert ``images`` ``batch`` at a time (the progress bar moves with every optimisation step)."""
    ws, ssim, psnr = [], [], []
    for start in range(0, len(images), batch):
        check_cancel(cancel)
        part = images[start : start + batch]
        step = _scaled(progress, start, len(part), len(images))
        inv = invert_with_bundle(b, part, cancel=cancel, progress=step, **options)
        ws.append(inv.ws.detach())
        ssim += inv.ssim.tolist()
        psnr += inv.psnr.tolist()
    return torch.cat(ws), ssim, psnr


def _realism(run: _Run, disease: str, arrays: Sequence[Mapping], sources: torch.Tensor, n: int, seed: int):
    """FID on evaluator features: each method's last frames vs held-out diseased phantoms."""
    size = run.grid.shape[0]
    refs = diseased_phantoms(disease, n, seed, size)
    real = torch.cat([run.grid.to_generator(p.image) for p in refs]).to(run.device)
    feats_real = _features(run.evaluator, real)
    out: dict[str, Any] = {
        "reference": f"{n} held-out phantoms with {disease} at severity 0.5-1",
        "reference_p_median": float(np.median(_probs(run.evaluator, real, run.b.diseases.index(disease)))),
        "fid_sources": frechet_distance(_features(run.evaluator, sources.to(run.device)), feats_real),
        "fid": {},
    }
    for method in run.methods:
        lasts = [a["last"][method.value] for a in arrays if method.value in a["last"]]
        if lasts:
            feats = _features(run.evaluator, torch.cat(lasts).to(run.device))
            out["fid"][method.value] = frechet_distance(feats, feats_real)
    natives = [a["native"]["last"] for a in arrays if "native" in a]
    if natives:
        feats = _features(run.evaluator, torch.cat(natives).to(run.device))
        out["fid"]["ldedit_native"] = frechet_distance(feats, feats_real)
    return out


def machine_facts(device: torch.device) -> dict:
    """Where the run happened, for the report."""
    facts = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "device": str(device),
    }
    if device.type == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
    return facts


def evaluate(
    bundle: Bundle | str | os.PathLike = "default",
    *,
    diseases: Sequence[str] | None = None,
    n: int = 50,
    n_followups: int = 10,
    target: float = 0.9,
    seed: int = 9001,
    size: int = 256,
    methods: Sequence[str | Method] | None = None,
    population: int = 5000,
    inversion: Mapping[str, Any] | None = None,
    inversion_batch: int = 16,
    trajectory: Mapping[str, Any] | None = None,
    device: str | torch.device = "auto",
    out: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> dict:
    """Measure LDEdit and the baselines on ``n`` held-out healthy phantoms per disease.

    Args:
        bundle: a loaded :class:`Bundle`, or a bundle folder or name.
        diseases: which to grow (default: all of the bundle's).
        n: healthy phantoms (seeds ``seed .. seed + n - 1``), the same for every disease.
        n_followups: frames after the source; target: the disease probability of the last frame (the
            guide is driven ``EditOptions.guide_margin`` logits past it for every method, as in the pipeline).
        size: phantom side in pixels.
        methods: default all of :data:`~ldedit_core.evaluation.methods.METHODS`.
        population: generator samples the global baselines are fitted on (and Link-PCA's moments, when the
            bundle ships none).
        inversion: keyword arguments for :func:`invert_with_bundle` (default: its own defaults, as the
            pipeline); inversion_batch: phantoms inverted together.
        trajectory: extra keyword arguments for :func:`plan_trajectory` (``grid``, ``secant_steps``,
            ``spacing``, ``max_scale``), the same for every method.
        device: ``"auto"``, ``"cpu"``, ``"cuda:0"``; ignored when ``bundle`` is already loaded.
        out: when given, the report (Markdown, JSON, PNGs) is written there (:func:`write_report`).
        progress: ``progress(stage, fraction, message)``; cancel: Event-like or callable.

    Returns:
        A JSON-ready dict (``config``, ``machine``, ``timings_s``, ``inversion``, ``diseases`` with per
        method summaries, LDEdit's native figures, realism, targets and per-image records), plus
        ``examples``: per disease the first image's LDEdit native frames (arrays, left out of the JSON).

    Raises:
        InputError: a bad argument, an unknown disease or method, or a bundle lacking a network.
        ldedit_core.progress.Cancelled: ``cancel`` was set.

    Example:
        >>> result = evaluate("default", diseases=["cardiomegaly"], n=10, out="docs/evaluation")
        >>> result["diseases"]["cardiomegaly"]["methods"]["ldedit"]["pT_median"]
    """
    started = time.perf_counter()
    _check_int("n", n, 1)
    _check_int("n_followups", n_followups, 1)
    _check_int("size", size, 64, 2048)
    _check_int("population", population, 2)
    _check_int("inversion_batch", inversion_batch, 1)
    if not 0.0 < float(target) < 1.0:
        raise InputError(f"target must be a probability strictly between 0 and 1, got {target!r}")
    try:
        chosen = [Method.parse(m) for m in (methods or METHODS)]
    except ValueError as exc:
        raise InputError(str(exc)) from None
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(timings.get(stage, 0.0) + now - clock, 3)
        clock = now

    b = get_bundle(bundle, resolve_device(device))
    missing = [role for role in REQUIRED if getattr(b, role) is None]
    if missing:
        raise InputError(
            f"bundle lacks {', '.join(missing)}; the evaluation needs {', '.join(REQUIRED)}", b.path
        )
    try:
        names = [Disease.parse(d).value for d in (diseases or b.diseases)]
    except ValueError as exc:
        raise InputError(str(exc)) from None
    unknown = [d for d in names if d not in b.diseases]
    if unknown:
        raise InputError(f"the bundle has no classifier output for {unknown} (it knows {b.diseases})", b.path)
    lap("loading")

    sample = sample_latents(
        b.generator, b.guide, b.diseases, n=population, seed=0, progress=progress, cancel=cancel
    )
    stats, stats_source = _latent_stats(b, sample)
    lap("population")
    options = {
        "n_followups": n_followups,
        "target": float(target),
        "methods": chosen,
        "trajectory": trajectory or {},
    }
    run = _Run(b, stats, sample, size, options)

    phantoms = healthy_phantoms(n, seed, size)
    sources = torch.cat([run.grid.to_generator(p.image) for p in phantoms])
    ws0, inv_ssim, inv_psnr = _invert(
        b, sources.to(run.device), inversion_batch, inversion or {}, progress, cancel
    )
    lap("inversion")

    per_disease: dict[str, Any] = {}
    examples: dict[str, Any] = {}
    total, done = len(names) * n, 0
    for disease in names:
        global_dirs = run.global_directions(disease)
        records, arrays = [], []
        for i, phantom in enumerate(phantoms):
            check_cancel(cancel)
            record, kept = run.case(disease, phantom, ws0[i], global_dirs)
            records.append(record)
            arrays.append(kept)
            done += 1
            report(progress, STAGE, done / total, f"{disease}: image {i + 1}/{n}")
        lap(f"edit_{disease}")
        summaries = {m.value: summarise_method([r["methods"][m.value] for r in records]) for m in chosen}
        ld_records = [r["methods"].get(Method.LDEDIT.value, {}) for r in records]
        native = summarise_native(ld_records) if Method.LDEDIT in chosen else None
        per_disease[disease] = {
            "methods": summaries,
            "native": native,
            "realism": _realism(run, disease, arrays, sources, n, seed),
            "targets": check_targets(summaries, native, Targets()) if native else [],
            "directions": {
                m.value: {"error": str(d)} if isinstance(d, Exception) else d.info
                for m, d in global_dirs.items()
            },
            "images": records,
        }
        if "native" in arrays[0]:
            examples[disease] = {k: arrays[0]["native"][k] for k in ("frames", "probs", "roi")}
        lap(f"realism_{disease}")

    timings["total"] = round(time.perf_counter() - started, 3)
    result = {
        "config": {
            "bundle": b.meta.get("name"),
            "bundle_path": _describe_path(b.path),
            "diseases": names,
            "n": n,
            "n_followups": n_followups,
            "target": float(target),
            "seed": seed,
            "size": size,
            "methods": [m.value for m in chosen],
            "population": population,
            "latent_stats": stats_source,
            "inversion": dict(inversion or {}),
            "trajectory": run.trajectory,
            "edit_options": {k: v for k, v in vars(run.edit).items() if k != "inversion"},
            "targets": vars(Targets()),
        },
        "machine": machine_facts(run.device),
        "timings_s": timings,
        "inversion": {
            "ssim_median": float(np.median(inv_ssim)),
            "psnr_median": float(np.median(inv_psnr)),
            "ssim": [round(v, 4) for v in inv_ssim],
        },
        "diseases": per_disease,
        "examples": examples,
    }
    if out is not None:
        from ldedit_core.evaluation.report import write_report

        result["files"] = {k: str(v) for k, v in write_report(result, Path(out)).items()}
    return result
