"""The shipped default bundle: complete, hash-checked, small, and honest about what it is."""

from __future__ import annotations

import torch

from ldedit_core import load_bundle
from ldedit_core.models.bundle import verify_bundle
from ldedit_core.phantoms import DISEASES


def test_default_bundle_loads_every_network_and_generates():
    bundle = load_bundle("default")
    for role in ("generator", "discriminator", "encoder", "guide", "evaluator"):
        assert getattr(bundle, role) is not None, role
    assert list(bundle.diseases) == list(DISEASES)
    G = bundle.generator
    with torch.no_grad():
        img = G(torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0)))
        ws = bundle.encoder(img)
        logits = bundle.evaluator(img)
    assert img.shape == (2, 1, bundle.resolution, bundle.resolution) and torch.isfinite(img).all()
    assert ws.shape == (2, bundle.num_ws, bundle.w_dim)
    assert logits.shape == (2, len(DISEASES))


def test_default_bundle_is_verified_small_and_marked_for_research():
    facts = verify_bundle("default")
    assert facts  # verify raises on any hash or shape mismatch
    bundle = load_bundle("default", roles=["generator"])
    size = sum(p.stat().st_size for p in bundle.path.iterdir())
    assert size < 60 * 2**20
    meta = bundle.meta
    assert "research use only" in meta["intended_use"].lower()
    assert "phantom" in meta["description"].lower() and "phantom" in meta["training"]["data"].lower()
    assert all(net["dtype"] == "float16" for net in meta["networks"].values())
