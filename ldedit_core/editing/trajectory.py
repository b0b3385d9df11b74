"""The gradual sequence: frames along a disease direction whose guide probability follows a monotone ramp.

method.md section 4 optimises all steps jointly under alignment, equal-step, background and guidance
losses. Here the alignment and span constraints hold by construction (every frame is ``w_0 + s_t n`` with
``n`` inside span(U) and ``s_t`` increasing), so what is left is one scalar per frame: ``s_t`` is chosen
so that the guide's probability follows the ramp from ``p(w_0)`` to the target. That is solved by a
batched scan along the ray (monotone envelope, inverted by interpolation) and a few batched secant steps,
which costs ~50 generator evaluations instead of hundreds of gradient steps, and makes the guide
probability monotone wherever the classifier is monotone along the ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ldedit_core.progress import ProgressCallback, check_cancel, report


@dataclass
class Trajectory:
    """Frames 0..T along the direction.

    Attributes:
        ws: ``[T+1, num_ws, D]`` latents; frame 0 is the start.
        positions: ``[T+1]`` signed distance ``s_t`` along the unit direction (negative when regressing).
        ramp: ``[T+1]`` the guide probability asked for at each frame.
        guide_probs: ``[T+1]`` the guide probability reached.
        images: ``[T+1, C, R, R]`` generator outputs in [-1, 1].
        reached: whether the last frame reached the target.
        generator_evals: single-image generator evaluations spent.
    """

    ws: torch.Tensor
    positions: torch.Tensor
    ramp: torch.Tensor
    guide_probs: torch.Tensor
    images: torch.Tensor
    reached: bool
    generator_evals: int


def apply_edit(ws0: torch.Tensor, displacement: torch.Tensor, layers: tuple[int, int] | None) -> torch.Tensor:
    """``ws0 [num_ws, D]`` plus ``displacement [T, D]`` on the layer range -> ``[T, num_ws, D]``."""
    num_ws = ws0.shape[0]
    start, stop = layers if layers is not None else (0, num_ws)
    mask = torch.zeros(num_ws, 1, dtype=ws0.dtype, device=ws0.device)
    mask[start:stop] = 1.0
    return ws0.unsqueeze(0) + mask.unsqueeze(0) * displacement.unsqueeze(1)


class _Probe:
    """Batched generator + guide evaluation along ``ws0 + s * direction``; counts generator evaluations."""

    def __init__(
        self, G: nn.Module, guide: nn.Module, disease_index: int, ws0, direction, layers, batch: int
    ):
        self.G, self.guide, self.d = G, guide, disease_index
        self.ws0, self.direction, self.layers, self.batch = ws0, direction, layers, batch
        self.evals = 0

    @torch.no_grad()
    def __call__(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ws = apply_edit(self.ws0, s.to(self.ws0)[:, None] * self.direction[None], self.layers)
        probs, images = [], []
        for i in range(0, ws.shape[0], self.batch):
            img = self.G.synthesis(ws[i : i + self.batch], noise_mode="const")
            probs.append(torch.sigmoid(self.guide(img).float())[:, self.d])
            images.append(img)
        self.evals += ws.shape[0]
        return torch.cat(probs).cpu().double(), torch.cat(images), ws


def _invert_envelope(s: torch.Tensor, p: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Smallest ``s`` where the running maximum of ``p`` reaches each target (linear interpolation)."""
    env = torch.cummax(p, 0).values
    out = torch.empty_like(targets)
    for i, r in enumerate(targets.tolist()):
        j = int(torch.searchsorted(env.contiguous(), torch.tensor([r], dtype=env.dtype), right=False)[0])
        if j == 0:
            out[i] = s[0]
        elif j >= len(s):
            out[i] = s[-1]
        else:
            lo, hi = env[j - 1], env[j]
            frac = 0.0 if hi <= lo else float((r - lo) / (hi - lo))
            out[i] = s[j - 1] + frac * (s[j] - s[j - 1])
    return out


def _logit(oriented_p: torch.Tensor, regress: bool) -> torch.Tensor:
    p = (-oriented_p if regress else oriented_p).clamp(0.02, 0.98)
    return torch.log(p / (1 - p))


