"""Link-LR: the forward-mode Jacobian, the generalized eigenproblem, and its inputs, on tiny generators."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy import ndimage

from ldedit_core.editing import (
    LinkLR,
    background_mask,
    jacobian_reverse_per_pixel,
    latent_jacobian,
    link_lr,
    shift_ws,
)
from ldedit_core.models import Generator, GeneratorConfig
from ldedit_core.progress import Cancelled

TINY = {"z_dim": 16, "w_dim": 16, "mapping_layers": 2, "channel_base": 256, "channel_max": 16}
R = 16


def _g(resolution: int = R, channels: int = 1) -> Generator:
    torch.manual_seed(0)
    return Generator(GeneratorConfig(resolution=resolution, channels=channels, **TINY)).eval()


@pytest.fixture(scope="module")
def G() -> Generator:
    return _g()


@pytest.fixture(scope="module")
def w(G) -> torch.Tensor:
    torch.manual_seed(1)
    return G.mapping(torch.randn(1, G.z_dim))[0].detach()


@pytest.fixture(scope="module")
def roi() -> torch.Tensor:
    m = torch.zeros(R, R)
    m[3:8, 9:14] = 1
    return m


def _explicit_ws(base: torch.Tensor, v: torch.Tensor, layers: tuple[int, int] | None) -> torch.Tensor:
    """``base [num_ws, D]`` with ``v`` added on ``layers``, by concatenation, not shift_ws."""
    start, stop = layers or (0, base.shape[0])
    edited = base[start:stop] + v
    return torch.cat([base[:start], edited, base[stop:]]).unsqueeze(0)


def _reference_jacobian(G, base: torch.Tensor, layers=None) -> torch.Tensor:
    """``[C*R*R, D]`` by torch.autograd.functional.jacobian (reverse mode)."""

    def f(v):
        return G.synthesis(_explicit_ws(base, v, layers), noise_mode="const").reshape(-1)

    return torch.autograd.functional.jacobian(f, torch.zeros(base.shape[1]))


def _reference_link_lr(J: torch.Tensor, roi: torch.Tensor, margin: int, eps: float, channels: int = 1):
    """Brute force: Gram matrices with explicit diagonals in numpy float64, scipy's generalized eigh."""
    J = J.double().numpy()
    m = np.tile(roi.double().numpy().ravel(), channels)
    inside = ndimage.binary_dilation(roi.numpy() > 0, np.ones((2 * margin + 1,) * 2))
    b = np.tile(1.0 - inside.ravel(), channels)
    mf = J.T @ np.diag(m) @ J / m.sum()
    mb = J.T @ np.diag(b) @ J / b.sum()
    d = J.shape[1]
    values, vectors = scipy.linalg.eigh(mf, mb + eps * np.trace(mb) / d * np.eye(d))
    return values[::-1], vectors[:, ::-1].T


