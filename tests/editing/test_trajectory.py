"""The trajectory: guide probabilities on a monotone ramp to the target, frames along the direction."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from ldedit_core.editing.trajectory import plan_trajectory
from ldedit_core.models import Generator, GeneratorConfig
from ldedit_core.progress import Cancelled

TINY = {"z_dim": 16, "w_dim": 16, "mapping_layers": 2, "channel_base": 256, "channel_max": 16}


class RoiBrightness(nn.Module):
    """A stand-in guide: the 'disease' is a brighter ROI (logit rises with its mean)."""

    def __init__(self, roi: torch.Tensor, offset: float) -> None:
        super().__init__()
        self.roi, self.offset = roi, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = (x[:, 0] * self.roi).sum((1, 2)) / self.roi.sum()
        return (8.0 * (mean - self.offset))[:, None]


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(resolution=16, **TINY)).eval()
    roi = torch.zeros(16, 16)
    roi[4:10, 4:10] = 1
    w = G.mapping(torch.randn(1, 16))[0].detach()
    ws0 = G.broadcast(w[None])[0].clone()
    v = torch.zeros(16, requires_grad=True)  # direction: gradient of the ROI's brightness
    img = G.synthesis((ws0 + v)[None])
    ((img[0, 0] * roi).sum() / roi.sum()).backward()
    direction = v.grad / v.grad.norm()
    with torch.no_grad():
        start = float((G.synthesis(ws0[None])[0, 0] * roi).sum() / roi.sum())
    guide = RoiBrightness(roi, offset=start + 0.35)  # healthy at the start: p0 = sigmoid(-2.8) ~ 0.06
    for p in G.parameters():
        p.requires_grad_(False)
    return G, guide, ws0, direction


@pytest.mark.parametrize("spacing", ["logit", "probability", "latent"])
def test_progression_is_monotone_and_reaches_the_target(setup, spacing):
    G, guide, ws0, direction = setup
    t = plan_trajectory(G, guide, 0, ws0, direction, n_frames=6, target=0.9, scale=1.0, spacing=spacing)
    p = t.guide_probs
    assert t.ws.shape == (7, *ws0.shape) and t.images.shape == (7, 1, 16, 16)
    assert torch.equal(t.ws[0], ws0)
    assert p[0] < 0.2 and t.reached and abs(float(p[-1]) - 0.9) < 0.03
    assert (p[1:] > p[:-1]).all(), p
    assert (t.positions[1:] > t.positions[:-1]).all()
    assert t.generator_evals > 0


def test_logit_spacing_follows_its_ramp(setup):
    G, guide, ws0, direction = setup
    t = plan_trajectory(G, guide, 0, ws0, direction, n_frames=5, target=0.9, scale=1.0)
    assert torch.allclose(t.guide_probs[1:], t.ramp[1:], atol=0.02)


def test_regression_falls(setup):
    G, guide, ws0, direction = setup
    t = plan_trajectory(G, guide, 0, ws0, direction, n_frames=4, target=0.01, regress=True, scale=1.0)
    assert (t.guide_probs[1:] < t.guide_probs[:-1]).all() and float(t.guide_probs[-1]) < 0.02
    assert (t.positions[1:] < 0).all()


def test_unreachable_target_is_reported(setup):
    G, guide, ws0, direction = setup
    t = plan_trajectory(G, guide, 0, ws0, direction, n_frames=3, target=0.9, scale=1e-4, max_scale=1.0)
    assert not t.reached and float(t.guide_probs[-1]) < 0.9


def test_cancel_and_bad_input(setup):
    G, guide, ws0, direction = setup
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        plan_trajectory(G, guide, 0, ws0, direction, cancel=stop)
    with pytest.raises(ValueError, match="target"):
        plan_trajectory(G, guide, 0, ws0, direction, target=1.0)
    with pytest.raises(ValueError, match="n_frames"):
        plan_trajectory(G, guide, 0, ws0, direction, n_frames=0)
    with pytest.raises(ValueError, match="spacing"):
        plan_trajectory(G, guide, 0, ws0, direction, spacing="even")


def test_scan_goes_on_past_max_scale_until_the_target_or_the_limit(setup):
    G, guide, ws0, direction = setup
    kw = {"n_frames": 4, "target": 0.9}
    s_end = float(plan_trajectory(G, guide, 0, ws0, direction, scale=1.0, **kw).positions[-1])
    scale = s_end / 20  # the target lies 20 units out; the first scan covers 8
    short = plan_trajectory(G, guide, 0, ws0, direction, scale=scale, **kw)
    assert not short.reached
    far = plan_trajectory(G, guide, 0, ws0, direction, scale=scale, scan_limit=48.0, **kw)
    assert far.reached and abs(float(far.guide_probs[-1]) - 0.9) < 0.03
    assert float(far.positions[-1]) == pytest.approx(s_end, rel=0.05)
    assert (far.guide_probs[1:] > far.guide_probs[:-1]).all()
    capped = plan_trajectory(G, guide, 0, ws0, direction, scale=scale, scan_limit=12.0, **kw)
    assert not capped.reached and capped.generator_evals > short.generator_evals
    # reached within max_scale: the limit changes nothing
    near = plan_trajectory(G, guide, 0, ws0, direction, scale=1.0, scan_limit=48.0, **kw)
    assert float(near.positions[-1]) == pytest.approx(s_end)
