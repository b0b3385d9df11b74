"""Model bundles: round trips, half precision, extras, name lookup, every load error, and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import ldedit_core
from ldedit_core.cli.main import main
from ldedit_core.errors import InputError
from ldedit_core.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from ldedit_core.models.bundle import load_bundle, save_bundle, verify_bundle
from ldedit_core.models.bundle_files import read_tensors, sha256_file, write_tensors

G_CONFIG = GeneratorConfig(
    resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16
)
D_CONFIG = DiscriminatorConfig(resolution=16, channel_base=256, channel_max=16)


@pytest.fixture(scope="module")
def nets() -> tuple[Generator, Discriminator]:
    torch.manual_seed(0)
    G, D = Generator(G_CONFIG), Discriminator(D_CONFIG)
    with torch.no_grad():  # a trained-looking w_avg, so that truncation is exercised too
        G.mapping.w_avg.normal_()
    return G, D


@pytest.fixture(scope="module")
def saved(nets, tmp_path_factory) -> Path:
    G, D = nets
    return save_bundle(
        tmp_path_factory.mktemp("bundles") / "tiny",
        {"generator": G, "discriminator": D},
        name="tiny",
        description="a tiny test bundle",
        diseases=["effusion", "cardiomegaly"],
        training={"kimg": 1, "auroc": {"effusion": 0.91}},
        directions={"note": "none yet"},
        extras={"stats": {"mean": torch.arange(16.0), "count": torch.tensor([3], dtype=torch.int64)}},
    )


def _images(G: torch.nn.Module) -> torch.Tensor:
    z = torch.randn(3, G_CONFIG.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return G(z, truncation_psi=0.7)


def test_round_trip_is_exact(nets, saved):
    G, D = nets
    rng = torch.random.get_rng_state()
    b = load_bundle(saved)
    assert torch.equal(torch.random.get_rng_state(), rng), "loading must not move the global RNG"
    assert torch.equal(_images(b.generator), _images(G))
    img = _images(G)
    with torch.no_grad():
        assert torch.equal(b.discriminator(img), D.eval()(img))
    assert b.encoder is None and b.guide is None and b.evaluator is None
    assert set(b.networks) == {"generator", "discriminator"}
    for net in b.networks.values():
        assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert G.training and all(p.requires_grad for p in G.parameters()), "the caller's model is untouched"
    assert (b.name, b.resolution, b.channels, b.w_dim, b.num_ws) == ("tiny", 16, 1, 16, G.num_ws)
    assert b.diseases == ["effusion", "cardiomegaly"] and b.path == saved
    assert b.meta["intended_use"].startswith("Research use only")
    assert b.meta["preprocessing"] == {
        "square": "pad",
        "pad_value": 0.0,
        "resize": "area",
        "intensity": "pixels*2-1",
        "resolution": 16,
    }
    assert b.meta["provenance"]["torch_version"] == torch.__version__
    assert b.directions == {"note": "none yet"}
    text = b.describe()
    assert "tiny" in text and "Research use only" in text and "auroc" in text and "effusion: 0.91" in text


def test_extras_round_trip(saved):
    extras = load_bundle(saved, roles=["generator"]).extras
    assert torch.equal(extras["stats"]["mean"], torch.arange(16.0))
    assert extras["stats"]["count"].dtype == torch.int64 and extras["stats"]["count"].tolist() == [3]


def test_the_same_tensors_always_give_the_same_bytes(tmp_path):
    # safetensors orders the metadata by a per-map random hash; bundle hashes must not depend on it
    tensors = {"b": torch.ones(2), "a": torch.zeros(3, dtype=torch.float16)}
    meta = {k: f'{k} \u00fc "quoted"' for k in "qwertyuiop"}
    hashes = {write_tensors(tmp_path / f"{i}.safetensors", tensors, meta) for i in range(5)}
    assert len(hashes) == 1
    raw = (tmp_path / "0.safetensors").read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    assert list(header["__metadata__"]) == sorted(meta)
    assert header["__metadata__"] == meta
    back = read_tensors(tmp_path / "0.safetensors")
    assert all(torch.equal(back[k], v) for k, v in tensors.items())


def test_half_is_smaller_and_close(nets, tmp_path):
    G, _ = nets
    path = save_bundle(
        tmp_path / "half", {"generator": G}, name="half", description="", diseases=[], half=True
    )
    meta = json.loads((path / "bundle.json").read_text())
    assert meta["networks"]["generator"]["dtype"] == "float16"
    full = save_bundle(tmp_path / "full", {"generator": G}, name="full", description="", diseases=[])
    size = {p: (p / "generator.safetensors").stat().st_size for p in (path, full)}
    assert size[path] < 0.6 * size[full]
    loaded = load_bundle(path).generator
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert torch.allclose(_images(loaded), _images(G), atol=2e-2)


def test_roles_selects_networks(saved):
    b = load_bundle(saved, roles=("generator",))
    assert b.generator is not None and b.discriminator is None
    with pytest.raises(InputError, match="no 'encoder' network"):
        load_bundle(saved, roles=["encoder"])
    with pytest.raises(InputError, match="did you mean 'generator'"):
        load_bundle(saved, roles=["genrator"])


def test_refuses_to_overwrite(nets, saved, tmp_path):
    G, _ = nets
    args = dict(name="tiny", description="again", diseases=[])
    with pytest.raises(InputError, match="already exists") as err:
        save_bundle(saved, {"generator": G}, **args)
    assert str(saved) in str(err.value)
    target = tmp_path / "copy"
    shutil.copytree(saved, target)
    save_bundle(target, {"generator": G}, overwrite=True, **args)
    assert json.loads((target / "bundle.json").read_text())["description"] == "again"
    assert not (target / "discriminator.safetensors").exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match=r"holds no bundle\.json"):
        save_bundle(other, {"generator": G}, overwrite=True, **args)
    assert (other / "notes.txt").read_text() == "keep me"


def test_failed_save_leaves_nothing(nets, tmp_path, monkeypatch):
    def boom(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("ldedit_core.models.bundle.write_json", boom)
    with pytest.raises(OSError, match="disk full"):
        save_bundle(tmp_path / "b", {"generator": nets[0]}, name="b", description="", diseases=[])
    assert list(tmp_path.iterdir()) == [], "no bundle and no temporary folder may be left"


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        (lambda G, D: {"discriminator": D}, "at least a 'generator'"),
        (lambda G, D: {"generator": G, "discrimnator": D}, "did you mean 'discriminator'"),
        (lambda G, D: {"generator": G, "discriminator": torch.nn.Linear(2, 2)}, "has no config"),
        (lambda G, D: {"generator": ("discriminator", G)}, "differs from the module|invalid config"),
        (lambda G, D: {"generator": ("gan", G)}, "not registered"),
    ],
)
def test_save_rejects_bad_networks(nets, tmp_path, networks, message):
    with pytest.raises(ValueError, match=message):
        save_bundle(tmp_path / "b", networks(*nets), name="b", description="", diseases=[])
    assert not (tmp_path / "b").exists()


def test_save_rejects_unknown_disease(nets, tmp_path):
    with pytest.raises(ValueError, match="did you mean 'effusion'"):
        save_bundle(tmp_path / "b", {"generator": nets[0]}, name="b", description="", diseases=["efusion"])


# -- load errors: each names the file and the problem ----------------------------------------------------


def _edit_json(folder: Path, change) -> None:
    meta = json.loads((folder / "bundle.json").read_text())
    change(meta)
    (folder / "bundle.json").write_text(json.dumps(meta))


def _rehash(folder: Path, role: str = "generator") -> None:
    digest = sha256_file(folder / f"{role}.safetensors")
    _edit_json(folder, lambda m: m["networks"][role].update(sha256=digest))


def _resized_tensor(folder: Path) -> None:
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "generator.safetensors"))
    tensors["mapping.w_avg"] = torch.zeros(17)
    save_file(tensors, str(folder / "generator.safetensors"))
    _rehash(folder)


def _not_safetensors(folder: Path) -> None:
    (folder / "generator.safetensors").write_bytes(b"\x80\x04\x95 this is a pickle, not safetensors")
    _rehash(folder)


def _half_declared(folder: Path) -> None:
    _edit_json(folder, lambda m: m["networks"]["generator"].update(dtype="float16"))


def _flip_a_byte(folder: Path) -> None:
    data = bytearray((folder / "generator.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "generator.safetensors").write_bytes(bytes(data))


CASES = {
    "missing folder": (lambda f: shutil.rmtree(f), "", "no such bundle folder"),
    "missing json": (lambda f: (f / "bundle.json").unlink(), "", "bundle.json is missing"),
    "invalid json": (lambda f: (f / "bundle.json").write_text("{not json"), "bundle.json", "invalid JSON"),
    "schema version": (
        lambda f: _edit_json(f, lambda m: m.update(schema_version=99)),
        "bundle.json",
        "unsupported schema_version 99; this LDEdit reads versions 1",
    ),
    "missing key": (
        lambda f: _edit_json(f, lambda m: m.pop("diseases")),
        "bundle.json",
        "missing required key",
    ),
    "unknown kind": (
        lambda f: _edit_json(f, lambda m: m["networks"]["discriminator"].update(kind="critic")),
        "bundle.json",
        "unknown network kind 'critic'",
    ),
    "unknown disease": (
        lambda f: _edit_json(f, lambda m: m.update(diseases=["edma"])),
        "bundle.json",
        "unknown disease 'edma'.*did you mean 'edema'",
    ),
    "path escape": (
        lambda f: _edit_json(f, lambda m: m["networks"]["generator"].update(file="../x.safetensors")),
        "bundle.json",
        "plain",
    ),
    "missing file": (
        lambda f: (f / "discriminator.safetensors").unlink(),
        "discriminator.safetensors",
        "discriminator weights file is missing",
    ),
    "modified file": (_flip_a_byte, "generator.safetensors", "corrupt or modified"),
    "missing extras": (
        lambda f: (f / "extras.stats.safetensors").unlink(),
        "extras.stats.safetensors",
        "missing",
    ),
    "not safetensors": (_not_safetensors, "generator.safetensors", "not a readable safetensors file"),
    "tensor shape": (
        _resized_tensor,
        "generator.safetensors",
        r"tensor 'mapping.w_avg' has shape \[17\] in the file but the architecture expects \[16\]",
    ),
    "dtype": (_half_declared, "generator.safetensors", "is torch.float32 but bundle.json says float16"),
    "w_dim": (
        lambda f: _edit_json(f, lambda m: m.update(w_dim=32)),
        "bundle.json",
        "w_dim is 32 but the generator config says 16",
    ),
    "resolution": (
        lambda f: _edit_json(f, lambda m: m.update(resolution=32)),
        "bundle.json",
        "resolution is 32 but the generator config says 16",
    ),
    "num_ws": (
        lambda f: _edit_json(f, lambda m: m.update(num_ws=99)),
        "bundle.json",
        "num_ws is 99 but the generator has 6",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_load_errors_name_file_and_problem(saved, tmp_path, case):
    breaker, file, message = CASES[case]
    folder = tmp_path / "broken"
    shutil.copytree(saved, folder)
    breaker(folder)
    with pytest.raises(InputError, match=message) as err:
        load_bundle(folder)
    assert str(err.value).startswith(str(folder / file).rstrip("/") + ":"), str(err.value)


# -- lookup by name ---------------------------------------------------------------------------------------


def test_lookup_by_name(saved, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LDEDIT_BUNDLE_PATH", f"{tmp_path / 'nowhere'}:{saved.parent}")
    assert load_bundle("tiny", roles=["generator"]).path == saved
    listed = r"no bundle named 'tin'.*available: (.*, )?tiny\b.*did you mean 'tiny'"
    with pytest.raises(InputError, match=listed):
        load_bundle("tin")
    assert load_bundle(saved / "bundle.json", roles=["generator"]).path == saved
    assert ldedit_core.load_bundle is load_bundle


def test_import_ldedit_core_does_not_import_torch():
    code = "import sys, ldedit_core; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- CLI ----------------------------------------------------------------------------------------------------


def test_cli_info_and_verify(saved, capsys):
    assert main(["bundle", "info", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "Research use only" in out and "discriminator" in out and "float32" in out
    assert main(["bundle", "info", "--json", str(saved)]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["networks"]["generator"]["parameters"] == sum(
        t.numel() for t in Generator(G_CONFIG).state_dict().values()
    )
    assert facts["training"]["auroc"]["effusion"] == 0.91 and facts["num_ws"] == 6
    assert main(["bundle", "verify", "--json", str(saved)]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True
    assert verify_bundle(saved)["verified"] is True


def test_cli_verify_fails_on_a_modified_bundle(saved, tmp_path, capsys):
    folder = tmp_path / "broken"
    shutil.copytree(saved, folder)
    _flip_a_byte(folder)
    assert main(["bundle", "verify", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "generator.safetensors" in err and "corrupt or modified" in err
    assert main(["bundle"]) == 2


def test_cli_info_keeps_training_histories_out_of_the_terminal(capsys):
    assert main(["bundle", "info", "default"]) == 0
    out = capsys.readouterr().out
    assert "history: 30 records (ldedit bundle info --json shows them)" in out  # the evaluator's 30 epochs
    assert "'epoch'" not in out and "'train_loss'" not in out
    assert main(["bundle", "info", "--json", "default"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert len(facts["training"]["evaluator"]["history"]) == 30
