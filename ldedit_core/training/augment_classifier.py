"""Classifier training images with seeded MONAI augmentation (no flips: chest anatomy is lateralised).

Each sample's augmentation is drawn from ``(seed, epoch, index)`` alone, so a resumed run, or any number of
DataLoader workers, sees exactly the same augmented images as an uninterrupted single-process run.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset

from ldedit_core.training.seeding import derive_seed


def classifier_augmentation(resolution: int):
    """MONAI array transforms on ``[1, R, R]`` float images in [0, 1]: small affine, contrast, noise.

    Rotation up to 5 degrees, scale +-5 %, translation up to 3 % of the side (the image is zero-padded, as
    the data sets are); gamma 0.8..1.25; Gaussian noise of standard deviation up to 0.02.
    """
    from monai.transforms import Compose, RandAdjustContrast, RandAffine, RandGaussianNoise

    shift = 0.03 * resolution

    return Compose(
        [
            RandAffine(
                prob=0.8,
                rotate_range=(math.radians(5.0),),
                scale_range=(0.05, 0.05),
                translate_range=(shift, shift),
                padding_mode="zeros",
                mode="bilinear",
                spatial_size=(resolution, resolution),
                cache_grid=True,
            ),
            RandAdjustContrast(prob=0.5, gamma=(0.8, 1.25)),
            RandGaussianNoise(prob=0.5, mean=0.0, std=0.02),
        ]
    )


class AugmentedImages(Dataset):
    """``(image, labels)`` pairs: float ``[1, R, R]`` in [-1, 1] and float ``[D]`` (NaN = unknown).

    Args:
        images: ``uint8 [N, 1, R, R]``.
        labels: float ``[N, D]``.
        indices: which rows of ``images`` this data set serves (default all).
        seed: augmentation seed.
        augment: False to serve the images unchanged (evaluation).

    Example:
        >>> ds = AugmentedImages(images, labels, seed=0)
        >>> ds.set_epoch(3)
        >>> x, y = ds[0]
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        indices: torch.Tensor | None = None,
        seed: int = 0,
        augment: bool = True,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images: expected uint8 [N, C, R, R], got {images.dtype} {tuple(images.shape)}")
        if labels.ndim != 2 or labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"labels: expected [{images.shape[0]}, D] to match the images, got {tuple(labels.shape)}"
            )
        self.images, self.labels = images, labels.float()
        self.indices = torch.arange(len(images)) if indices is None else torch.as_tensor(indices).long()
        self.seed, self.augment, self.epoch = seed, augment, 0
        self.transform = classifier_augmentation(images.shape[-1]) if augment else None

    def set_epoch(self, epoch: int) -> None:
        """Use the augmentation draws of ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = int(self.indices[i])
        x = self.images[row].float() / 255.0
        if self.transform is not None:
            from monai.data import get_track_meta, set_track_meta

            # one generator shared by every transform, in a fixed order of draws
            state = np.random.RandomState(derive_seed(self.seed, self.epoch, row) % (2**32))
            self.transform.set_random_state(state=state)
            tracking = get_track_meta()
            set_track_meta(False)  # plain tensors: MetaTensor bookkeeping would triple the cost
            try:
                x = torch.as_tensor(self.transform(x)).clamp(0.0, 1.0)
            finally:
                set_track_meta(tracking)
        return x * 2.0 - 1.0, self.labels[row]
