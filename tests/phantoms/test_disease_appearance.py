"""Each severity moves its anatomy the right way, measured on the image and masks."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from ldedit_core.phantoms import make_phantom
from tests.phantoms.conftest import column_extent, phantom

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


@pytest.mark.parametrize("seed", [0, 7])
def test_cardiothoracic_ratio_from_masks(seed):
    ratios, params = [], []
    for s in LEVELS:
        p = phantom(seed, cardiomegaly=s)
        ratios.append(column_extent(p.masks["heart"]) / column_extent(p.masks["lungs"]))
        params.append(p.params["ctr"])
    assert all(b > a + 0.02 for a, b in pairwise(ratios)), ratios
    assert np.allclose(ratios, params, atol=0.04), (ratios, params)
    assert params[0] < 0.5 < params[2] and params[-1] == pytest.approx(0.70)


def _rows(mask):
    rows = np.nonzero(mask.any(axis=1))[0]
    return rows[0], rows[-1]


def test_effusion_fills_the_lung_base_from_below():
    seed = 2
    healthy = phantom(seed)
    lung = healthy.masks["right_lung"]
    top, bottom = _rows(lung)
    lower = lung.copy()
    lower[: top + 2 * (bottom - top) // 3] = False
    tops, means = [], [healthy.image[lower].mean()]
    assert not healthy.masks["effusion"].any()
    for s in (0.2, 0.5, 0.8):
        p = phantom(seed, effusion_right=s)
        fluid = p.masks["effusion"]
        assert fluid.any()
        assert not fluid[:, lung.shape[1] // 2 + 10 :].any(), "a right effusion stays on the image left"
        f_top, f_bottom = _rows(fluid)
        assert f_bottom >= bottom - 3, "the fluid reaches the lung base"
        assert (fluid & lung).sum() >= 0.95 * fluid.sum()
        tops.append(f_top)
        means.append(p.image[lower].mean())
    assert tops[0] > tops[1] > tops[2], f"fluid top must rise with severity: {tops}"
    assert all(b > a for a, b in pairwise(means)), means
    assert means[-1] > means[0] + 0.2, means


def test_small_effusion_blunts_the_costophrenic_angle():
    """The first fluid collects laterally (the meniscus rises towards the chest wall)."""
    p = phantom(2, effusion_left=0.15)
    fluid, lung = p.masks["effusion"], p.masks["left_lung"]
    cols = np.nonzero(lung.any(axis=0))[0]
    mid = (cols[0] + cols[-1]) / 2
    fluid_cols = np.nonzero(fluid.any(axis=0))[0]
    assert fluid_cols.mean() > mid, "fluid sits at the lateral (image right) costophrenic angle"


def test_edema_is_perihilar():
    seed = 3
    healthy, sick = phantom(seed), phantom(seed, edema=0.8)
    diff = sick.image - healthy.image
    for side in ("right_lung", "left_lung"):
        lung = healthy.masks[side]
        top, bottom = _rows(lung)
        rows = slice(top + (bottom - top) // 4, top + 3 * (bottom - top) // 4)
        band = np.zeros_like(lung)
        band[rows] = lung[rows]
        cols = np.nonzero(band.any(axis=0))[0]
        width = cols[-1] - cols[0]
        centre = healthy.image.shape[1] / 2
        medial_is_high = cols.mean() < centre
        inner = band.copy()
        outer = band.copy()
        if medial_is_high:  # right lung on the image left: medial = high columns
            inner[:, : cols[-1] - width // 3] = False
            outer[:, cols[0] + width // 4 :] = False
        else:
            inner[:, cols[0] + width // 3 :] = False
            outer[:, : cols[-1] - width // 4] = False
        assert diff[inner].mean() > diff[outer].mean() + 0.03, side
    assert diff[healthy.masks["lungs"]].mean() > 0.05
    assert sick.masks["edema"].sum() > 0 and not healthy.masks["edema"].any()
    assert (sick.masks["edema"] & ~sick.masks["lungs"]).sum() == 0


def test_edema_density_grows_with_severity():
    means = [phantom(3, edema=s).image[phantom(3).masks["lungs"]].mean() for s in LEVELS]
    assert all(b > a for a, b in pairwise(means)), means


def test_nodule_inside_lung_brighter_and_growing():
    seed = 6
    radii = []
    for s in (0.25, 0.5, 1.0):
        p = phantom(seed, nodule=s)
        nod = p.masks["nodule"]
        assert nod.sum() > 0
        assert (nod & p.masks["lungs"]).sum() >= 0.9 * nod.sum()
        rows, cols = np.nonzero(nod)
        r = np.sqrt(nod.sum() / np.pi)
        cy, cx = rows.mean(), cols.mean()
        yy, xx = np.mgrid[: nod.shape[0], : nod.shape[1]]
        dist = np.hypot(yy - cy, xx - cx)
        ring = (dist > r + 2) & (dist < 2 * r + 4) & p.masks["lungs"] & ~nod
        assert p.image[nod].mean() > p.image[ring].mean() + 0.05
        radii.append(r)
    assert radii[0] < radii[1] < radii[2]
    assert not phantom(seed).masks["nodule"].any()


def test_nodule_position_is_honoured_and_checked():
    p = make_phantom(6, 128, nodule=0.6, nodule_position=(-0.45, 0.0), noise=False)
    rows, cols = np.nonzero(p.masks["nodule"])
    x = (cols.mean() + 0.5) / 128 * 2 - 1
    y = (rows.mean() + 0.5) / 128 * 2 - 1
    assert abs(x + 0.45) < 0.04 and abs(y) < 0.04
    assert p.params["nodule_geometry"]["side"] == "right"
    with pytest.raises(ValueError, match="nodule_position"):
        make_phantom(6, 64, nodule=0.5, nodule_position=(0.0, 0.9))
    with pytest.raises(ValueError, match="nodule_position"):
        make_phantom(6, 64, nodule=0.5, nodule_position=(3.0, 0.0))


def test_healthy_has_empty_lesion_masks():
    p = phantom(8)
    for name in ("effusion", "edema", "nodule"):
        assert not p.masks[name].any()
    assert p.params["ctr"] < 0.5
