"""Learning-rate schedules and the plateau test that ends an optimisation stage early."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EarlyStop:
    """Stop a stage when its loss has plateaued: the best (batch-mean) loss of the last ``window`` steps
    improves on the best before them by less than ``min_improvement``, relative.

    Args:
        window: steps compared; a stage runs at least ``2 * window`` steps before it may stop.
        min_improvement: relative improvement below which the stage stops (1e-3 = 0.1 %).
    """

    window: int = 20
    min_improvement: float = 1e-3

    def __post_init__(self) -> None:
        if not isinstance(self.window, int) or self.window < 1:
            raise ValueError(f"EarlyStop.window must be a positive integer, got {self.window!r}")
        if not 0 <= self.min_improvement < 1:
            raise ValueError(f"EarlyStop.min_improvement must be in [0, 1), got {self.min_improvement!r}")

    def plateaued(self, losses: list[float]) -> bool:
        """``losses``: this stage's batch-mean losses so far, one per step."""
        if len(losses) < 2 * self.window:
            return False
        before = min(losses[: -self.window])
        recent = min(losses[-self.window :])
        return before - recent < self.min_improvement * abs(before)


def cosine_lr(step: int, total: int, base: float, *, warmup: float = 0.05) -> float:
    """Linear warm-up over the first ``warmup`` fraction of ``total`` steps, then cosine decay towards 0.

    The warm-up keeps Adam's first, poorly normalised steps small; the decay lets the latents settle.
    """
    ramp = min(1.0, (step + 1) / max(1, round(warmup * total)))
    return base * ramp * 0.5 * (1.0 + math.cos(math.pi * step / max(1, total)))


def projector_lr(step: int, total: int, base: float) -> float:
    """StyleGAN2 projector's schedule: warm-up over 5 %, constant, cosine ramp-down over the last 25 %."""
    t = step / max(1, total)
    ramp = min(1.0, (1.0 - t) / 0.25)
    warm = min(1.0, (step + 1) / max(1.0, 0.05 * total))  # (step + 1): the first step is not wasted at lr 0
    return base * (0.5 - 0.5 * math.cos(ramp * math.pi)) * warm
