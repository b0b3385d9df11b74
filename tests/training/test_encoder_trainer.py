"""Encoder training: losses fall, resume is bit-exact, inputs are checked, and the CLI runs end to end."""

from __future__ import annotations

import json

import pytest
import torch

from ldedit_core.errors import InputError
from ldedit_core.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from ldedit_core.models.encoder import EncoderConfig
from ldedit_core.training.encoder_trainer import (
    EncoderTrainer,
    EncoderTrainingConfig,
    image_terms,
    latent_distance,
    load_encoder,
    load_gan,
)

TINY = GeneratorConfig(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16)
SMALL = {"channel_base": 256, "channel_max": 32, "fpn_channels": 16, "head_hidden": 32}


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    G = Generator(TINY).eval()
    with torch.no_grad():  # an untrained mapping never updated w_avg; set it as training would
        G.mapping.w_avg.copy_(G.mapping(torch.randn(1000, TINY.z_dim)).mean(0))
    return G


@pytest.fixture(scope="module")
def discriminator() -> Discriminator:
    torch.manual_seed(1)
    return Discriminator(DiscriminatorConfig(resolution=16, channel_base=256, channel_max=16)).eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randint(0, 256, (12, 1, 16, 16), generator=torch.Generator().manual_seed(2)).to(torch.uint8)


def _config(**kw) -> EncoderTrainingConfig:
    return EncoderTrainingConfig(encoder=EncoderConfig.for_generator(TINY, **SMALL), **kw)


def test_training_lowers_the_latent_and_image_losses(generator):
    cfg = _config(batch=8, real_fraction=0.0, lr=3e-3, latent_weight=5.0, style_mixing=0.0)
    trainer = EncoderTrainer(cfg, generator)
    ws, x = trainer.generated(32, torch.Generator().manual_seed(99))  # fixed evaluation batch

    @torch.no_grad()
    def losses() -> tuple[float, float]:
        ws_hat = trainer.encoder(x)
        x_hat = trainer.G.synthesis(ws_hat, noise_mode="const")
        return float(latent_distance(ws_hat, ws).mean()), float(image_terms(x_hat, x)["l2"].mean())

    latent0, image0 = losses()
    for _ in range(40):
        trainer.train_step()
    latent1, image1 = losses()
    assert latent1 < 0.97 * latent0
    assert image1 < 0.7 * image0


def test_the_callers_networks_are_left_untouched(generator, discriminator, images):
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    trainer = EncoderTrainer(_config(batch=4), generator, images=images, discriminator=discriminator)
    trainer.train_step()
    assert all(torch.equal(before[k], v) for k, v in generator.state_dict().items())
    assert not any(p.requires_grad for p in trainer.G.parameters())


def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(generator, discriminator, images, tmp_path):
    cfg = _config(batch=4, real_fraction=0.5, style_mixing=0.5)
    straight = EncoderTrainer(cfg, generator, images=images, discriminator=discriminator)
    for _ in range(4):
        straight.train_step()

    first = EncoderTrainer(cfg, generator, images=images, discriminator=discriminator)
    for _ in range(2):
        first.train_step()
    first.save_checkpoint(tmp_path / "enc.safetensors")
    resumed = EncoderTrainer.from_checkpoint(tmp_path / "enc.safetensors", images=images)
    assert resumed.step == 2 and resumed.D is not None
    for _ in range(2):
        resumed.train_step()

    a, b = straight.encoder.state_dict(), resumed.encoder.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    sa, sb = straight.opt.state_dict()["state"], resumed.opt.state_dict()["state"]
    assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    enc = load_encoder(tmp_path / "enc.safetensors")
    assert torch.equal(enc.w_avg, generator.mapping.w_avg)


def test_bad_settings_are_named(generator, images):
    with pytest.raises(ValueError, match="real_fraction must be in"):
        _config(real_fraction=1.5)
    with pytest.raises(ValueError, match="did you mean 'l1'"):
        _config(latent_loss="l11")
    with pytest.raises(ValueError, match="images are required"):
        EncoderTrainer(_config(real_fraction=0.5), generator)
    with pytest.raises(ValueError, match="images must be uint8"):
        EncoderTrainer(_config(), generator, images=images.float())
    wrong = EncoderTrainingConfig(encoder=EncoderConfig(resolution=32, w_dim=16, num_ws=8))
    with pytest.raises(ValueError, match="does not match the generator"):
        EncoderTrainer(wrong, generator, images=images)


def test_load_gan_rejects_other_files(tmp_path):
    from ldedit_core.training.state_io import save_tensors

    path = save_tensors(tmp_path / "x.safetensors", {"a": torch.zeros(1)}, {"kind": "something"})
    with pytest.raises(InputError, match="not an LDEdit GAN checkpoint"):
        load_gan(path)
    with pytest.raises(InputError, match="no such checkpoint"):
        load_gan(tmp_path / "missing.safetensors")


def test_cli_trains_evaluates_and_resumes(tmp_path, capsys):
    from PIL import Image

    from ldedit_core.cli.main import main
    from ldedit_core.training.gan_trainer import GanTrainer, GanTrainingConfig
    from ldedit_core.training.presets import preset_configs

    g_cfg, d_cfg = preset_configs("tiny16")
    reals = torch.randint(0, 256, (8, 1, 16, 16), dtype=torch.uint8)
    gan = GanTrainer(GanTrainingConfig(generator=g_cfg, discriminator=d_cfg, batch=4), reals)
    gan_path = gan.save_checkpoint(tmp_path / "gan.safetensors")
    out = tmp_path / "enc"
    common = ["train-encoder", "--gan", str(gan_path), "--out", str(out), "--n", "12", "--batch", "4"]
    common += ["--device", "cpu", "--no-progress", "--snapshot-kimg", "0.008"]
    assert main([*common, "--kimg", "0.008"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["step"] == 2
    assert metrics["real"]["n"] == 1 and metrics["generated"]["n"] == 256
    for part in ("real", "generated"):
        assert -1.0 <= metrics[part]["ssim"] <= 1.0 and metrics[part]["psnr"] > 0
    grid = Image.open(out / "encoder_samples.png")
    assert grid.size == (8 * 16, 2 * 16)
    assert len((out / "encoder_stats.jsonl").read_text().splitlines()) == 1

    assert main([*common, "--kimg", "0.008"]) == 2  # refuses to overwrite
    assert "pass --resume" in capsys.readouterr().err
    assert main([*common, "--kimg", "0.016", "--resume"]) == 0
    assert json.loads((out / "metrics.json").read_text())["step"] == 4
