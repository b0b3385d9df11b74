"""make_phantom: output contract, determinism, sizes and argument checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ldedit_core.phantoms import DISEASES, Disease, make_phantom
from tests.phantoms.conftest import phantom


def test_image_and_masks_contract():
    p = make_phantom(3, 128)
    assert p.image.shape == (128, 128) and p.image.dtype == np.float32
    assert p.image.min() >= 0.0 and p.image.max() <= 1.0
    assert p.image.std() > 0.15, "a radiograph has dark lungs and bright mediastinum"
    for name in ("lungs", "left_lung", "right_lung", "heart", "effusion", "edema", "nodule"):
        assert p.masks[name].shape == (128, 128) and p.masks[name].dtype == bool
    assert np.array_equal(p.masks["lungs"], p.masks["left_lung"] | p.masks["right_lung"])
    assert not (p.masks["lungs"] & p.masks["heart"]).any()
    json.dumps(p.params)
    assert p.params["seed"] == 3 and p.params["size"] == 128 and "anatomy" in p.params


def test_radiograph_appearance():
    """Lungs dark, heart bright, air outside the body black; the right lung is on the image left."""
    p = phantom(1)
    lungs, heart = p.image[p.masks["lungs"]], p.image[p.masks["heart"]]
    assert np.median(lungs) + 0.3 < np.median(heart)
    right_cols = np.nonzero(p.masks["right_lung"].any(axis=0))[0]
    left_cols = np.nonzero(p.masks["left_lung"].any(axis=0))[0]
    assert right_cols.mean() < p.image.shape[1] / 2 < left_cols.mean()
    heart_cols = np.nonzero(p.masks["heart"].any(axis=0))[0]
    assert heart_cols.mean() > p.image.shape[1] / 2, "the heart sits mostly on the patient's left"


def test_deterministic_bit_for_bit():
    a = make_phantom(11, 96, edema=0.4, nodule=0.3)
    b = make_phantom(11, 96, edema=0.4, nodule=0.3)
    assert np.array_equal(a.image, b.image)
    assert all(np.array_equal(a.masks[k], b.masks[k]) for k in a.masks)
    assert a.params == b.params


def test_different_seeds_differ():
    a, b = make_phantom(1, 96), make_phantom(2, 96)
    assert np.abs(a.image - b.image).mean() > 0.01
    assert a.params["anatomy"] != b.params["anatomy"]


def test_same_patient_at_every_size():
    small = phantom(5, 64)
    big = phantom(5, 256)
    pooled = big.image.reshape(64, 4, 64, 4).mean(axis=(1, 3))
    assert np.corrcoef(pooled.ravel(), small.image.ravel())[0, 1] > 0.97
    pooled_lungs = big.masks["lungs"].reshape(64, 4, 64, 4).mean(axis=(1, 3)) > 0.5
    inter = (pooled_lungs & small.masks["lungs"]).sum()
    assert inter / (pooled_lungs | small.masks["lungs"]).sum() > 0.9


def test_severity_changes_only_the_disease():
    """A follow-up of the same seed is the same patient: the heart stays put when only edema changes."""
    a, b = phantom(4), phantom(4, edema=0.7)
    assert np.array_equal(a.masks["heart"], b.masks["heart"])
    outside = ~b.masks["lungs"]
    assert np.abs(a.image - b.image)[outside].mean() < 0.02


@pytest.mark.parametrize("size", [64, 2048])
def test_extreme_sizes(size):
    p = make_phantom(0, size)
    assert p.image.shape == (size, size)
    assert p.masks["lungs"].mean() > 0.15


@pytest.mark.parametrize("size", [63, 4096, 0])
def test_bad_size(size):
    with pytest.raises(ValueError, match="size"):
        make_phantom(0, size)


@pytest.mark.parametrize(
    ("kw", "value"),
    [
        ("cardiomegaly", 1.5),
        ("edema", -0.1),
        ("effusion_left", float("nan")),
        ("nodule", 2),
        ("effusion_right", -1),
    ],
)
def test_severity_out_of_range(kw, value):
    with pytest.raises(ValueError, match=kw) as info:
        make_phantom(0, 64, **{kw: value})
    assert repr(value) in str(info.value) or str(value) in str(info.value)


def test_bad_types_and_unknown_keyword():
    with pytest.raises(TypeError, match="edema"):
        make_phantom(0, 64, edema="high")
    with pytest.raises(TypeError, match="seed"):
        make_phantom(1.5, 64)
    with pytest.raises(ValueError, match="seed"):
        make_phantom(-1, 64)
    with pytest.raises(TypeError, match="pneumonia"):
        make_phantom(0, 64, pneumonia=0.5)


def test_disease_names():
    assert DISEASES == ("cardiomegaly", "effusion", "edema", "nodule")
    assert Disease.parse("Edema") is Disease.EDEMA
    with pytest.raises(ValueError, match="did you mean 'nodule'"):
        Disease.parse("nodul")
