"""The generator grid: pad + area resize forward, difference upsampling back, for any native shape."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ldedit_core.models.bundle_schema import default_preprocessing
from ldedit_core.models.preprocess import GeneratorGrid
from ldedit_core.training.datasets import image_transform


@pytest.mark.parametrize("shape", [(96, 64), (64, 96), (64, 64), (101, 70)])
def test_forward_matches_the_training_transform(shape):
    pixels = np.random.default_rng(0).random(shape, dtype=np.float32)
    grid = GeneratorGrid.for_bundle(shape, default_preprocessing(32))
    ours = grid.to_generator(pixels)
    theirs = torch.as_tensor(np.asarray(image_transform(32)(pixels)))[None] / 127.5 - 1.0
    assert ours.shape == (1, 1, 32, 32)
    assert torch.allclose(ours, theirs.float(), atol=1e-5)


def test_difference_lands_where_it_was_made():
    grid = GeneratorGrid((200, 100), resolution=40)  # padded to 200 x 200, 5 native pixels per cell
    diff = torch.zeros(40, 40)
    diff[10:14, 18:22] = 1.0  # generator units: +1 is half the pixel range
    native = grid.difference_to_native(diff)
    assert native.shape == (200, 100)
    rows, cols = np.nonzero(native > 0.25)
    assert rows.min() >= 45 and rows.max() <= 75  # cells 10-13 -> native rows 50-69
    assert cols.min() >= 35 and cols.max() <= 65  # cells 18-21 -> columns 90-109 minus 50 of padding
    assert np.isclose(native.max(), 0.5, atol=1e-3)


def test_mask_area_fraction_and_errors():
    grid = GeneratorGrid((64, 32), resolution=16)
    mask = np.zeros((64, 32), np.float32)
    mask[:, :16] = 1
    m = grid.mask_to_generator(mask)
    assert m.shape == (16, 16) and np.isclose(float(m.sum()) * 16, mask.sum())  # area is kept
    with pytest.raises(ValueError, match="shape"):
        grid.mask_to_generator(np.zeros((10, 10)))
    with pytest.raises(ValueError, match="shape"):
        grid.to_generator(np.zeros((10, 10)))
    with pytest.raises(ValueError, match="unsupported"):
        GeneratorGrid.for_bundle((4, 4), {"square": "crop", "resolution": 4})
