"""The disease-linearity penalty: zero when the guide's logits are monotone along lines in W (even steep),
its gradient makes a real generator more so, and in the trainer it is lazy, resumable and refuses a guide
that does not fit."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from ldedit_core.cli.main import main
from ldedit_core.errors import InputError
from ldedit_core.models import DiscriminatorConfig, Generator, GeneratorConfig
from ldedit_core.models.classifier import ClassifierConfig, build_classifier
from ldedit_core.training.classifier_trainer import WEIGHTS, WEIGHTS_KIND
from ldedit_core.training.gan_trainer import GanTrainer, GanTrainingConfig
from ldedit_core.training.linearity import DiseaseLinearity
from ldedit_core.training.state_io import save_tensors

RES = 32  # the smallest image a classifier takes
_G_CONFIG = GeneratorConfig(
    resolution=RES, channel_base=256, channel_max=16, z_dim=16, w_dim=16, mapping_layers=2
)


class _Mapping(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("w_avg", torch.zeros(4))

    def forward(self, z: torch.Tensor, update_w_avg: bool = False) -> torch.Tensor:
        return torch.tanh(z)  # non-linear in z: only linearity in W matters


class _AffineGenerator(nn.Module):
    """A generator whose image is affine in w (the interface the penalty uses)."""

    z_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.mapping = _Mapping()
        self.out = nn.Linear(4, RES * RES)

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        return w[:, None].repeat(1, 3, 1)

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        return self.out(ws[:, 1]).view(-1, 1, RES, RES)


class _Wave(nn.Module):
    """Rises and falls along a line: not monotone, so not a half-space."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(20 * x)


