"""synthesize_followups on the shipped default bundle: gradual, local, exact outside the ROI, clear errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy.stats import spearmanr

from ldedit_core.errors import InputError
from ldedit_core.io import Radiograph, read_radiograph
from ldedit_core.pipeline import Cancelled, synthesize_followups
from tests.pipeline.conftest import QUICK


def test_frames_shape_and_outside_roi_identity(edited):
    src = edited.source
    assert len(edited.frames) == 4
    for frame in edited.frames:
        assert frame.shape == src.shape and frame.dtype == np.float32
        outside = edited.weights == 0
        assert np.array_equal(frame[outside], src.pixels[outside])
        assert not np.array_equal(frame, src.pixels)  # something changed inside
    assert (edited.weights[edited.roi == 0] == 0).all()


def test_evaluator_probability_climbs(edited):
    p = edited.evaluator_probs
    assert p.shape == (5,) and p[0] <= 0.2
    assert spearmanr(np.arange(5), p).statistic >= 0.9
    assert p[-1] > p[0] + 0.3
    g = edited.guide_probs
    assert (np.diff(g) > 0).all()


def test_change_stays_in_the_roi_at_generator_level(edited):
    g = edited.generator_frames
    change = (g[-1] - g[0]).abs().numpy()
    roi = edited.roi_generator > 0.5
    assert change[roi].mean() > 3 * change[~roi].mean()


def test_summary_is_json_ready(edited):
    import json

    s = json.loads(json.dumps(edited.summary()))
    assert s["disease"] == "cardiomegaly" and len(s["evaluator_probs"]) == 5 and not s["automatic_roi"]


def test_the_hint_says_why_a_target_was_missed(edited):
    from dataclasses import replace

    from ldedit_core.pipeline.followups import WEAK_SIGNAL

    assert edited.reached and edited.hint() is None and edited.summary()["hint"] is None
    # the shipped bundle's cardiomegaly directions carry the disease (docs/default-bundle.md, "History")
    assert edited.direction_correlation >= WEAK_SIGNAL
    assert edited.summary()["direction_correlation"] == pytest.approx(edited.direction_correlation, abs=1e-4)
    missed = replace(edited, reached=False)
    assert "max_scale" in missed.hint()
    weak = replace(edited, reached=False, correlations=np.array([0.03, -0.05], np.float32))
    assert "almost no cardiomegaly signal" in weak.hint() and "0.05" in weak.hint()


def test_regression_lowers_the_probability(patient):
    from ldedit_core.phantoms import make_phantom

    sick = Radiograph.from_array(make_phantom(7, size=256, cardiomegaly=0.9).image)
    roi = read_radiograph(patient[0])  # same patient, same geometry: reuse the painted ROI
    from ldedit_core.io import read_roi

    mask = read_roi(patient[1], roi)
    r = synthesize_followups(
        sick, mask, "cardiomegaly", n_followups=3, target=0.05, regress=True, options=QUICK
    )
    assert r.guide_probs[-1] < r.guide_probs[0]
    assert r.evaluator_probs[-1] < r.evaluator_probs[0]


def test_automatic_roi(patient):
    image = read_radiograph(patient[0])
    r = synthesize_followups(image, None, "cardiomegaly", n_followups=2, options=QUICK)
    assert r.automatic_roi and r.roi.shape == image.shape and 0 < (r.roi > 0).mean() < 0.5
    outside = r.weights == 0
    assert np.array_equal(r.frames[-1][outside], image.pixels[outside])


@pytest.mark.parametrize(
    ("roi", "disease", "match"),
    [
        (np.ones((10, 10), np.float32), "cardiomegaly", "10x10"),
        ("empty", "cardiomegaly", "empty"),
        ("ok", "pneumothorax", "unknown disease"),
    ],
)
def test_bad_inputs(patient, roi, disease, match):
    image = read_radiograph(patient[0])
    if isinstance(roi, str):
        roi = np.zeros(image.shape, np.float32) if roi == "empty" else np.ones(image.shape, np.float32) * 0.5
    with pytest.raises(InputError, match=match):
        synthesize_followups(image, roi, disease, options=QUICK)


def test_non_radiograph_is_refused(patient):
    rng = np.random.default_rng(0)
    noise = Radiograph.from_array(rng.random((128, 128), dtype=np.float32))
    with pytest.raises(InputError, match="cannot reproduce"):
        synthesize_followups(noise, np.ones((128, 128), np.float32), "nodule", options=QUICK)


def test_cancel_raises_and_returns_nothing(patient):
    image = read_radiograph(patient[0])
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        synthesize_followups(image, None, "edema", cancel=stop, options=QUICK)


def test_batch_inverts_together_and_edits_each(patient):
    from ldedit_core.evaluation import disease_roi
    from ldedit_core.phantoms import make_phantom
    from ldedit_core.pipeline import synthesize_followups_batch

    phantoms = [make_phantom(seed, size=size) for seed, size in ((11, 128), (12, 160))]
    images = [Radiograph.from_array(p.image) for p in phantoms]
    rois = [disease_roi(p, "cardiomegaly") for p in phantoms]
    results = synthesize_followups_batch(images, rois, "cardiomegaly", n_followups=2, options=QUICK)
    assert [r.frames[0].shape for r in results] == [(128, 128), (160, 160)]
    for image, roi, r in zip(images, rois, results, strict=True):
        again = synthesize_followups(
            image, roi, "cardiomegaly", n_followups=2, options=QUICK, latents=r.latents[0]
        )
        assert all(np.array_equal(a, b) for a, b in zip(r.frames, again.frames, strict=True))
        assert np.isclose(again.inversion_ssim, r.inversion_ssim, atol=1e-5)
    with pytest.raises(InputError, match="ROIs"):
        synthesize_followups_batch(images, rois[:1], "cardiomegaly")