def plan_trajectory(
    G: nn.Module,
    guide: nn.Module,
    disease_index: int,
    ws0: torch.Tensor,
    direction: torch.Tensor,
    *,
    n_frames: int = 10,
    target: float = 0.9,
    regress: bool = False,
    layers: tuple[int, int] | None = None,
    scale: float = 1.0,
    max_scale: float = 8.0,
    grid: int = 33,
    secant_steps: int = 3,
    spacing: str = "logit",
    batch: int = 16,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> Trajectory:
    """Frames ``w_0 .. w_T`` along ``direction`` with the guide probability on a monotone ramp.

    Args:
        G: the generator; guide: the guiding classifier (logits ``[N, n_diseases]``).
        disease_index: the guide's output column to follow.
        ws0: ``[num_ws, D]`` the start (the inverted image).
        direction: ``[D]`` unit direction toward the disease (from :func:`link_pca`).
        n_frames: T, the number of follow-ups (frames 1..T).
        target: the guide probability of the last frame; with ``regress`` the probability falls to it.
        layers: the W+ layer range the direction applies to (None = all).
        scale: the population's standard deviation along ``direction``; the scan goes to ``max_scale`` of it.
        grid: scan points; secant_steps: batched refinements of every frame toward its ramp value.
        spacing: how frames share the way to the target: ``"logit"`` (even steps of the guide's logit,
            from 2 %: gradual at both ends), ``"probability"`` (even steps of probability) or ``"latent"``
            (even latent steps; the probability follows the classifier's own curve).

    Raises:
        ValueError: bad ``n_frames``, ``target`` or shapes.
    """
    if spacing not in ("logit", "probability", "latent"):
        raise ValueError(f"spacing must be logit, probability or latent, got {spacing!r}")
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be a probability in (0, 1), got {target}")
    if ws0.ndim != 2 or direction.shape != (ws0.shape[1],):
        raise ValueError(
            f"expected ws0 [num_ws, D] and direction [D], got {tuple(ws0.shape)} and {tuple(direction.shape)}"
        )
    sign = -1.0 if regress else 1.0
    unit = (direction / direction.norm()).to(ws0)
    probe = _Probe(G, guide, disease_index, ws0, sign * unit, layers, batch)

    def oriented(p: torch.Tensor) -> torch.Tensor:  # rising toward the goal in both modes
        return -p if regress else p

    s_grid = torch.linspace(0.0, max_scale * scale, grid, dtype=torch.float64)
    p_grid, _, _ = probe(s_grid)
    report(progress, "trajectory", 0.4, "scanned the direction")
    check_cancel(cancel)
    p0 = float(p_grid[0])
    goal = oriented(torch.tensor(target, dtype=torch.float64))
    env = torch.cummax(oriented(p_grid), 0).values
    reached = bool(env[-1] >= goal)
    end = goal if reached else env[-1]
    start = oriented(torch.tensor(p0, dtype=torch.float64))
    if end <= start:  # already at or past the target: nothing to grow toward
        end = start
    fractions = torch.linspace(0.0, 1.0, n_frames + 1, dtype=torch.float64)
    if spacing == "logit":  # even steps of the guide's logit (from a floor of 2 %)
        lo, hi = _logit(start, regress), _logit(end, regress)
        ramp = oriented(torch.sigmoid(lo + (hi - lo) * fractions))
        ramp[0] = start
    else:
        ramp = start + (end - start) * fractions
    s = _invert_envelope(s_grid, oriented(p_grid), ramp)
    if spacing == "latent":  # equal latent steps up to where the target is reached
        s = s[-1] * fractions
    s[0] = 0.0
    p, images, ws = probe(s)
    if spacing == "latent":
        ramp = oriented(p)  # the ramp is whatever equal steps give
    for step in range(
        secant_steps if spacing != "latent" else 0
    ):  # pull each frame's probability onto its ramp value
        check_cancel(cancel)
        q = oriented(p)
        err = ramp - q
        if float(err[1:].abs().max()) < 5e-3:
            break
        # local slope from the scan's envelope; fall back to a small nudge where it is flat
        slope = torch.gradient(oriented(p_grid), spacing=(s_grid,))[0]
        local = torch.from_numpy(np.interp(s.numpy(), s_grid.numpy(), slope.clamp_min(1e-6).numpy()))
        s_new = (s + err / local).clamp(0.0, float(s_grid[-1]))
        s_new[0] = 0.0
        s_new = torch.cummax(s_new, 0).values
        p_new, images_new, ws_new = probe(s_new)
        better = (ramp - oriented(p_new)).abs() < err.abs()
        better[0] = False
        s = torch.where(better, s_new, s)
        p = torch.where(better, p_new, p)
        images = torch.where(better.to(images.device)[:, None, None, None], images_new, images)
        ws = torch.where(better.to(ws.device)[:, None, None], ws_new, ws)
        report(progress, "trajectory", 0.4 + 0.6 * (step + 1) / secant_steps, "refining the frames")
    report(progress, "trajectory", 1.0, "done")
    reached = reached and bool(oriented(p[-1]) >= goal - 0.02)
    return Trajectory(
        ws=ws,
        positions=(sign * s).float(),
        ramp=oriented(ramp).float(),
        guide_probs=p.float(),
        images=images,
        reached=reached,
        generator_evals=probe.evals,
    )
