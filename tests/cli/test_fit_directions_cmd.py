"""``ldedit fit-directions``: Link-PCA's moments into a new bundle or in place; the source untouched."""

from __future__ import annotations

import torch

from ldedit_core.cli.main import main
from ldedit_core.editing.latent_stats import EXTRAS_NAME, LatentStats
from ldedit_core.models.bundle import load_bundle
from tests.evaluation.test_evaluate import bundle_path  # noqa: F401 (a tiny random bundle, as a fixture)


def test_samples_into_a_new_bundle(bundle_path, tmp_path, capsys):  # noqa: F811
    before = {p.name: p.read_bytes() for p in bundle_path.iterdir()}
    out = tmp_path / "with-dirs"
    code = main(
        ["fit-directions", "--bundle", str(bundle_path), "--n", "64", "--out", str(out), "--device", "cpu"]
    )
    assert code == 0, capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in bundle_path.iterdir()} == before
    b = load_bundle(out)
    stats = LatentStats.from_tensors(b.extras[EXTRAS_NAME], b.meta["directions"]["diseases"])
    assert stats.n == 64 and stats.cov.shape == (b.meta["w_dim"], b.meta["w_dim"])
    assert torch.allclose(stats.cov, stats.cov.T) and (torch.linalg.eigvalsh(stats.cov) > -1e-6).all()
    assert "generator samples" in b.meta["directions"]["source"]
    # 64 samples for w_dim 16: each disease's linear share of the guide's score is measured and reported
    r2 = b.meta["directions"]["linear_r2"]
    assert list(r2) == b.meta["directions"]["diseases"]
    assert r2 == {d: round(float(r), 4) for d, r in zip(r2, stats.linear_r2(), strict=True)}
    printed = capsys.readouterr().out
    assert all(f"  {d}: {r:.2f}" in printed for d, r in r2.items())


def test_phantoms_in_place(bundle_path, tmp_path, capsys):  # noqa: F811
    import shutil

    copy = tmp_path / "mine"
    shutil.copytree(bundle_path, copy)
    code = main(["fit-directions", "--bundle", str(copy), "--data", "phantoms", "--n", "24", "--in-place",
                 "--device", "cpu"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    b = load_bundle(copy)
    assert EXTRAS_NAME in b.extras and "24 labelled images" in b.meta["directions"]["source"]
    stats = LatentStats.from_tensors(b.extras[EXTRAS_NAME], b.meta["directions"]["diseases"])
    assert ((stats.label_mean >= 0) & (stats.label_mean <= 1)).all()


def test_refuses_bad_n(bundle_path, tmp_path, capsys):  # noqa: F811
    code = main(["fit-directions", "--bundle", str(bundle_path), "--n", "1", "--out", str(tmp_path / "x")])
    assert code == 2 and "--n" in capsys.readouterr().err


def test_a_disease_linear_in_w_is_told_apart_from_one_that_is_not():
    from ldedit_core.cli.fit_directions_cmd import _linearity

    text = _linearity({"edema": 0.55, "cardiomegaly": 0.10}, 10000, 128)
    assert "edema: 0.55\n" in text + "\n" and "cardiomegaly: 0.10 -- WARNING" in text
    assert "not measured" in _linearity({"edema": float("nan")}, 100, 128)
