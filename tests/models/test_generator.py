"""StyleGAN2 generator and discriminator: shapes, W+ layout, and the purity Link-LR relies on."""

from __future__ import annotations

import pytest
import torch
from torch.func import jacfwd, jvp, vjp, vmap

from ldedit_core.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, build_network
from ldedit_core.models.discriminator import feature_distance

TINY = {"z_dim": 16, "w_dim": 16, "mapping_layers": 2, "channel_base": 256, "channel_max": 16}


def _g(resolution=16, channels=1, **kw):
    torch.manual_seed(0)
    return Generator(GeneratorConfig(resolution=resolution, channels=channels, **{**TINY, **kw}))


@pytest.mark.parametrize(("resolution", "num_ws"), [(8, 4), (16, 6), (32, 8), (64, 10)])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_num_ws(resolution, num_ws, channels):
    G = _g(resolution, channels)
    assert G.num_ws == num_ws == 2 * resolution.bit_length() - 4
    w = G.mapping(torch.randn(3, 16))
    assert w.shape == (3, 16)
    img = G.synthesis(G.broadcast(w))
    assert img.shape == (3, channels, resolution, resolution) and torch.isfinite(img).all()


def test_synthesis_is_deterministic_with_const_noise_and_random_noise_varies():
    G = _g()
    ws = G.broadcast(G.mapping(torch.randn(2, 16)))
    for block in G.synthesis.blocks:  # give noise a visible effect
        for layer in (getattr(block, "conv0", None), block.conv1):
            if layer is not None:
                layer.noise_strength.data.fill_(0.5)
    assert torch.equal(G.synthesis(ws, "const"), G.synthesis(ws, "const"))
    assert not torch.equal(G.synthesis(ws, "random"), G.synthesis(ws, "random"))
    assert not torch.equal(G.synthesis(ws, "const"), G.synthesis(ws, "none"))


def test_each_layer_latent_matters():
    """Every one of the num_ws latents changes the image (W+ is wired through)."""
    G = _g()
    ws = G.broadcast(G.mapping(torch.randn(1, 16))).clone()
    base = G.synthesis(ws)
    for i in range(G.num_ws):
        moved = ws.clone()
        moved[:, i] += 1.0
        assert not torch.allclose(G.synthesis(moved), base), f"ws[:, {i}] has no effect"


def test_jvp_matches_finite_difference():
    G = _g().double()
    w = G.mapping(torch.randn(1, 16, dtype=torch.float64)).detach()
    v = torch.randn_like(w)

    def f(w_):
        return G.synthesis(G.broadcast(w_))

    _, tangent = jvp(f, (w,), (v,))
    eps = 1e-6
    fd = (f(w + eps * v) - f(w - eps * v)) / (2 * eps)
    assert ((tangent - fd).norm() / tangent.norm()).item() < 1e-6


def test_vjp_is_the_adjoint_of_jvp():
    """<u, J v> from forward mode equals <J^T u, v> from reverse mode (torch.func.vjp)."""
    G = _g().double()
    w = G.mapping(torch.randn(1, 16, dtype=torch.float64)).detach()

    def f(w_):
        return G.synthesis(G.broadcast(w_), noise_mode="none")

    v = torch.randn_like(w)
    out, tangent = jvp(f, (w,), (v,))
    u = torch.randn_like(out)
    _, pullback = vjp(f, w)
    (cotangent,) = pullback(u)
    assert torch.allclose((u * tangent).sum(), (cotangent * v).sum(), rtol=1e-9)


def test_vmap_of_jvp_equals_a_loop_and_the_full_jacobian():
    G = _g().double()
    w = G.mapping(torch.randn(1, 16, dtype=torch.float64)).detach()

    def f(w_):
        return G.synthesis(G.broadcast(w_))

    basis = torch.eye(16, dtype=torch.float64).unsqueeze(1)  # [16, 1, 16]
    batched = vmap(lambda v: jvp(f, (w,), (v,))[1])(basis)
    looped = torch.stack([jvp(f, (w,), (v,))[1] for v in basis])
    torch.testing.assert_close(batched, looped)
    jac = jacfwd(f)(w)  # [1, 1, H, W, 1, D]
    torch.testing.assert_close(batched[:, 0, 0], jac[0, 0, :, :, 0, :].permute(2, 0, 1))


def test_truncation_pulls_towards_w_avg():
    G = _g()
    G.mapping.w_avg.normal_()
    z = torch.randn(4, 16)
    torch.testing.assert_close(G.mapping(z, truncation_psi=0.0), G.mapping.w_avg.expand(4, -1))
    full, half = G.mapping(z), G.mapping(z, truncation_psi=0.5)
    torch.testing.assert_close(half, (full + G.mapping.w_avg) / 2)


def test_w_avg_tracks_training_outputs():
    G = _g()
    before = G.mapping.w_avg.clone()
    G.mapping(torch.randn(8, 16), update_w_avg=True)
    assert not torch.equal(before, G.mapping.w_avg)


def test_bf16_autocast_runs():
    G = _g()
    ws = G.broadcast(G.mapping(torch.randn(2, 16)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        img = G.synthesis(ws)
    ref = G.synthesis(ws)
    assert torch.isfinite(img).all()
    assert (img.float() - ref).abs().mean() < 0.05 * ref.abs().mean() + 1e-3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda G: G.synthesis(torch.zeros(1, 5, 16)), "ws must have shape"),
        (lambda G: G.synthesis(torch.zeros(1, 6, 16), noise_mode="fresh"), "noise_mode"),
        (lambda G: G.mapping(torch.zeros(1, 3)), "z must have shape"),
    ],
)
def test_bad_inputs_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(_g())


def test_bad_configs():
    with pytest.raises(ValueError, match="channels"):
        GeneratorConfig(channels=2)
    with pytest.raises(ValueError, match="power of two"):
        Generator(GeneratorConfig(resolution=48, **TINY))


def test_discriminator_logits_features_and_perceptual_distance():
    torch.manual_seed(0)
    D = Discriminator(DiscriminatorConfig(resolution=16, channel_base=256, channel_max=16))
    img = torch.randn(4, 1, 16, 16, requires_grad=True)
    logits, feats = D(img, return_features=True)
    assert logits.shape == (4,) and len(feats) == 2  # 16 -> 8 -> 4
    logits.sum().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    other = torch.randn(4, 1, 16, 16)
    dist = feature_distance(D, img.detach(), other)
    assert dist.shape == (4,) and (dist > 0).all()
    assert torch.allclose(feature_distance(D, other, other), torch.zeros(4), atol=1e-7)
    with pytest.raises(ValueError, match="img must have shape"):
        D(torch.zeros(1, 1, 8, 8))


def test_registry_builds_from_json_configs():
    G = build_network("generator", {"resolution": 16, **TINY})
    assert isinstance(G, Generator) and G.num_ws == 6
    with pytest.raises(ValueError, match="did you mean 'generator'"):
        build_network("generater", {})
    with pytest.raises(ValueError, match="invalid config"):
        build_network("discriminator", {"resolutoin": 16})
