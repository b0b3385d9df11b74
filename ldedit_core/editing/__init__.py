"""Editing: ROI-linked latent directions (Link-LR)."""

from __future__ import annotations

from ldedit_core.editing.link_lr import (
    LinkLR,
    background_mask,
    jacobian_reverse_per_pixel,
    latent_jacobian,
    link_lr,
    shift_ws,
)

__all__ = [
    "LinkLR",
    "background_mask",
    "jacobian_reverse_per_pixel",
    "latent_jacobian",
    "link_lr",
    "shift_ws",
]
