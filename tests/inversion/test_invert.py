"""GAN inversion on a tiny CPU generator (and once on the shipped bundle): recovery, determinism, stages,
progress and cancel, input checks, the caller's networks left untouched, and the projector baseline."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from ldedit_core.inversion import (
    EarlyStop,
    Inversion,
    LossWeights,
    invert,
    invert_with_bundle,
    project_baseline,
    synthesize,
)
from ldedit_core.inversion.objective import Objective, noise_buffers
from ldedit_core.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from ldedit_core.models.discriminator import feature_distance
from ldedit_core.progress import Cancelled

TINY = {"z_dim": 16, "w_dim": 16, "mapping_layers": 2, "channel_base": 256, "channel_max": 16}
FAST = {"w_steps": 6, "wplus_steps": 6, "early_stop": None}


def tiny_generator(resolution: int = 16, seed: int = 1) -> Generator:
    """A seeded random generator whose ``w_avg`` is the mean of its mapped samples (as after training)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = Generator(GeneratorConfig(resolution=resolution, **TINY))
        with torch.no_grad():
            G.mapping.w_avg.copy_(G.mapping(torch.randn(512, 16)).mean(0))
    return G.requires_grad_(True)  # as a caller's module usually is; invert must not train it


def tiny_discriminator(resolution: int = 16) -> Discriminator:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        return Discriminator(DiscriminatorConfig(resolution=resolution, channel_base=256, channel_max=16))


