"""A regulariser that keeps each disease's decision boundary in W a hyperplane.

Link-PCA (method.md section 3) reads the disease direction from the population's *linear* moments: a
logistic regression of the label on PC scores. That only works while the disease is (close to) linear in
W. Plain StyleGAN2 training does not keep it so: on the phantoms, cardiomegaly went from linear-probe
AUROC 0.90 at 133 kimg to 0.65 at 300 kimg while a small MLP still read it at 0.98
(``benchmarks/direction_linearity.py``), and the later generators could no longer be edited.

The penalty asks, for random pairs ``w1, w2 = mapping(z1), mapping(z2)`` and ``t ~ U(0, 1)``, that the frozen
guide's logit at ``lerp(w1, w2, t)`` lies between the endpoint logits: along every segment the disease
then rises or falls monotonically, so the diseased set and its complement are both convex, and two
complementary convex sets are separated by a hyperplane -- what a logistic model in W assumes. A first
version asked the logit to be *affine* along segments; it could not be met, because a guide trained on
clean labels is steep: along healthy -> diseased lines its logit jumps from -7 to +5 within a fifth of
the segment, in every generator measured, the editable one included (docs/default-bundle.md, History).

The violation is divided by each disease's logit variance in the batch, gradients included, so no
disease dominates and the penalty cannot be met by flattening a disease away (with the variance detached,
the 64 px phantom generator lost a third of its effusions within 19 kimg). The codes are detached from the
mapping network, so it cannot be met by shrinking W either. No library offers this (it is specific to
Link-PCA's assumption), hence written here; like R1 it is applied lazily.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class DiseaseLinearity:
    """The penalty, with the frozen guide classifier that defines the diseases.

    Args:
        guide: a disease classifier taking the generator's images ([-1, 1], same resolution and channels).
        batch: number of (w1, w2, t) triples per evaluation.
    """

    def __init__(self, guide: nn.Module, *, batch: int = 8) -> None:
        self.guide = guide.eval().requires_grad_(False)
        self.batch = int(batch)

    @classmethod
    def from_file(
        cls, path: str | Path, *, resolution: int, channels: int, batch: int = 8, device: str | torch.device
    ) -> DiseaseLinearity:
        """Load a ``train-classifier`` weights file (or its run folder) and check it fits the generator.

        Raises:
            InputError: missing or unreadable file, or a classifier for other images.
        """
        from ldedit_core.errors import InputError
        from ldedit_core.training.classifier_trainer import WEIGHTS, load_classifier

        path = Path(path)
        if path.is_dir():
            path = path / WEIGHTS
        guide, meta = load_classifier(path, device=device)
        cfg = meta.get("config", {})
        got = (cfg.get("resolution"), cfg.get("in_channels"))
        if got != (resolution, channels):
            raise InputError(
                f"linearity guide takes {got[1]}-channel {got[0]} px images; the generator makes "
                f"{channels}-channel {resolution} px",
                path,
            )
        return cls(guide, batch=batch)

    def penalty(self, G: nn.Module) -> torch.Tensor:
        """Mean over diseases of ``E[d(logit(w_t), [logit(w1), logit(w2)])^2] / Var[logit]``, where ``d`` is
        the distance from the interval between the endpoint logits; invariant to each logit's scale.

        Draws z and t from the global RNG (the trainer seeds it per step, so resuming stays exact).
        """
        n = self.batch
        device = G.mapping.w_avg.device
        with torch.no_grad():
            w = G.mapping(torch.randn(2 * n, G.z_dim, device=device), update_w_avg=False)
        w1, w2 = w[:n], w[n:]
        t = torch.rand(n, 1, device=device)
        ws = torch.cat([w1, w2, torch.lerp(w1, w2, t)])
        logits = self.guide(G.synthesis(G.broadcast(ws), noise_mode="const")).float()
        l1, l2, lt = logits[:n], logits[n : 2 * n], logits[2 * n :]
        residual = F.relu(lt - torch.maximum(l1, l2)) + F.relu(torch.minimum(l1, l2) - lt)
        scale = torch.cat([l1, l2]).var(dim=0).clamp(min=1e-6)  # only guards a constant logit
        return (residual.square().mean(dim=0) / scale).mean()
