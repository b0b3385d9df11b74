"""``synthesize_followups``: one radiograph and a ROI in, a gradual synthetic disease sequence out.

The stages, each reported through ``progress(stage, fraction, message)``:
inversion (encoder, then W and W+ optimisation) -> Link-LR (ROI-linked directions at the inverted latent)
-> Link-PCA (the disease direction inside them, from the bundle's population moments) -> trajectory (frames
whose guide probability follows a monotone ramp to the target) -> compositing at native resolution ->
measuring every output frame with the independent evaluator.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ldedit_core.editing.link_lr import link_lr
from ldedit_core.editing.link_pca import global_direction, link_pca
from ldedit_core.editing.trajectory import plan_trajectory
from ldedit_core.errors import InputError
from ldedit_core.inversion import invert_with_bundle
from ldedit_core.io.radiograph import Radiograph
from ldedit_core.models.bundle import Bundle
from ldedit_core.models.device import resolve_device
from ldedit_core.models.image_metrics import psnr as image_psnr
from ldedit_core.models.image_metrics import ssim as image_ssim
from ldedit_core.models.preprocess import GeneratorGrid
from ldedit_core.pipeline.auto_roi import automatic_roi
from ldedit_core.pipeline.bundles import editing_parts, get_bundle
from ldedit_core.pipeline.composite import composite, feather_weights
from ldedit_core.progress import ProgressCallback, check_cancel, report


@dataclass
class EditOptions:
    """Tuning knobs. ``ldedit evaluate`` (docs/evaluation.md) measures the defaults against the baselines."""

    k: int = 10  # Link-LR directions
    margin: int = 2  # generator pixels between ROI and background
    eps: float = 1e-3  # Link-LR regularisation
    layers: tuple[int, int] | None = None  # W+ layers edited (None = all)
    n_components: int = 10  # Link-PCA components considered
    keep: float = 0.5  # Link-PCA: components with |corr| >= keep * max are combined
    max_scale: float = 12.0  # trajectory scan length, in population standard deviations
    # opt-in: scan on past max_scale to this many standard deviations while the target is not reached
    # (None: stop at max_scale; far-out latents change the whole frame, see docs/engine.md)
    scan_limit: float | None = None
    feather_px: float | None = None  # native pixels; None = 1.5 generator pixels
    guide_composite: bool = True  # the guide judges the composited frame, not the generator's
    guide_margin: float = 2.5  # logits the guide is driven past the target (it is not the judge)
    inversion: dict = field(default_factory=dict)  # keyword arguments for invert_with_bundle
    min_inversion_ssim: float = 0.5  # below this the input is not an image the bundle can represent
    seed: int = 0


# Link-PCA correlations below this: the ROI subspace holds almost no linear disease signal. The shipped
# bundle's edits that work have 0.2-0.4; where cardiomegaly stopped being linear in W they fell under 0.05
# (docs/default-bundle.md, "History").
WEAK_SIGNAL = 0.1


@dataclass
class FollowUps:
    """The result of :func:`synthesize_followups`.

    Attributes:
        source: the input radiograph (never modified).
        disease, target, regress: what was asked.
        frames: follow-ups 1..T, float32 ``[H, W]`` in [0, 1] at the source's size; ``source.pixels``
            outside the ROI, exactly.
        guide_probs: ``[T+1]`` guide probability of the generator frames 0..T (frame 0 = the inversion).
        evaluator_probs: ``[T+1]`` the independent evaluator on the output images (frame 0 = the source).
        roi: float32 ``[H, W]`` the ROI used (the user's, or the automatic one); roi_generator: ``[R, R]``.
        automatic_roi: whether the ROI was computed (the unsupervised lesion segmentation).
        weights: float32 ``[H, W]`` the feathered compositing weights.
        latents: ``[T+1, num_ws, D]`` the frames' latents; generator_frames: ``[T+1, R, R]`` in [-1, 1].
        inversion_ssim, inversion_psnr: how well the generator reproduced the source.
        reached: whether the guide reached its goal, :func:`guide_goal` of the target.
        ratios: Link-LR's ROI/background energy ratios.
        correlations: Link-PCA's principal components' correlations with the disease in the bundle's
            population. All small (:data:`WEAK_SIGNAL`) means the ROI's directions carry little of the
            disease linearly: the edit may not reach the target (see :meth:`hint`).
        timings: seconds per stage.
    """

    source: Radiograph
    disease: str
    target: float
    regress: bool
    frames: list[np.ndarray]
    guide_probs: np.ndarray
    evaluator_probs: np.ndarray
    roi: np.ndarray
    roi_generator: np.ndarray
    automatic_roi: bool
    weights: np.ndarray
    latents: torch.Tensor
    generator_frames: torch.Tensor
    inversion_ssim: float
    inversion_psnr: float
    reached: bool
    ratios: np.ndarray
    correlations: np.ndarray
    timings: dict[str, float]

    def summary(self) -> dict[str, Any]:
        """JSON-ready facts (no arrays beyond the per-frame probabilities)."""
        return {
            "disease": self.disease,
            "target": self.target,
            "regress": self.regress,
            "followups": len(self.frames),
            "guide_probs": [round(float(p), 4) for p in self.guide_probs],
            "evaluator_probs": [round(float(p), 4) for p in self.evaluator_probs],
            "reached": self.reached,
            "automatic_roi": self.automatic_roi,
            "roi_pixels": int((self.roi > 0).sum()),
            "inversion_ssim": round(self.inversion_ssim, 4),
            "inversion_psnr": round(self.inversion_psnr, 2),
            "direction_correlation": round(self.direction_correlation, 4),
            "hint": self.hint(),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }

    @property
    def direction_correlation(self) -> float:
        """The strongest |correlation| of a Link-PCA component with the disease (0 if there were none)."""
        return float(np.abs(self.correlations).max()) if self.correlations.size else 0.0

    def hint(self) -> str | None:
        """Why the target was not reached, when there is something to say; ``None`` when it was."""
        if self.reached:
            return None
        if self.direction_correlation < WEAK_SIGNAL:
            return (
                f"the ROI's latent directions carry almost no {self.disease} signal in this bundle's "
                f"population (strongest |correlation| {self.direction_correlation:.2f}); the disease may not "
                "be linear in this generator's W (benchmarks/direction_linearity.py measures it)"
            )
        return (
            "the guide did not reach its goal within EditOptions.max_scale; a larger ROI, "
            "EditOptions.scan_limit, or a lower target may help"
        )


def guide_goal(target: float, margin: float, regress: bool) -> float:
    """The guide's probability the last frame is driven to: ``margin`` logits past ``target``.

    The guide steers but is not the judge: an independent classifier reads an edit that just convinces the
    guide as less advanced (on held-out phantoms, evaluator >= 0.8 in 2 of 8 edits with the guide at 0.90,
    6 of 8 with it at 0.99; docs/engine.md). Driving the guide past the target makes the output reach it.
    """
    logit = math.log(target / (1.0 - target)) + (-margin if regress else margin)
    return 1.0 / (1.0 + math.exp(-logit))


def _check_roi(roi: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    if roi is None:
        return None
    roi = np.asarray(roi, dtype=np.float32)
    if roi.shape != shape:
        raise InputError(
            f"the ROI is {roi.shape[1]}x{roi.shape[0]} pixels but the image is {shape[1]}x{shape[0]}"
        )
    if not np.isfinite(roi).all() or roi.min() < 0 or roi.max() > 1:
        raise InputError("the ROI must hold values in [0, 1]")
    if not (roi > 0).any():
        raise InputError("the ROI is empty: paint the region the disease should appear in")
    return roi


def _check_disease(disease: str, stats_diseases: list[str], guide_diseases: list[str]) -> str:
    name = str(disease).strip().lower()
    if name not in stats_diseases or name not in guide_diseases:
        raise InputError(f"unknown disease {disease!r}; this bundle knows: {', '.join(stats_diseases)}")
    return name


@torch.no_grad()
def _evaluate(evaluator: torch.nn.Module, grid: GeneratorGrid, images: list[np.ndarray], index: int, device):
    x = torch.cat([grid.to_generator(img) for img in images]).to(device)
    return torch.sigmoid(evaluator(x).float())[:, index].cpu().numpy()


def synthesize_followups(
    radiograph: Radiograph,
    roi: np.ndarray | None,
    disease: str,
    *,
    n_followups: int = 10,
    target: float = 0.9,
    regress: bool = False,
    bundle: Bundle | str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    options: EditOptions | None = None,
    latents: torch.Tensor | None = None,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> FollowUps:
    """Synthesize ``n_followups`` gradual follow-ups of ``radiograph`` with ``disease`` growing in ``roi``.

    Args:
        radiograph: from :func:`ldedit_core.io.read_radiograph` (or ``Radiograph.from_array``).
        roi: float ``[H, W]`` in [0, 1] at the radiograph's size (see :func:`ldedit_core.io.read_roi`), or
            ``None`` for the automatic ROI.
        disease: one of the bundle's diseases, e.g. ``"cardiomegaly"``.
        n_followups: frames after the source (>= 1).
        target: the disease probability the last frame should reach; the guide is driven
            ``options.guide_margin`` logits past it (:func:`guide_goal`). With ``regress`` it falls to it.
        bundle: a loaded :class:`Bundle`, a bundle folder, or a name (default ``"default"``).
        device: ``"auto"`` (CUDA if present), ``"cpu"``, ``"cuda:0"``, ...
        options: :class:`EditOptions`.
        latents: ``[num_ws, D]``, this radiograph's inversion from an earlier call (e.g.
            :func:`synthesize_followups_batch`, or another disease on the same image): skips the inversion.
        progress: ``progress(stage, fraction, message)``.
        cancel: an Event-like or a callable, checked between steps.

    Raises:
        InputError: wrong-size or empty ROI, unknown disease, a bundle without directions, or an image the
            bundle cannot represent (inversion SSIM below ``options.min_inversion_ssim``).
        ldedit_core.progress.Cancelled: ``cancel`` was set; nothing is returned.
    """
    opts = options or EditOptions()
    if not isinstance(n_followups, int) or n_followups < 1:
        raise InputError(f"n_followups must be a whole number >= 1, got {n_followups!r}")
    if not 0.0 < float(target) < 1.0:
        raise InputError(f"target must be a probability strictly between 0 and 1, got {target!r}")
    roi = _check_roi(roi, radiograph.shape)
    dev = resolve_device(device)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    report(progress, "loading", 0.0, "loading the bundle")
    b = get_bundle(bundle, dev)
    parts = editing_parts(b)
    G, stats = parts["generator"], parts["stats"]
    name = _check_disease(disease, stats.diseases, list(b.meta["diseases"]))
    d_guide = list(b.meta["diseases"]).index(name)
    grid = GeneratorGrid.for_bundle(radiograph.shape, b.meta["preprocessing"])
    report(progress, "loading", 1.0, "bundle ready")
    lap("loading")

    check_cancel(cancel)
    x = grid.to_generator(radiograph.pixels).to(dev)
    if latents is None:
        inv = invert_with_bundle(b, x, seed=opts.seed, progress=progress, cancel=cancel, **opts.inversion)
        ws0_all, ssim_all, psnr_all = inv.ws, inv.ssim, inv.psnr
    else:
        ws0_all = latents.detach().to(dev, torch.float32).reshape(1, G.num_ws, G.w_dim)
        with torch.no_grad():
            rec = G.synthesis(ws0_all, noise_mode="const")
        ssim_all, psnr_all = image_ssim(rec, x), image_psnr(rec, x)
    ssim, psnr = float(ssim_all[0]), float(psnr_all[0])
    if ssim < opts.min_inversion_ssim:
        raise InputError(
            f"the generator cannot reproduce this image (SSIM {ssim:.2f} < {opts.min_inversion_ssim}); "
            f"is it a frontal chest radiograph like those bundle {b.meta['name']!r} was trained on?",
            radiograph.path,
        )
    ws0 = ws0_all[0].detach()
    lap("inversion")

    scale_of = lambda n: float(torch.sqrt(n.double() @ stats.cov @ n.double()))  # noqa: E731
    if roi is None:
        report(progress, "roi", 0.0, "computing the automatic ROI")
        n_global = global_direction(stats, name).to(ws0)
        roi_gen_np = automatic_roi(G, ws0, (-1 if regress else 1) * n_global, 3.0 * scale_of(n_global))
        roi_gen = torch.from_numpy(roi_gen_np)
        roi = (grid.difference_to_native(roi_gen * 2.0) > 0.5).astype(np.float32)
        if not roi.any():
            raise InputError(
                f"no region responds to {name} in this image; paint a ROI instead", radiograph.path
            )
        automatic = True
        lap("roi")
    else:
        roi_gen = grid.mask_to_generator(roi)
        automatic = False

    check_cancel(cancel)
    links = link_lr(
        G,
        ws0,
        roi_gen.to(dev),
        k=opts.k,
        margin=opts.margin,
        eps=opts.eps,
        layers=opts.layers,
        progress=progress,
        cancel=cancel,
    )
    lap("link_lr")
    direction = link_pca(links.directions.cpu(), stats, name, n_components=opts.n_components, keep=opts.keep)
    lap("link_pca")

    feather = opts.feather_px if opts.feather_px is not None else 1.5 * grid.side / grid.resolution
    weights = feather_weights(roi, feather)
    traj = plan_trajectory(
        G,
        parts["guide"],
        d_guide,
        ws0,
        direction.direction.to(ws0),
        n_frames=n_followups,
        target=guide_goal(float(target), opts.guide_margin, regress),
        regress=regress,
        layers=opts.layers,
        scale=scale_of(direction.direction),
        max_scale=opts.max_scale,
        scan_limit=opts.scan_limit,
        composite_onto=(x, grid.mask_to_generator(weights)) if opts.guide_composite else None,
        progress=progress,
        cancel=cancel,
    )
    lap("trajectory")

    report(progress, "compositing", 0.0, "compositing at native resolution")
    g = traj.images[:, 0].float()
    frames = []
    for t in range(1, n_followups + 1):
        check_cancel(cancel)
        frames.append(composite(radiograph.pixels, grid.difference_to_native(g[t] - g[0]), weights))
        report(progress, "compositing", t / n_followups, f"frame {t}/{n_followups}")
    lap("compositing")
    d_eval = list(b.meta["diseases"]).index(name)
    eval_probs = _evaluate(parts["evaluator"], grid, [radiograph.pixels, *frames], d_eval, dev)
    lap("evaluation")
    report(progress, "done", 1.0, "follow-ups ready")
    return FollowUps(
        source=radiograph,
        disease=name,
        target=float(target),
        regress=bool(regress),
        frames=frames,
        guide_probs=traj.guide_probs.numpy(),
        evaluator_probs=eval_probs,
        roi=roi,
        roi_generator=roi_gen.cpu().numpy(),
        automatic_roi=automatic,
        weights=weights,
        latents=traj.ws.detach().cpu(),
        generator_frames=g.detach().cpu(),
        inversion_ssim=ssim,
        inversion_psnr=psnr,
        reached=traj.reached,
        ratios=links.ratios.cpu().numpy(),
        correlations=direction.correlations.numpy(),
        timings=timings,
    )


def synthesize_followups_batch(
    radiographs: Sequence[Radiograph],
    rois: Sequence[np.ndarray | None],
    disease: str,
    *,
    bundle: Bundle | str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    options: EditOptions | None = None,
    batch: int = 16,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
    **kwargs: Any,
) -> list[FollowUps]:
    """:func:`synthesize_followups` for many radiographs: the inversion, which dominates, runs ``batch``
    images at a time (one batched optimisation on a GPU); each image is then edited with its latents.

    ``kwargs`` (``n_followups``, ``target``, ``regress``) apply to every image. Images may differ in size.
    """
    if len(radiographs) != len(rois):
        raise InputError(f"{len(radiographs)} radiographs but {len(rois)} ROIs")
    opts = options or EditOptions()
    dev = resolve_device(device)
    b = get_bundle(bundle, dev)
    latents = []
    for start in range(0, len(radiographs), batch):
        check_cancel(cancel)
        chunk = radiographs[start : start + batch]
        x = torch.cat(
            [GeneratorGrid.for_bundle(r.shape, b.meta["preprocessing"]).to_generator(r.pixels) for r in chunk]
        ).to(dev)
        inv = invert_with_bundle(b, x, seed=opts.seed, cancel=cancel, **opts.inversion)
        latents.extend(inv.ws.detach())
        report(
            progress, "inversion", (start + len(chunk)) / len(radiographs), f"{start + len(chunk)} inverted"
        )
    return [
        synthesize_followups(
            r, roi, disease, bundle=b, device=dev, options=opts, latents=ws, cancel=cancel, **kwargs
        )
        for r, roi, ws in zip(radiographs, rois, latents, strict=True)
    ]