def samples(G: Generator, n: int, seed: int = 0, psi: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``(w [n, D], G(w) [n, C, R, R])`` for latents drawn near the generator's typical ones."""
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        w = G.mapping(z, truncation_psi=psi)
        return w, G.synthesis(G.broadcast(w))


class OracleEncoder(nn.Module):
    """Returns fixed ws whatever the image: stands in for a perfect (or a poor) trained encoder."""

    def __init__(self, ws: torch.Tensor) -> None:
        super().__init__()
        self.ws = nn.Parameter(ws.clone())

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.ws[: img.shape[0]]


# ---- recovery -----------------------------------------------------------------------------------------
def test_inverting_generator_samples_recovers_them():
    G = tiny_generator()
    _, target = samples(G, 2)
    inv = invert(G, target, w_steps=50, wplus_steps=50, lr=0.05)
    assert isinstance(inv, Inversion)
    assert (inv.ssim > 0.95).all(), inv.ssim  # 0.996 and 0.999 when written
    assert (inv.psnr > 25).all(), inv.psnr
    assert inv.ws.shape == (2, G.num_ws, G.w_dim) and inv.w.shape == (2, G.w_dim)
    assert inv.reconstructions.shape == target.shape
    assert inv.ws.dtype == torch.float32 and not inv.ws.requires_grad
    with torch.no_grad():  # the latents reproduce the reconstructions
        torch.testing.assert_close(G.synthesis(inv.ws), inv.reconstructions)
    assert inv.steps == len(inv.history) <= 100
    assert inv.generator_evals >= 2 * inv.steps


def test_same_inputs_and_seed_give_identical_results():
    G, D = tiny_generator(), tiny_discriminator()
    _, target = samples(G, 2)
    a = invert(G, target, discriminator=D, seed=3, **FAST)
    b = invert(G, target, discriminator=D, seed=3, **FAST)
    assert torch.equal(a.ws, b.ws) and torch.equal(a.reconstructions, b.reconstructions)
    assert a.history == b.history and a.generator_evals == b.generator_evals
    # invert draws no random numbers, so the seed does not change the result either
    assert torch.equal(a.ws, invert(G, target, discriminator=D, seed=4, **FAST).ws)


def test_each_image_inverts_as_it_would_alone():
    G = tiny_generator()
    _, target = samples(G, 2)
    both = invert(G, target, **FAST)
    alone = invert(G, target[1:], **FAST)
    torch.testing.assert_close(both.ws[1:], alone.ws, atol=1e-5, rtol=1e-4)


# ---- stages -------------------------------------------------------------------------------------------
def _losses(G, target, ws, D=None):
    with torch.no_grad():
        return Objective(G, target, LossWeights(), D)(ws)[1]["total"]


def test_w_plus_stage_never_ends_worse_than_the_w_stage():
    G = tiny_generator()
    _, target = samples(G, 3, seed=5)
    D = tiny_discriminator()
    # a learning rate far too high makes Adam overshoot; the result must still not be worse than stage 1
    inv = invert(G, target, discriminator=D, w_steps=10, wplus_steps=4, lr=2.0, early_stop=None)
    after_w = _losses(G, target, G.broadcast(inv.w), D=D)
    final = _losses(G, target, inv.ws, D=D)
    assert (final <= after_w + 1e-7).all(), (final, after_w)
    stages = [h["stage"] for h in inv.history]
    assert stages == ["w"] * 10 + ["w+"] * 4


def test_a_better_encoder_start_is_kept_and_a_worse_one_dropped():
    G = tiny_generator()
    w_true, _ = samples(G, 2)
    ws_true = G.broadcast(w_true) + 0.3 * torch.randn(
        2, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(7)
    )
    with torch.no_grad():
        target = G.synthesis(ws_true)  # a W+ latent: no single w reproduces it
    perfect = OracleEncoder(ws_true)
    inv = invert(G, target, encoder=perfect, w_steps=3, wplus_steps=0)
    assert torch.equal(inv.ws, ws_true)  # the W stage, starting at its mean over layers, cannot beat it
    assert (inv.ssim > 0.999).all()
    far = OracleEncoder(G.broadcast(w_true) + 5.0)
    poor = invert(G, target, encoder=far, w_steps=30, wplus_steps=0, early_stop=None)
    assert not torch.equal(poor.ws, far.ws.detach())
    torch.testing.assert_close(poor.ws, G.broadcast(poor.w))


def test_early_stop_ends_a_stage_on_a_plateau():
    G = tiny_generator()
    w_true, target = samples(G, 2)
    start = OracleEncoder(G.broadcast(w_true) + 0.01)
    rule = EarlyStop(window=5, min_improvement=0.05)
    inv = invert(G, target, encoder=start, w_steps=60, wplus_steps=60, lr=0.01, early_stop=rule)
    assert inv.steps < 120
    assert rule.plateaued([1.0] * 10) and not rule.plateaued([1.0] * 5 + [0.5] * 5)
    assert not rule.plateaued([1.0] * 9)  # needs two windows


def test_noise_maps_are_per_image_and_reproduce_the_reconstruction():
    G = tiny_generator()
    for name, p in G.synthesis.named_parameters():
        if name.endswith("noise_strength"):
            p.data.fill_(0.3)  # make noise visible
    _, target = samples(G, 2)
    buffers_before = {k: v.clone() for k, v in noise_buffers(G).items()}
    inv = invert(G, target, noise_maps=True, **FAST)
    assert set(inv.noise) == set(buffers_before)
    for name, maps in inv.noise.items():
        assert maps.shape == (2, 1, *buffers_before[name].shape)
    with torch.no_grad():
        torch.testing.assert_close(synthesize(G, inv.ws, inv.noise), inv.reconstructions)
    for name, buf in noise_buffers(G).items():
        assert torch.equal(buf, buffers_before[name])


def test_noise_maps_need_noise_buffers():
    G = tiny_generator()
    for layer in G.synthesis.modules():
        if hasattr(layer, "noise_const"):
            del layer._buffers["noise_const"]
            layer.noise_const = torch.zeros(())  # a plain attribute, not a buffer: nothing to optimise
    _, target = samples(tiny_generator(), 1)
    with pytest.raises(ValueError, match="no constant noise buffers"):
        invert(G, target, noise_maps=True, **FAST)


def test_discriminator_term_is_the_models_feature_distance():
    G, D = tiny_generator(), tiny_discriminator()
    _, target = samples(G, 2)
    ws = G.broadcast(samples(G, 2, seed=9)[0])
    with torch.no_grad():
        images, terms = Objective(G, target, LossWeights(), D)(ws)
        torch.testing.assert_close(terms["discriminator"], feature_distance(D, images, target))


# ---- the caller's networks -----------------------------------------------------------------------------
def test_networks_are_left_exactly_as_they_were():
    G, D = tiny_generator(), tiny_discriminator()
    _, target = samples(G, 2)
    enc = OracleEncoder(G.broadcast(samples(G, 2, seed=3)[0]))
    G.train()
    D.eval()
    D.blocks[0].train()
    enc.ws.requires_grad_(False)
    before = {id(m): {k: v.clone() for k, v in m.state_dict().items()} for m in (G, D, enc)}
    modes = {id(m): [s.training for s in m.modules()] for m in (G, D, enc)}
    flags = {id(m): [p.requires_grad for p in m.parameters()] for m in (G, D, enc)}
    invert(G, target, encoder=enc, discriminator=D, **FAST)
    for m in (G, D, enc):
        after = m.state_dict()
        assert all(torch.equal(before[id(m)][k], after[k]) for k in after)
        assert [s.training for s in m.modules()] == modes[id(m)]
        assert [p.requires_grad for p in m.parameters()] == flags[id(m)]
        assert all(p.grad is None for p in m.parameters())


# ---- progress and cancel ------------------------------------------------------------------------------
def test_progress_is_monotone_and_ends_at_one_even_with_early_stops():
    G = tiny_generator()
    _, target = samples(G, 1)
    calls = []
    rule = EarlyStop(window=2, min_improvement=0.5)
    invert(G, target, w_steps=8, wplus_steps=8, early_stop=rule, progress=lambda *a: calls.append(a))
    fractions = [f for _, f, _ in calls]
    assert {stage for stage, _, _ in calls} == {"inversion"}
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(calls) >= 2


def test_cancel_raises_and_restores_the_networks():
    G = tiny_generator()
    _, target = samples(G, 1)
    event = threading.Event()
    seen = []

    def progress(stage, fraction, message):
        seen.append(fraction)
        if len(seen) == 3:
            event.set()

    with pytest.raises(Cancelled):
        invert(G, target, progress=progress, cancel=event, **FAST)
    assert len(seen) == 3
    assert G.training and all(p.requires_grad for p in G.parameters())
    with pytest.raises(Cancelled):
        project_baseline(G, target, steps=5, cancel=lambda: True)


# ---- input checks -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.zeros(2, 1, 32, 32), r"images must have shape \[N, 1, 16, 16\]"),
        (torch.zeros(2, 3, 16, 16), r"images must have shape \[N, 1, 16, 16\]"),
        (torch.zeros(1, 16, 16), r"images must have shape"),
        (torch.zeros(0, 1, 16, 16), "empty batch"),
        (torch.full((1, 1, 16, 16), float("nan")), "NaN or infinite"),
        (torch.zeros(1, 1, 16, 16, dtype=torch.uint8), "floating point"),
    ],
)
def test_bad_images_raise_value_errors(images, message):
    G = tiny_generator()
    with pytest.raises(ValueError, match=message):
        invert(G, images)
    with pytest.raises(ValueError, match=message):
        project_baseline(G, images)


