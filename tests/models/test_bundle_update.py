"""update_bundle: extras added, networks copied byte for byte, the source untouched, all or nothing."""

from __future__ import annotations

import pytest
import torch

from ldedit_core.errors import InputError
from ldedit_core.models.bundle import load_bundle, save_bundle, verify_bundle
from ldedit_core.models.bundle_update import update_bundle
from ldedit_core.models.generator import Generator, GeneratorConfig


@pytest.fixture()
def bundle(tmp_path):
    torch.manual_seed(0)
    G = Generator(
        GeneratorConfig(resolution=8, z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=8)
    )
    return save_bundle(tmp_path / "b", {"generator": G}, name="tiny", description="t", diseases=["nodule"])


def test_adds_extras_and_keeps_the_source(bundle, tmp_path):
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    out = update_bundle(
        bundle, tmp_path / "c", extras={"stats": {"x": torch.arange(3.0)}}, directions={"n": 3}
    )
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before
    loaded = load_bundle(out)
    assert torch.equal(loaded.extras["stats"]["x"], torch.arange(3.0))
    assert loaded.meta["directions"] == {"n": 3}
    assert (out / "generator.safetensors").read_bytes() == before["generator.safetensors"]
    verify_bundle(out)


def test_in_place_replaces_a_group(bundle):
    update_bundle(bundle, bundle, extras={"stats": {"x": torch.zeros(2)}}, overwrite=True)
    update_bundle(bundle, bundle, extras={"stats": {"x": torch.ones(2)}}, overwrite=True)
    assert torch.equal(load_bundle(bundle).extras["stats"]["x"], torch.ones(2))
    with pytest.raises(InputError, match="already exists"):
        update_bundle(bundle, bundle, extras={"stats": {"x": torch.ones(2)}})
