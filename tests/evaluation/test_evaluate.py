"""The evaluation: ROIs, baseline directions, measures on known inputs, the report, and ``ldedit evaluate``.

Everything runs on a tiny random bundle (32 px, w_dim 16) so the file stays fast; the numbers only have to
be well-formed here. The real figures come from ``ldedit evaluate --bundle default`` (docs/evaluation.md).
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import ldedit_core.evaluation
from ldedit_core.cli.main import main
from ldedit_core.editing.link_lr import background_mask, link_lr
from ldedit_core.editing.link_pca import link_pca
from ldedit_core.errors import InputError
from ldedit_core.evaluation import Method, disease_roi, evaluate
from ldedit_core.evaluation import baselines as bl
from ldedit_core.evaluation.measures import (
    background_psnr,
    background_ssim,
    mean_change,
    monotonicity,
    outside_identical,
)
from ldedit_core.evaluation.population import LatentSample, sample_latents
from ldedit_core.evaluation.report import dumps
from ldedit_core.evaluation.summary import check_targets, summarise_method, summarise_native
from ldedit_core.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from ldedit_core.models.bundle import load_bundle, save_bundle
from ldedit_core.models.classifier import ClassifierConfig, build_classifier
from ldedit_core.models.encoder import Encoder, EncoderConfig
from ldedit_core.phantoms import DISEASES, make_phantom

RES, W_DIM = 32, 16
FAST = {"inversion": {"w_steps": 2, "wplus_steps": 2}, "trajectory": {"grid": 7}, "population": 200}


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    G = Generator(
        GeneratorConfig(
            resolution=RES, z_dim=W_DIM, w_dim=W_DIM, mapping_layers=2, channel_base=256, channel_max=16
        )
    )
    networks = {
        "generator": G,
        "discriminator": Discriminator(DiscriminatorConfig(resolution=RES, channel_base=256, channel_max=16)),
        "encoder": Encoder(
            EncoderConfig(
                resolution=RES, w_dim=W_DIM, num_ws=G.num_ws, channel_max=16, fpn_channels=8, head_hidden=16
            )
        ),
        "guide": build_classifier(ClassifierConfig(arch="resnet10", resolution=RES)),
        "evaluator": build_classifier(ClassifierConfig(arch="resnet10", resolution=RES)),
    }
    return save_bundle(
        tmp_path_factory.mktemp("bundles") / "tiny-eval",
        networks,
        name="tiny-eval",
        description="random tiny bundle for the evaluation tests",
        diseases=list(DISEASES),
    )


@pytest.fixture(scope="module")
def bundle(bundle_path):
    return load_bundle(bundle_path)


@pytest.fixture(scope="module")
def sample(bundle) -> LatentSample:
    return sample_latents(bundle.generator, bundle.guide, bundle.diseases, n=FAST["population"], seed=0)


# --- cases ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("disease", DISEASES)
def test_disease_roi_is_where_the_disease_would_be(disease):
    ph = make_phantom(9001, 128)
    roi = disease_roi(ph, disease)
    assert roi.shape == (128, 128) and roi.dtype == np.float32 and set(np.unique(roi)) <= {0.0, 1.0}
    inside = roi > 0
    assert 0 < inside.sum() < inside.size / 2
    if disease == "cardiomegaly":  # room for the patient's own heart at CTR 0.70
        assert inside[ph.masks["heart"]].all()
        assert inside[make_phantom(9001, 128, cardiomegaly=1.0).masks["heart"]].all()
    elif disease == "edema":
        assert np.array_equal(inside, ph.masks["lungs"])
    elif disease == "effusion":
        assert ph.masks["lungs"][inside].mean() > 0.5
        assert np.nonzero(inside.any(1))[0].mean() > np.nonzero(ph.masks["lungs"].any(1))[0].mean()
    else:  # a disc of radius 6 % of the side, inside a lung, the same every time
        assert inside.sum() == pytest.approx(math.pi * (0.06 * 128) ** 2, rel=0.15)
        assert ph.masks["lungs"][inside].all()
        assert np.array_equal(disease_roi(make_phantom(9001, 128), disease), roi)
    small = disease_roi(ph, disease, 32)
    assert small.shape == (32, 32) and small.min() >= 0 and small.max() <= 1


def test_disease_roi_rejects_unknown_names():
    with pytest.raises(ValueError, match="did you mean 'edema'"):
        disease_roi(make_phantom(1, 64), "edemma")


# --- directions ----------------------------------------------------------------------------------------


def test_every_direction_is_unit_and_points_toward_the_disease(bundle, sample):
    stats = sample.stats()
    G = bundle.generator
    ws0 = G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(4))).expand(G.num_ws, -1)[
        0
    ]
    roi = torch.zeros(RES, RES)
    roi[8:20, 6:18] = 1
    U = link_lr(G, ws0.expand(G.num_ws, -1), roi, k=6).directions
    for disease in ("cardiomegaly", "nodule"):
        found = {
            Method.LDEDIT: link_pca(U, stats, disease).direction,
            Method.RESEFA: bl.resefa_direction(U, stats, disease).direction,
            Method.INTERFACEGAN: bl.interfacegan_direction(sample, stats, disease).direction,
            Method.GANSPACE: bl.ganspace_direction(sample, stats, disease).direction,
            Method.SEFA: bl.sefa_direction(G, sample, stats, disease).direction,
        }
        cross = stats.cross[stats.index(disease)]
        for method, v in found.items():
            assert v.shape == (W_DIM,), method
            assert float(v.norm()) == pytest.approx(1.0, abs=1e-5), method
            assert float(v.double() @ cross) > 0, method


def _planted(n: int = 3000) -> tuple[LatentSample, torch.Tensor]:
    """Codes whose disease score is a logistic function of one known direction, with anisotropic noise."""
    gen = torch.Generator().manual_seed(1)
    truth = torch.zeros(8, dtype=torch.float64)
    truth[1], truth[6] = 0.6, -0.8
    ws = torch.randn(n, 8, generator=gen, dtype=torch.float64) * torch.linspace(0.5, 2.0, 8).double()
    probs = torch.sigmoid(4 * ws @ truth)[:, None]
    return LatentSample(ws, probs, ["edema"], 0), truth


def test_interfacegan_recovers_a_planted_boundary():
    sample, truth = _planted()
    found = bl.interfacegan_direction(sample, sample.stats(), "edema")
    assert float(found.direction.double() @ truth) > 0.95
    assert found.info["train_accuracy"] > 0.9


def test_interfacegan_needs_both_classes():
    sample, _ = _planted()
    sample.probs[:] = 0.1
    with pytest.raises(ValueError, match="both sides"):
        bl.interfacegan_direction(sample, sample.stats(), "edema")


def test_ganspace_picks_the_component_that_carries_the_disease():
    sample, _ = _planted()
    ws = sample.ws.clone()
    ws[:, 3] *= 4.0  # the largest-variance axis, independent of the label
    sample = LatentSample(ws, torch.sigmoid(3 * ws[:, 5:6] / 1.6), ["edema"], 0)
    found = bl.ganspace_direction(sample, sample.stats(), "edema", n_components=4)
    assert abs(float(found.direction[5])) > 0.99 and found.info["component"] > 0


def test_sefa_factors_are_eigenvectors_of_the_style_weights(bundle):
    a = bl.style_weights(bundle.generator)
    assert torch.allclose(a.norm(dim=1), torch.ones(len(a), dtype=a.dtype))
    factors = bl.sefa_components(bundle.generator, 4)
    gram = a.T @ a
    for v in factors:
        lam = float(v @ gram @ v)
        assert torch.allclose(gram @ v, lam * v, atol=1e-8)
    values = [float(v @ gram @ v) for v in factors]
    assert values == sorted(values, reverse=True)


def test_orient_flips_and_rejects_zero(sample):
    stats = sample.stats()
    cross = stats.cross[stats.index("edema")]
    assert float(bl.orient(-cross, stats, "edema").double() @ cross) > 0
    with pytest.raises(ValueError, match="zero"):
        bl.orient(torch.zeros(W_DIM), stats, "edema")


# --- measures ------------------------------------------------------------------------------------------


def test_monotonicity_on_known_sequences():
    assert monotonicity([0.1, 0.2, 0.15, 0.5]) == pytest.approx(0.8)
    assert monotonicity(np.linspace(0.1, 0.9, 11)) == pytest.approx(1.0)
    assert monotonicity([0.9, 0.5, 0.1]) == pytest.approx(-1.0)
    assert monotonicity([0.3, 0.3, 0.3]) == 0.0
    with pytest.raises(ValueError):
        monotonicity([0.5])


def test_background_measures_see_only_the_background():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(1, 32, 32, generator=gen) * 2 - 1
    roi = torch.zeros(32, 32)
    roi[10:20, 10:20] = 1
    bg = background_mask(roi, 2)
    inside_only = a.clone()
    inside_only[:, 10:20, 10:20] += 0.5
    assert background_ssim(a, a, bg) == pytest.approx(1.0, abs=1e-6)
    assert background_psnr(a, a, bg) == math.inf
    assert mean_change(a, inside_only, bg) == 0.0
    assert mean_change(a, inside_only, roi) == pytest.approx(0.25)  # 0.5 generator units = 0.25 display
    # the 11-px window reaches 2 px into the seam at most: the ROI edit barely touches background SSIM
    assert background_ssim(a, inside_only, bg) > 0.97
    outside = a + 0.3 * torch.randn(1, 32, 32, generator=gen)
    assert background_ssim(a, outside, bg) < 0.9
    assert background_psnr(a, outside, bg) < 25


def test_outside_identical_is_exact():
    source = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    weights = np.zeros((8, 8), np.float32)
    weights[2:5, 2:5] = 1
    inside = source.copy()
    inside[3, 3] = 0.0
    assert outside_identical(source, [inside, source], weights)
    leak = inside.copy()
    leak[0, 0] = np.nextafter(leak[0, 0], 1, dtype=np.float32)
    assert not outside_identical(source, [inside, leak], weights)


def test_targets_compare_ldedit_with_each_baseline():
    def record(p_end, bg):
        return {
            "evaluator_probs": [0.1, 0.5, p_end],
            "guide_probs": [0.1, 0.5, 0.9],
            "spearman": 1.0,
            "background_ssim": 0.99,
            "background_psnr": 40.0,
            "background_change": bg,
            "roi_change": 0.1,
            "reached": True,
            "native": {"evaluator_probs": [0.1, 0.5, p_end], "spearman": 1.0, "identical_outside_roi": True},
        }

    methods = {
        "ldedit": summarise_method([record(0.85, 0.01)]),
        "sefa": summarise_method([record(0.8, 0.05)]),
        "ganspace": summarise_method([record(0.9, 0.05)]),
        "interfacegan": summarise_method([record(0.5, 0.001)]),
    }
    got = {t["target"]: t["met"] for t in check_targets(methods, summarise_native([record(0.85, 0.01)]))}
    assert got["median pT (native)"] and got["bit-identical outside ROI (native)"]
    assert got[f"ahead of {Method.SEFA.label}"]
    assert not got[f"ahead of {Method.GANSPACE.label}"]  # higher probability
    assert not got[f"ahead of {Method.INTERFACEGAN.label}"]  # quieter background


# --- evaluate and the CLI ------------------------------------------------------------------------------


def test_evaluate_returns_the_figures_and_writes_the_report(bundle, tmp_path):
    out = tmp_path / "report"
    calls = []
    result = evaluate(
        bundle,
        diseases=["nodule"],
        n=2,
        n_followups=2,
        size=64,
        out=out,
        progress=lambda stage, fraction, message: calls.append((stage, fraction)),
        **FAST,
    )
    entry = result["diseases"]["nodule"]
    assert set(entry["methods"]) == {m.value for m in Method}
    for summary in entry["methods"].values():
        assert summary["images"] + summary["failed"] == 2
        if summary["images"]:
            assert len(summary["curve"]["median"]) == 3 and 0 <= summary["pT_median"] <= 1
    assert len(entry["images"]) == 2 and entry["native"]["identical_fraction"] == 1.0
    assert [t["target"] for t in entry["targets"]][:3] == [
        "median p0 (native)",
        "median pT (native)",
        "median Spearman (native)",
    ]
    assert result["examples"]["nodule"]["frames"][0].shape == (64, 64)
    assert ("evaluate", 1.0) in calls
    files = {p.name for p in out.iterdir()}
    assert {"evaluation.md", "evaluation.json", "nodule_probability.png", "nodule_ldedit_strip.png"} <= files
    saved = json.loads((out / "evaluation.json").read_text())  # strict JSON: no NaN
    assert saved["config"]["n"] == 2 and "examples" not in saved and saved["machine"]["torch"]
    text = (out / "evaluation.md").read_text()
    assert (
        "### nodule" in text and "| LDEdit, native output |" in text and ("met" in text or "MISSED" in text)
    )


def test_evaluate_rejects_bad_arguments(bundle):
    with pytest.raises(InputError, match="did you mean 'nodule'"):
        evaluate(bundle, diseases=["nodle"], n=1)
    with pytest.raises(InputError, match="did you mean 'sefa'"):
        evaluate(bundle, methods=["sefaa"], n=1)
    with pytest.raises(InputError, match="n must be"):
        evaluate(bundle, n=0)
    with pytest.raises(InputError, match="target"):
        evaluate(bundle, n=1, target=1.5)


def test_cli_runs_with_n_1(bundle_path, tmp_path, capsys, monkeypatch):
    # the CLI's plumbing is under test: the inversion and the trajectory scan run short
    quick = functools.partial(evaluate, inversion=FAST["inversion"], trajectory=FAST["trajectory"])
    monkeypatch.setattr(ldedit_core.evaluation, "evaluate", quick)
    out = tmp_path / "cli"
    argv = ["evaluate", "--bundle", str(bundle_path), "--n", "1", "--diseases", "edema", "--followups", "2"]
    argv += ["--methods", "ldedit", "sefa", "--population", "100", "--size", "64", "--out", str(out)]
    assert main(argv) == 0
    assert "### edema" in capsys.readouterr().out
    saved = json.loads((out / "evaluation.json").read_text())
    assert saved["command"].startswith("ldedit evaluate --bundle") and saved["config"]["methods"] == [
        "ldedit",
        "sefa",
    ]
    assert main(["evaluate", "--bundle", str(bundle_path), "--n", "0", "--out", str(out)]) == 2


def test_report_json_is_strict_and_compact():
    text = dumps({"curve": [0.1234567891, float("nan")], "ok": True, "inf": float("inf")})
    assert '"curve": [0.123457, null]' in text and json.loads(text)["inf"] is None