def test_bad_options_raise():
    G = tiny_generator()
    x = torch.zeros(1, 1, 16, 16)
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        invert(G, x.numpy())
    with pytest.raises(ValueError, match="w_steps must be an integer >= 0"):
        invert(G, x, w_steps=-1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        invert(G, x, lr=0)
    with pytest.raises(TypeError, match="weights must be a LossWeights"):
        invert(G, x, weights={"l2": 1.0})
    with pytest.raises(ValueError, match=r"LossWeights\.ms_ssim"):
        LossWeights(ms_ssim=-1)
    with pytest.raises(ValueError, match=r"EarlyStop\.window"):
        EarlyStop(window=0)
    with pytest.raises(ValueError, match="the encoder must return ws of shape"):
        invert(G, x, encoder=OracleEncoder(torch.zeros(1, 3, 16)), **FAST)
    with pytest.raises(ValueError, match="target_ssim"):
        project_baseline(G, x, target_ssim=1.5)


# ---- the projector baseline ---------------------------------------------------------------------------
def test_baseline_stops_at_the_target_ssim_and_counts_generator_evaluations():
    G = tiny_generator()
    _, target = samples(G, 2)
    inv = project_baseline(G, target, steps=300, target_ssim=0.8)
    assert (inv.ssim >= 0.8).all(), inv.ssim
    assert inv.steps < 300
    # every step renders only the images still short of the target
    assert inv.steps <= inv.generator_evals <= 2 * inv.steps
    torch.testing.assert_close(inv.ws, G.broadcast(inv.w))
    with torch.no_grad():
        torch.testing.assert_close(G.synthesis(inv.ws), inv.reconstructions)
    full = project_baseline(G, target, steps=20)
    assert full.steps == 20 and full.generator_evals == 2 * 21  # 20 steps + the final latents
    again = project_baseline(G, target, steps=20)
    assert torch.equal(full.ws, again.ws)


# ---- the shipped bundle -------------------------------------------------------------------------------
def test_shipped_bundle_inverts_its_own_samples_in_a_few_steps():
    from ldedit_core import load_bundle

    bundle = load_bundle("default")
    G = bundle.generator
    _, target = samples(G, 2, seed=11, psi=1.0)
    inv = invert_with_bundle(bundle, target, w_steps=10, wplus_steps=10)
    assert (inv.ssim > 0.9).all(), inv.ssim
    assert inv.steps <= 20 and inv.ws.shape == (2, bundle.num_ws, bundle.w_dim)
