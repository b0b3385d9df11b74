"""The gradual sequence: frames along a disease direction whose guide probability follows a monotone ramp.

method.md section 4 optimises all steps jointly under alignment, equal-step, background and guidance
losses. Here the alignment and span constraints hold by construction (every frame is ``w_0 + s_t n`` with
``n`` inside span(U) and ``s_t`` increasing), so what is left is one scalar per frame: ``s_t`` is chosen
so that the guide's probability follows the ramp from ``p(w_0)`` to the target. That is solved by a
batched scan along the ray and a batched bisection of every frame inside the scan cell where the running
maximum first reaches its ramp value: about ``grid + 8 T`` generator evaluations, in a handful of batches,
instead of hundreds of gradient steps over all frames, and the guide probability is monotone wherever the
classifier is monotone along the ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ldedit_core.editing.link_lr import shift_ws
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


class _Probe:
    """Batched generator + guide evaluation along ``ws0 + s * direction``; counts generator evaluations."""

    def __init__(
        self,
        G: nn.Module,
        guide: nn.Module,
        disease_index: int,
        ws0,
        direction,
        layers,
        batch: int,
        target=None,
    ):
        self.G, self.guide, self.d = G, guide, disease_index
        self.ws0, self.direction, self.layers, self.batch = ws0, direction, layers, batch
        self.evals = 0
        self.composite = None
        if target is not None:  # guide the composited frame: target + weights * (G(w) - G(w0))
            image, weights = target
            with torch.no_grad():
                g0 = G.synthesis(ws0[None], noise_mode="const")
            self.composite = (image.to(g0), weights.to(g0), g0)
        self.evals += 1 if target is not None else 0

    def guide_input(self, img: torch.Tensor) -> torch.Tensor:
        if self.composite is None:
            return img
        image, weights, g0 = self.composite
        return (image + weights * (img - g0)).clamp(-1.0, 1.0)

    @torch.no_grad()
    def __call__(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ws = shift_ws(self.G, self.ws0, s.to(self.ws0)[:, None] * self.direction[None], layers=self.layers)
        probs, images = [], []
        for i in range(0, ws.shape[0], self.batch):
            img = self.G.synthesis(ws[i : i + self.batch], noise_mode="const")
            probs.append(torch.sigmoid(self.guide(self.guide_input(img)).float())[:, self.d])
            images.append(img)
        self.evals += ws.shape[0]
        return torch.cat(probs).cpu().double(), torch.cat(images), ws


def _brackets(s: torch.Tensor, q: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each target, the grid cell ``[lo, hi]`` where the running maximum of ``q`` first reaches it."""
    env = torch.cummax(q, 0).values.contiguous()
    j = torch.searchsorted(env, targets.contiguous(), right=False).clamp(1, len(s) - 1)
    return s[j - 1], s[j]


def _bisect(probe: _Probe, s_grid, q_grid, targets, oriented, iters: int, cancel) -> torch.Tensor:
    """Positions where the oriented probability first reaches each target: batched bisection in the cells
    the scan found (robust where the curve is steep or flat, unlike secant steps)."""
    lo, hi = _brackets(s_grid, q_grid, targets)
    for _ in range(iters):
        check_cancel(cancel)
        mid = 0.5 * (lo + hi)
        q_mid = oriented(probe(mid)[0])
        below = q_mid < targets
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return hi


def _logit(oriented_p: torch.Tensor, regress: bool, target: float) -> torch.Tensor:
    """Logit of the probability, floored at 2 % from either end (or half the target's distance to it)."""
    floor = min(0.02, target / 2, (1 - target) / 2)
    p = (-oriented_p if regress else oriented_p).clamp(floor, 1 - floor)
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
    composite_onto: tuple[torch.Tensor, torch.Tensor] | None = None,
    scale: float = 1.0,
    max_scale: float = 8.0,
    scan_limit: float | None = None,
    grid: int = 33,
    bisect_steps: int = 8,
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
        composite_onto: ``(image [1, C, R, R], weights [R, R])``: the guide then judges what the user
            will get, ``image + weights * (G(w_t) - G(w_0))`` (the source on the generator grid with the
            change pasted into the feathered ROI), instead of the generator's own frame. Without it the
            guide can be satisfied by changes the compositing throws away.
        scale: the population's standard deviation along ``direction``; the scan goes to ``max_scale`` of it.
        scan_limit: if the target is not reached by ``max_scale``, the scan goes on, one more
            ``max_scale``-long stretch at a time, until it is or ``scan_limit`` (in the same units) is passed;
            ``None``: no extension. How far a disease lies along its direction varies between generators.
        grid: scan points; bisect_steps: batched bisection steps placing every frame in its grid cell.
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
    probe = _Probe(G, guide, disease_index, ws0, sign * unit, layers, batch, composite_onto)

    def oriented(p: torch.Tensor) -> torch.Tensor:  # rising toward the goal in both modes
        return -p if regress else p

    s_grid = torch.linspace(0.0, max_scale * scale, grid, dtype=torch.float64)
    p_grid, _, _ = probe(s_grid)
    goal_p = oriented(torch.tensor(target, dtype=torch.float64))
    while scan_limit is not None and oriented(p_grid).max() < goal_p and s_grid[-1] < scan_limit * scale:
        check_cancel(cancel)
        more = s_grid[-1] + torch.linspace(0.0, max_scale * scale, grid, dtype=torch.float64)[1:]
        s_grid, p_grid = torch.cat([s_grid, more]), torch.cat([p_grid, probe(more)[0]])
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
    if spacing == "logit":  # even steps of the guide's logit (see _logit for the floor)
        lo, hi = _logit(start, regress, target), _logit(end, regress, target)
        ramp = oriented(torch.sigmoid(lo + (hi - lo) * fractions))
        ramp[0] = start
    else:
        ramp = start + (end - start) * fractions
    q_grid = oriented(p_grid)
    if spacing == "latent":  # equal latent steps up to where the target is reached
        s_end = _bisect(probe, s_grid, q_grid, end.reshape(1), oriented, bisect_steps, cancel)
        s = s_end * fractions
    else:
        s = _bisect(probe, s_grid, q_grid, ramp[1:], oriented, bisect_steps, cancel)
        s = torch.cat([torch.zeros(1, dtype=s.dtype), torch.cummax(s, 0).values])
    report(progress, "trajectory", 0.8, "placed the frames")
    p, images, ws = probe(s)
    if spacing == "latent":
        ramp = oriented(p)  # the ramp is whatever equal steps give
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
