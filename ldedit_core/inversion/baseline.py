"""The baseline the benchmark compares :func:`~ldedit_core.inversion.invert` with: StyleGAN2's projector.

Start at ``w_avg``, optimise one w per image in W with Adam on pixel L2 only, with the projector's
learning-rate ramps and decaying latent noise (its escape from poor local minima), 1000 steps. LPIPS, the
projector's own loss, needs downloaded VGG weights; pixel L2 is the loss it would fall back to here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ldedit_core.inversion.common import Inversion, check_images, check_positive, check_steps, finish, frozen
from ldedit_core.inversion.schedule import projector_lr
from ldedit_core.models.image_metrics import ssim
from ldedit_core.progress import ProgressCallback, check_cancel, report

STAGE = "inversion"
#: The projector's latent noise: ``w_std * 0.05 * max(0, 1 - t / 0.75) ** 2`` at progress t in [0, 1].
NOISE_FACTOR, NOISE_RAMP = 0.05, 0.75
W_STD_SAMPLES = 1000


def project_baseline(
    G: nn.Module,
    images: torch.Tensor,
    *,
    steps: int = 1000,
    lr: float = 0.1,
    seed: int = 0,
    target_ssim: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> Inversion:
    """Projector-style inversion in W with pixel L2; counts generator evaluations for the benchmark.

    Args:
        G: the generator; runs on its device and is left as it was.
        images: ``[N, C, R, R]`` in [-1, 1].
        steps: maximum Adam steps.
        lr: peak learning rate (the projector's 0.1).
        seed: seeds the latent noise and the ``w_std`` estimate (same inputs and seed, same result).
        target_ssim: if given, an image is done at the first step its reconstruction reaches this SSIM: its
            latent is kept and it leaves the batch, so ``generator_evals`` counts only evaluations spent on
            images still short of it; the run stops when every image is done. Images that never get there
            are returned at their final step (see ``Inversion.ssim``).
        progress, cancel: as for :func:`~ldedit_core.inversion.invert`.

    Returns:
        An :class:`Inversion` whose ``ws`` is ``w`` broadcast to every layer.

    Example:
        >>> inv = project_baseline(G, images, target_ssim=0.9)
        >>> inv.generator_evals, inv.steps
    """
    out_device = images.device if torch.is_tensor(images) else torch.device("cpu")
    target = check_images(G, images)
    check_steps(steps=steps)
    check_positive(lr=lr)
    if target_ssim is not None and not (isinstance(target_ssim, int | float) and -1 < target_ssim <= 1):
        raise ValueError(f"target_ssim must be a number in (-1, 1] or None, got {target_ssim!r}")
    n, device = target.shape[0], target.device
    rng = torch.Generator(device=device).manual_seed(int(seed))
    history: list[dict] = []
    evals = 0
    with frozen(G), torch.no_grad():
        z = torch.randn(W_STD_SAMPLES, G.z_dim, generator=rng, device=device)
        w_avg = G.mapping.w_avg.to(device)
        w_std = (G.mapping(z) - w_avg).square().sum(dim=1).mean().sqrt().item()  # as the projector: a norm
    w = w_avg.expand(n, -1).clone().requires_grad_(True)
    kept_w, kept_images = w.detach().clone(), torch.zeros_like(target)
    active = torch.ones(n, dtype=torch.bool, device=device)
    optimizer = torch.optim.Adam([w], lr=lr, betas=(0.9, 0.999))
    run_steps = 0
    with frozen(G):
        for t in range(steps):
            check_cancel(cancel)
            step_lr = projector_lr(t, steps, lr)
            for group in optimizer.param_groups:
                group["lr"] = step_lr
            scale = w_std * NOISE_FACTOR * max(0.0, 1.0 - t / (NOISE_RAMP * steps)) ** 2
            noise = torch.randn(w.shape, generator=rng, device=device) * scale  # drawn for all: seed-stable
            idx = active.nonzero().squeeze(1)
            w_eval = (w + noise)[idx]
            recon = G.synthesis(G.broadcast(w_eval), noise_mode="const")
            evals += len(idx)
            loss = (recon - target[idx]).square().mean(dim=(1, 2, 3))  # [n_active]
            kept_w[idx], kept_images[idx] = w_eval.detach(), recon.detach()
            run_steps += 1
            if target_ssim is not None:
                with torch.no_grad():
                    done = ssim(recon, target[idx]) >= target_ssim
                active[idx[done]] = False
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimizer.step()
            history.append({"stage": "w", "step": t, "lr": step_lr, "loss": loss.mean().item()})
            report(
                progress,
                STAGE,
                (t + 1) / max(1, steps),
                f"baseline step {t + 1}: loss {history[-1]['loss']:.4g}",
            )
            if not active.any():
                break
        if active.any():  # the latents after the last update, without noise
            idx = active.nonzero().squeeze(1)
            with torch.no_grad():
                recon = G.synthesis(G.broadcast(w[idx]), noise_mode="const")
            evals += len(idx)
            kept_w[idx], kept_images[idx] = w[idx].detach(), recon
    report(progress, STAGE, 1.0, f"done: {run_steps} steps, {evals} generator evaluations")
    return finish(
        target,
        ws=G.broadcast(kept_w),
        w=kept_w,
        reconstructions=kept_images,
        generator_evals=evals,
        steps=run_steps,
        history=history,
        noise=None,
        out_device=out_device,
    )