def test_latent_jacobian_matches_autograd(G, w):
    J = latent_jacobian(G, w)
    assert J.shape == (R * R, G.w_dim) and J.dtype == torch.float32
    torch.testing.assert_close(J, _reference_jacobian(G, w.expand(G.num_ws, -1)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_directions_agree_with_brute_force(channels, roi):
    G = _g(channels=channels)
    w = G.mapping(torch.randn(1, G.z_dim))[0].detach()
    found = link_lr(G, w, roi, k=3, margin=1, eps=1e-3)
    values, vectors = _reference_link_lr(
        _reference_jacobian(G, w.expand(G.num_ws, -1)), roi, margin=1, eps=1e-3, channels=channels
    )
    for i in range(3):
        u = vectors[i] / np.linalg.norm(vectors[i])
        assert abs(float(found.directions[i].double() @ torch.from_numpy(u))) > 0.99, f"direction {i}"
    np.testing.assert_allclose(found.ratios.numpy(), values[:3], rtol=1e-3)


def test_unit_norm_descending_and_deterministic_sign(G, w, roi):
    found = link_lr(G, w, roi, k=8, margin=1)
    assert isinstance(found, LinkLR) and found.k == 8 and found.directions.shape == (8, G.w_dim)
    assert found.directions.dtype == torch.float32 and found.ratios.dtype == torch.float32
    torch.testing.assert_close(found.directions.norm(dim=1), torch.ones(8))
    assert (found.ratios[:-1] >= found.ratios[1:]).all() and (found.ratios > 0).all()
    biggest = found.directions.gather(1, found.directions.abs().argmax(dim=1, keepdim=True))
    assert (biggest > 0).all()
    torch.testing.assert_close(found.background, background_mask(roi, 1))
    torch.testing.assert_close(found.roi, roi)


def _inside_outside(G, w, roi, direction, step=0.05):
    base = G.synthesis(shift_ws(G, w, torch.zeros(G.w_dim)))
    moved = G.synthesis(shift_ws(G, w, step * direction))
    change = ((moved - base) ** 2)[0, 0]
    outside = background_mask(roi, 1) > 0
    return (change[roi > 0].mean() / change[outside].mean()).item()


def test_top_direction_moves_the_roi_more_than_random_directions(G, w, roi):
    found = link_lr(G, w, roi, k=1, margin=1)
    with torch.no_grad():
        top = _inside_outside(G, w, roi, found.directions[0])
        torch.manual_seed(2)
        randoms = [_inside_outside(G, w, roi, F / F.norm()) for F in torch.randn(10, G.w_dim)]
    assert top > 3 * max(randoms), (top, randoms)
    assert top == pytest.approx(found.ratios[0].item(), rel=0.2)  # small step: the linear ratio


def test_layer_range_edits_only_those_layers(G):
    torch.manual_seed(3)
    base = G.mapping(torch.randn(G.num_ws, G.z_dim)).detach()  # a W+ point: a different w per layer
    layers = (1, 3)
    J = latent_jacobian(G, base, layers=layers)
    torch.testing.assert_close(J, _reference_jacobian(G, base, layers), rtol=1e-4, atol=1e-5)
    v = torch.randn(G.w_dim)
    ws = shift_ws(G, base, v, layers=layers)
    torch.testing.assert_close(ws, _explicit_ws(base, v, layers))
    assert torch.equal(ws[0, :1], base[:1]) and torch.equal(ws[0, 3:], base[3:])
    # v is added to every selected layer, so the Jacobians of disjoint ranges add up to all layers'
    parts = latent_jacobian(G, base, layers=(0, 3)) + latent_jacobian(G, base, layers=(3, G.num_ws))
    torch.testing.assert_close(parts, latent_jacobian(G, base), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(latent_jacobian(G, base, layers=(0, G.num_ws)), latent_jacobian(G, base))
    assert not torch.allclose(J, latent_jacobian(G, base), atol=1e-3)


def test_layer_range_link_lr_reports_its_layers(G, w, roi):
    found = link_lr(G, w, roi, k=2, margin=1, layers=(2, 5))
    assert found.layers == (2, 5)
    assert link_lr(G, w, roi, k=2, margin=1).layers is None


def test_chunk_size_does_not_change_the_result(G, w, roi):
    J = latent_jacobian(G, w, chunk=32)
    for chunk in (1, 5, 16):
        torch.testing.assert_close(latent_jacobian(G, w, chunk=chunk), J, rtol=1e-5, atol=1e-6)
    a, b = link_lr(G, w, roi, k=3, margin=1, chunk=3), link_lr(G, w, roi, k=3, margin=1, chunk=32)
    torch.testing.assert_close(a.directions, b.directions, rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(a.ratios, b.ratios, rtol=1e-4, atol=1e-6)


def test_reverse_per_pixel_equals_forward_mode(G, w):
    J = latent_jacobian(G, w)
    torch.testing.assert_close(jacobian_reverse_per_pixel(G, w), J, rtol=1e-4, atol=1e-6)
    rows = [0, 17, 255]
    torch.testing.assert_close(jacobian_reverse_per_pixel(G, w, rows=rows), J[rows], rtol=1e-4, atol=1e-6)


def test_generator_left_untouched():
    G = _g().train()
    G.synthesis.blocks[0].eval()  # a mixed state must come back as it was
    modes = [m.training for m in G.modules()]
    w = G.mapping(torch.randn(1, G.z_dim))[0].detach()
    roi = torch.zeros(R, R, dtype=torch.bool)
    roi[4:9, 4:9] = True
    link_lr(G, w, roi, k=2, margin=1)
    jacobian_reverse_per_pixel(G, w, rows=[0, 1])
    assert [m.training for m in G.modules()] == modes
    assert all(p.grad is None and p.requires_grad for p in G.parameters())


def test_background_mask_is_a_square_dilation():
    roi = torch.zeros(R, R)
    roi[5, 6], roi[10:12, 2:4] = 0.3, 1.0  # soft values count as inside
    for margin in (0, 1, 3):
        expected = 1 - ndimage.binary_dilation(roi.numpy() > 0, np.ones((2 * margin + 1,) * 2))
        np.testing.assert_array_equal(background_mask(roi, margin).numpy(), expected.astype(np.float32))
    assert background_mask(roi > 0, 2).dtype == torch.float32


def test_progress_and_cancel(G, w, roi):
    calls = []
    link_lr(G, w, roi, k=2, margin=1, chunk=4, progress=lambda *a: calls.append(a))
    fractions = [f for _, f, _ in calls]
    assert {s for s, _, _ in calls} == {"link-lr"} and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len(calls) >= 1 + G.w_dim // 4
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        link_lr(G, w, roi, k=2, cancel=stop)


def _full(value=1.0):
    return torch.full((R, R), value)


def _corners():  # dilated by 2 it covers everything
    m = torch.zeros(R, R)
    m[1::4, 1::4] = 1
    return m


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"roi": torch.ones(8, 8)}, ValueError, r"roi must have shape \[16, 16\]"),
        ({"roi": torch.ones(1, R, R)}, ValueError, "roi must have shape"),
        ({"roi": torch.zeros(R, R)}, ValueError, "roi is empty"),
        ({"roi": _full()}, ValueError, "no background left"),
        ({"roi": _corners(), "margin": 2}, ValueError, "no background left"),
        ({"roi": _full(2.0)}, ValueError, r"roi values must lie in \[0, 1\]"),
        ({"roi": torch.ones(R, R, dtype=torch.int64)}, TypeError, "bool or floating"),
        ({"k": 0}, ValueError, "k must be"),
        ({"k": 17}, ValueError, "k must be"),
        ({"margin": -1}, ValueError, "margin must be"),
        ({"eps": -1.0}, ValueError, "eps must be"),
        ({"chunk": 0}, ValueError, "chunk must be"),
        ({"layers": (3, 3)}, ValueError, "layers must be"),
        ({"layers": (0, 7)}, ValueError, "layers must be"),
        ({"w": torch.zeros(5, 16)}, ValueError, "w must have shape"),
    ],
)
def test_bad_inputs_are_named(G, w, roi, kwargs, error, message):
    args = {"w": w, "roi": roi, "margin": 1, **kwargs}
    with pytest.raises(error, match=message):
        link_lr(G, args.pop("w"), args.pop("roi"), **args)
