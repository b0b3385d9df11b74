"""GAN inversion: radiographs -> W+ latents of a StyleGAN2 generator (method.md, section 1).

Encoder initialisation (if any) -> optimise one w per image in W -> optimise per-layer ws in W+ (optionally
per-image noise maps), each stage with Adam, a cosine learning-rate schedule with a short warm-up and an
early stop on plateau. W first because it keeps the latent where the generator was trained (W+ alone fits
faster but lands where edits behave worse: e4e's distortion-editability trade-off); W+ then recovers the
detail a single w cannot express, starting from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ldedit_core.inversion.common import (
    Best,
    Inversion,
    check_images,
    check_positive,
    check_steps,
    finish,
    frozen,
)
from ldedit_core.inversion.objective import LossWeights, Objective, noise_buffers, normalize_noise
from ldedit_core.inversion.schedule import EarlyStop, cosine_lr
from ldedit_core.progress import ProgressCallback, check_cancel, report

STAGE = "inversion"
#: A stage's view of its latents: the ws ``[N, num_ws, D]`` to render, the noise maps (or ``None``), and
#: the tensors to keep for each image whose loss is its best so far.
Evaluate = Callable[[], tuple[torch.Tensor, dict[str, torch.Tensor] | None, dict[str, torch.Tensor]]]


class _Run:
    """Bookkeeping shared by the stages: history, step count, progress over the planned total, cancel."""

    def __init__(self, planned: int, progress: ProgressCallback | None, cancel: Any) -> None:
        self.planned, self.progress, self.cancel = max(1, planned), progress, cancel
        self.history: list[dict] = []
        self.steps = 0
        self.offset = 0  # planned steps of the stages already done (keeps fractions monotone on early stops)

    def record(self, stage: str, step: int, lr: float, terms: dict[str, torch.Tensor]) -> None:
        entry = {"stage": stage, "step": self.steps, "lr": lr, "loss": terms["total"].mean().item()}
        entry.update({k: v.mean().item() for k, v in terms.items() if k != "total"})
        self.history.append(entry)
        self.steps += 1
        report(
            self.progress,
            STAGE,
            (self.offset + step + 1) / self.planned,
            f"{stage} step {step + 1}: loss {entry['loss']:.4g}",
        )


def _optimise(
    run: _Run,
    objective: Objective,
    stage: str,
    params: list[torch.Tensor],
    evaluate: Evaluate,
    *,
    steps: int,
    lr: float,
    early_stop: EarlyStop | None,
    best: Best,
    after_step: Callable[[], None] | None = None,
) -> None:
    """Run one stage, keeping each image's best evaluated state in ``best`` (so no stage ends worse than
    where it started, whatever Adam does)."""
    optimizer = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
    losses: list[float] = []
    for t in range(steps):
        check_cancel(run.cancel)
        step_lr = cosine_lr(t, steps, lr)
        for group in optimizer.param_groups:
            group["lr"] = step_lr
        ws, noise, state = evaluate()
        images, terms = objective(ws, noise)
        best.update(terms["total"], images=images, **state)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].sum().backward()  # a sum: each image's gradient is its own
        optimizer.step()
        if after_step is not None:
            after_step()
        losses.append(terms["total"].mean().item())
        run.record(stage, t, step_lr, terms)
        if early_stop is not None and early_stop.plateaued(losses):
            break
    if steps or not best.state:  # the latents after the last update (or the start, if no steps) count too
        with torch.no_grad():
            ws, noise, state = evaluate()
            images, terms = objective(ws, noise)
        best.update(terms["total"], images=images, **state)
    run.offset += steps


def invert(
    G: nn.Module,
    images: torch.Tensor,
    *,
    encoder: nn.Module | None = None,
    discriminator: nn.Module | None = None,
    w_steps: int = 100,
    wplus_steps: int = 150,
    lr: float = 0.03,
    weights: LossWeights = LossWeights(),  # noqa: B008 (frozen, so a shared default is safe)
    noise_maps: bool = False,
    early_stop: EarlyStop | None = EarlyStop(),  # noqa: B008
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> Inversion:
    """Invert a batch of images into G's W+ space; G, the encoder and D are left exactly as they were.

    Args:
        G: the generator (``mapping.w_avg``, ``broadcast``, ``synthesis``); the inversion runs on its device.
        images: ``[N, C, R, R]`` in [-1, 1], C and R as G's; moved to G's device.
        encoder: image -> W+ network; its output starts both stages (W from its mean over layers; W+ from
            it directly for every image where it beats the W stage's result). Without it both start at
            ``w_avg``.
        discriminator: adds the D-feature term to the loss (weight ``weights.discriminator``).
        w_steps, wplus_steps: maximum Adam steps of the W and W+ stages (0 skips a stage).
        lr: peak Adam learning rate (the latents of the shipped generator have a per-coordinate standard
            deviation of about 0.7).
        weights: loss weights (:class:`LossWeights`).
        noise_maps: also optimise per-image noise maps in the W+ stage (returned in ``Inversion.noise``).
            Raises ``ValueError`` if G's synthesis network has no constant noise buffers.
        early_stop: plateau rule per stage and batch (:class:`EarlyStop`); ``None`` runs every step.
        seed: accepted so one seed can be handed to every inversion method; this one draws no random
            numbers (StyleGAN2's decaying latent noise and random restarts were tried and did not help, and
            noise would tie each image's result to the rest of the batch), so the same inputs always give
            the same result.
        progress: ``progress("inversion", fraction, message)`` after every step, and ``1.0`` at the end.
        cancel: an Event-like or callable; checked before every step (raises ``Cancelled``).

    Returns:
        An :class:`Inversion` on the device ``images`` came on.

    Raises:
        TypeError: ``images``/``weights``/``early_stop`` of the wrong type.
        ValueError: images of the wrong shape or not finite, bad step counts or ``lr``, an encoder whose
            output does not fit G, or ``noise_maps`` without noise buffers.
        Cancelled: ``cancel`` was set.

    Example:
        >>> bundle = load_bundle("default")
        >>> inv = invert(bundle.generator, images, encoder=bundle.encoder, discriminator=bundle.discriminator)
        >>> inv.ssim                             # [N]: above 0.99 on generator samples, ~0.9 on phantoms
        >>> bundle.generator.synthesis(inv.ws)   # == inv.reconstructions (all on the CPU here)
    """
    out_device = images.device if torch.is_tensor(images) else torch.device("cpu")
    target = check_images(G, images)
    check_steps(w_steps=w_steps, wplus_steps=wplus_steps)
    check_positive(lr=lr)
    if not isinstance(weights, LossWeights):
        raise TypeError(f"weights must be a LossWeights, got {type(weights).__name__}")
    if early_stop is not None and not isinstance(early_stop, EarlyStop):
        raise TypeError(f"early_stop must be an EarlyStop or None, got {type(early_stop).__name__}")
    buffers = noise_buffers(G) if noise_maps else {}
    if noise_maps and not buffers:
        raise ValueError("noise_maps=True, but G.synthesis has no constant noise buffers to optimise")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    n, device = target.shape[0], target.device
    run = _Run(w_steps + wplus_steps, progress, cancel)

    with frozen(G, encoder, discriminator):
        objective = Objective(G, target, weights, discriminator)
        enc_ws = _encode(encoder, G, target) if encoder is not None else None
        w0 = enc_ws.mean(dim=1) if enc_ws is not None else G.mapping.w_avg.to(device).expand(n, -1)

        # stage 1: one w per image, broadcast to every layer
        w = w0.detach().clone().requires_grad_(True)
        best_w = Best(n, device)
        _optimise(
            run,
            objective,
            "w",
            [w],
            lambda: (G.broadcast(w), None, {"w": w}),
            steps=w_steps,
            lr=lr,
            early_stop=early_stop,
            best=best_w,
        )

        # stage 2 starts, per image, from whichever reconstructs better: stage 1 or the encoder's W+
        start = {k: b.reshape(1, 1, *b.shape).expand(n, -1, -1, -1).clone() for k, b in buffers.items()}
        best = Best(n, device)
        best.update(best_w.loss, ws=G.broadcast(best_w.state["w"]), images=best_w.state["images"], **start)
        if enc_ws is not None:
            with torch.no_grad():
                enc_images, enc_terms = objective(enc_ws)
            best.update(enc_terms["total"], ws=enc_ws, images=enc_images, **start)
        ws = best.state["ws"].clone().requires_grad_(True)
        noise = {k: best.state[k].clone().requires_grad_(True) for k in buffers}
        _optimise(
            run,
            objective,
            "w+",
            [ws, *noise.values()],
            lambda: (ws, noise or None, {"ws": ws, **noise}),
            steps=wplus_steps,
            lr=lr,
            early_stop=early_stop,
            best=best,
            after_step=(lambda: normalize_noise(noise)) if noise else None,
        )
    report(
        progress, STAGE, 1.0, f"done: {run.steps} steps, {objective.generator_evals} generator evaluations"
    )
    return finish(
        target,
        ws=best.state["ws"],
        w=best_w.state["w"],
        reconstructions=best.state["images"],
        generator_evals=objective.generator_evals,
        steps=run.steps,
        history=run.history,
        noise={k: best.state[k] for k in buffers} if buffers else None,
        out_device=out_device,
    )


def _encode(encoder: nn.Module, G: nn.Module, target: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        ws = encoder(target)
    expected = (target.shape[0], G.num_ws, G.w_dim)
    if not torch.is_tensor(ws) or tuple(ws.shape) != expected:
        got = tuple(ws.shape) if torch.is_tensor(ws) else type(ws).__name__
        raise ValueError(
            f"the encoder must return ws of shape {list(expected)} for this generator, got {got}"
        )
    return ws.float()


def invert_with_bundle(bundle: Any, images: torch.Tensor, **kwargs: Any) -> Inversion:
    """:func:`invert` with the bundle's generator, encoder and discriminator (``kwargs`` may override the
    last two, e.g. ``encoder=None``).

    Example:
        >>> inv = invert_with_bundle(load_bundle("default"), images, wplus_steps=100)
    """
    if getattr(bundle, "generator", None) is None:
        raise ValueError("the bundle has no generator loaded")
    kwargs.setdefault("encoder", bundle.encoder)
    kwargs.setdefault("discriminator", bundle.discriminator)
    return invert(bundle.generator, images, **kwargs)
