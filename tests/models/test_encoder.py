"""The image -> W+ encoder (shapes, identity at initialisation, input checks) and the SSIM/PSNR metrics."""

from __future__ import annotations

import pytest
import torch

from ldedit_core.models import Generator, GeneratorConfig, build_network
from ldedit_core.models.encoder import Encoder, EncoderConfig, layer_groups
from ldedit_core.models.image_metrics import psnr, ssim

SMALL = {"channel_base": 128, "channel_max": 16, "fpn_channels": 8, "head_hidden": 16}


@pytest.mark.parametrize("resolution", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_is_w_plus_of_the_generator(resolution, channels):
    g = GeneratorConfig(resolution=resolution, channels=channels, w_dim=24)
    E = Encoder(EncoderConfig.for_generator(g, **SMALL))
    ws = E(torch.rand(3, channels, resolution, resolution) * 2 - 1)
    num_ws = 2 * (resolution.bit_length() - 1) - 2
    assert ws.shape == (3, num_ws, 24)
    assert E.num_ws == Generator(g).num_ws == num_ws


def test_a_new_encoder_returns_w_avg_for_any_image():
    torch.manual_seed(0)
    w_avg = torch.randn(16)
    E = Encoder(EncoderConfig(resolution=16, w_dim=16, num_ws=6, **SMALL), w_avg=w_avg)
    ws = E(torch.rand(4, 1, 16, 16) * 2 - 1)
    assert torch.equal(ws, w_avg.expand(4, 6, 16))


def test_after_training_steps_the_output_depends_on_the_image():
    torch.manual_seed(0)
    E = Encoder(EncoderConfig(resolution=16, w_dim=16, num_ws=6, **SMALL))
    opt = torch.optim.Adam(E.parameters(), lr=1e-2)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    for _ in range(3):
        opt.zero_grad()
        (E(x) - torch.ones(2, 6, 16)).square().mean().backward()
        opt.step()
    ws = E(x)
    assert not torch.allclose(ws[0], ws[1])


def test_layer_groups_partition_w_plus_by_resolution():
    assert layer_groups(10) == {"coarse": [0, 1, 2, 3], "medium": [4, 5, 6, 7], "fine": [8, 9]}
    for n in (4, 6, 12, 18):
        groups = layer_groups(n)
        assert [i for g in ("coarse", "medium", "fine") for i in groups[g]] == list(range(n))


def test_bad_input_and_config_raise_clear_errors():
    E = Encoder(EncoderConfig(resolution=16, w_dim=16, num_ws=6, **SMALL))
    with pytest.raises(ValueError, match=r"img must have shape \[N, 1, 16, 16\]"):
        E(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="w_avg must be a tensor of shape"):
        E.set_w_avg(torch.zeros(5))
    with pytest.raises(ValueError, match="resolution must be a power of two"):
        EncoderConfig(resolution=48)
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        EncoderConfig(channels=2)


def test_registry_builds_the_encoder_and_its_weights_round_trip():
    cfg = EncoderConfig(resolution=16, w_dim=16, num_ws=6, **SMALL)
    torch.manual_seed(1)
    E = Encoder(cfg, w_avg=torch.randn(16))
    F = build_network("encoder", cfg.to_dict())
    F.load_state_dict(E.state_dict())
    x = torch.rand(2, 1, 16, 16)
    assert torch.equal(E(x), F(x))


# ---- image metrics (ldedit_core.models.image_metrics) --------------------------------------------------
def test_ssim_is_one_for_identical_images_and_matches_monai():
    from monai.metrics import SSIMMetric

    torch.manual_seed(0)
    a = torch.rand(3, 1, 32, 32) * 2 - 1
    b = (a + 0.2 * torch.randn_like(a)).clamp(-1, 1)
    assert torch.allclose(ssim(a, a), torch.ones(3))
    ours = ssim(a, b)
    theirs = SSIMMetric(spatial_dims=2, data_range=2.0, reduction="none")(a, b).flatten()
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert (ours < 0.95).all()


def test_ssim_works_on_images_smaller_than_the_window_and_is_differentiable():
    a = (torch.rand(2, 1, 8, 8) * 2 - 1).requires_grad_(True)
    value = ssim(a, torch.zeros(2, 1, 8, 8))
    value.sum().backward()
    assert value.shape == (2,) and a.grad is not None


def test_psnr_of_a_known_error():
    a = torch.zeros(2, 1, 8, 8)
    # MSE 0.01 over a range of 2: 10 log10(4 / 0.01) = 26.02 dB
    assert torch.allclose(psnr(a + 0.1, a), torch.full((2,), 26.0206), atol=1e-3)
    with pytest.raises(ValueError, match="must both have shape"):
        psnr(a, torch.zeros(2, 1, 4, 4))
