"""Compositing: the source, exactly, outside the ROI; the change ramps in inside it."""

from __future__ import annotations

import numpy as np
import pytest

from ldedit_core.pipeline.composite import composite, feather_weights


def test_feather_is_zero_outside_and_one_deep_inside():
    roi = np.zeros((40, 40), np.float32)
    roi[10:30, 10:30] = 1
    w = feather_weights(roi, 4)
    assert (w[roi == 0] == 0).all()
    assert w[20, 20] == 1.0 and 0 < w[10, 20] < 0.5  # edge pixel
    assert (np.diff(w[20, 10:20]) >= 0).all()  # rising inward
    assert np.array_equal(feather_weights(roi * 0.5, 0), roi * 0.5)


def test_composite_keeps_the_source_bit_exact_outside():
    rng = np.random.default_rng(0)
    src = rng.random((32, 48), dtype=np.float32)
    roi = np.zeros_like(src)
    roi[5:20, 10:30] = 1
    w = feather_weights(roi, 3)
    out = composite(src, rng.normal(0, 0.3, src.shape).astype(np.float32), w)
    assert np.array_equal(out[w == 0], src[w == 0])
    assert out.dtype == src.dtype and out.min() >= 0 and out.max() <= 1
    assert not np.array_equal(out[w > 0], src[w > 0])
    with pytest.raises(ValueError, match="shapes"):
        composite(src, src[:4], w)