class _Step(nn.Module):
    """A steep but monotone function of an affine logit: a hyperplane boundary, as a clean guide gives."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 8 * torch.tanh(50 * x)


def _guide(*tail: nn.Module) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(RES * RES, 3), *tail)


class _Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def test_penalty_vanishes_for_monotone_logits_and_not_for_waves():
    torch.manual_seed(0)
    G = _AffineGenerator()
    assert DiseaseLinearity(_guide(), batch=16).penalty(G) < 1e-8
    assert DiseaseLinearity(_guide(_Step()), batch=16).penalty(G) < 1e-8
    assert DiseaseLinearity(_guide(_Wave()), batch=16).penalty(G) > 0.01


def test_penalty_cannot_be_lowered_by_flattening_the_logits():
    # a share of the variance: shrinking a disease's logit spread leaves it unchanged
    G = _AffineGenerator()
    values = []
    for factor in (1.0, 0.1):
        torch.manual_seed(0)
        values.append(float(DiseaseLinearity(_guide(_Wave(), _Scale(factor)), batch=16).penalty(G).detach()))
    assert values[0] > 0.01
    assert values[1] == pytest.approx(values[0], rel=1e-4)


def _small_generator() -> Generator:
    torch.manual_seed(0)
    return Generator(_G_CONFIG)


def _measure(penalty: DiseaseLinearity, G: Generator) -> float:
    torch.manual_seed(123)  # the same z and t before and after
    with torch.no_grad():
        return float(penalty.penalty(G))


def test_its_gradient_makes_a_real_generator_more_linear():
    G = _small_generator()
    torch.manual_seed(2)
    guide = build_classifier(ClassifierConfig(arch="resnet10", resolution=RES, diseases=("cardiomegaly",)))
    penalty = DiseaseLinearity(guide, batch=16)
    before = _measure(penalty, G)
    opt = torch.optim.Adam(G.synthesis.parameters(), lr=5e-3)
    for step in range(30):
        torch.manual_seed(step)
        opt.zero_grad()
        penalty.penalty(G).backward()
        opt.step()
    assert before > 0.01
    assert _measure(penalty, G) < 0.5 * before
    assert all(p.grad is None for p in G.mapping.parameters())  # W is not reshaped to meet it


def _write_guide(path, resolution: int = RES):
    torch.manual_seed(3)
    config = ClassifierConfig(arch="resnet10", resolution=resolution)
    save_tensors(
        path,
        build_classifier(config).state_dict(),
        {"kind": WEIGHTS_KIND, "network": "classifier", "config": config.to_dict()},
    )
    return path


def _config(guide, **kw) -> GanTrainingConfig:
    g = _G_CONFIG
    d = DiscriminatorConfig(resolution=RES, channel_base=256, channel_max=16)
    return GanTrainingConfig(
        generator=g, discriminator=d, batch=4, r1_interval=4, r1_gamma=0.01, linear_guide=str(guide), **kw
    )


def _images() -> torch.Tensor:
    imgs = torch.zeros(8, 1, RES, RES, dtype=torch.uint8)
    imgs[:4, :, 8:24, 8:24] = 255
    return imgs


def test_trainer_applies_it_lazily_and_resumes_exactly(tmp_path):
    guide = _write_guide(tmp_path / WEIGHTS)
    cfg = _config(tmp_path, linear_weight=1.0, linear_interval=2, linear_batch=2)  # the run folder works
    straight = GanTrainer(cfg, _images())
    stats = [straight.train_step() for _ in range(4)]
    assert ["linearity" in s for s in stats] == [True, False, True, False]
    assert all(s["linearity"] > 0 for s in stats[::2])

    first = GanTrainer(_config(guide, linear_weight=1.0, linear_interval=2, linear_batch=2), _images())
    first.train_step()
    first.train_step()
    resumed = GanTrainer.from_checkpoint(first.save_checkpoint(tmp_path / "ckpt.safetensors"), _images())
    assert resumed.linearity is not None
    resumed.train_step()
    resumed.train_step()
    for a, b in zip(straight.G.parameters(), resumed.G.parameters(), strict=True):
        assert torch.equal(a, b)

    # the penalty changes the generator: the same run without it ends elsewhere
    plain = GanTrainer(_config(guide, linear_weight=0.0), _images())
    for _ in range(4):
        plain.train_step()
    pairs = zip(straight.G.parameters(), plain.G.parameters(), strict=True)
    assert not all(torch.equal(a, b) for a, b in pairs)


def test_it_can_be_switched_on_when_resuming(tmp_path):
    guide = _write_guide(tmp_path / WEIGHTS)
    plain = GanTrainer(_config("", linear_weight=0.0), _images())
    assert plain.linearity is None
    path = plain.save_checkpoint(tmp_path / "ckpt.safetensors")
    resumed = GanTrainer.from_checkpoint(
        path, _images(), overrides={"linear_guide": str(guide), "linear_weight": 0.5}
    )
    assert resumed.linearity is not None and resumed.config.linear_weight == 0.5
    assert "linearity" in resumed.train_step()


def test_a_guide_that_does_not_fit_is_refused_with_the_file_named(tmp_path):
    wrong = _write_guide(tmp_path / "guide64.safetensors", resolution=64)
    with pytest.raises(InputError, match=r"guide64\.safetensors.*64 px"):
        GanTrainer(_config(wrong, linear_weight=1.0), _images())
    with pytest.raises(ValueError, match="linear_guide"):
        GanTrainer(_config("", linear_weight=1.0), _images())
    with pytest.raises(InputError, match=r"missing\.safetensors"):
        GanTrainer(_config(tmp_path / "missing.safetensors", linear_weight=1.0), _images())


def test_cli_passes_the_flags_through(tmp_path, capsys):
    guide = _write_guide(tmp_path / "guide32.safetensors")
    args = ["train-gan", "--out", str(tmp_path / "run"), "--preset", "tiny16", "--num-images", "16"]
    args += ["--batch", "8", "--kimg", "0.016", "--device", "cpu"]
    # tiny16 makes 16 px images: the 32 px guide cannot score them, and the message says so
    assert main([*args, "--linear-guide", str(guide), "--linear-weight", "1"]) != 0
    assert re.search(r"guide32\.safetensors: .*32 px .*16 px", capsys.readouterr().err)
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()
