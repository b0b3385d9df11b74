"""Map a radiograph onto the generator's square grid and bring generator-space changes back to it.

The forward map is the one the bundles were trained with (``bundle.json`` ``preprocessing``, the same as
``ldedit_core.training.datasets.image_transform``): zero-pad to a centred square, area-resample to the
generator's resolution, scale [0, 1] to [-1, 1]. The way back upsamples a *difference* image (never the
generated image itself), so the patient's own pixels carry everything the generator cannot represent.

Example:
    >>> grid = GeneratorGrid((2500, 2048), resolution=64)
    >>> x = grid.to_generator(pixels)            # [1, 1, 64, 64] in [-1, 1]
    >>> delta = grid.difference_to_native(g_t - g_0)   # [2500, 2048], in pixel units of [0, 1]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class GeneratorGrid:
    """The square, padded and resampled grid of a generator, for one native image shape.

    Args:
        shape: the native ``(rows, cols)``.
        resolution: the generator's side.
        pad_value: value of the padding in [0, 1] pixel units (bundles trained with black, 0).
    """

    shape: tuple[int, int]
    resolution: int
    pad_value: float = 0.0

    @classmethod
    def for_bundle(cls, shape: tuple[int, int], preprocessing: Mapping[str, Any]) -> GeneratorGrid:
        """The grid a bundle's ``preprocessing`` block describes; unknown recipes are refused."""
        if preprocessing.get("square", "pad") != "pad" or preprocessing.get("resize", "area") != "area":
            raise ValueError(f"unsupported preprocessing {dict(preprocessing)!r}: only pad + area resize")
        if preprocessing.get("intensity", "pixels*2-1") != "pixels*2-1":
            raise ValueError(f"unsupported intensity mapping {preprocessing.get('intensity')!r}")
        return cls(
            (int(shape[0]), int(shape[1])),
            int(preprocessing["resolution"]),
            float(preprocessing.get("pad_value", 0.0)),
        )

    @property
    def side(self) -> int:
        return max(self.shape)

    @property
    def offsets(self) -> tuple[int, int]:
        """Top and left padding (MONAI ``SpatialPad(method="symmetric")`` puts the odd pixel last)."""
        return (self.side - self.shape[0]) // 2, (self.side - self.shape[1]) // 2

    def _pad(self, image: torch.Tensor, value: float) -> torch.Tensor:
        top, left = self.offsets
        bottom, right = self.side - self.shape[0] - top, self.side - self.shape[1] - left
        return F.pad(image, (left, right, top, bottom), value=value)

    def to_generator(self, pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
        """``[H, W]`` pixels in [0, 1] -> ``[1, 1, R, R]`` float32 generator input in [-1, 1]."""
        x = torch.as_tensor(np.asarray(pixels, dtype=np.float32))
        if tuple(x.shape) != self.shape:
            raise ValueError(f"expected an image of shape {self.shape}, got {tuple(x.shape)}")
        x = self._pad(x[None, None], self.pad_value)
        x = F.interpolate(x, size=(self.resolution, self.resolution), mode="area")
        return (x * 2.0 - 1.0).clamp(-1.0, 1.0)

    def mask_to_generator(self, mask: np.ndarray | torch.Tensor) -> torch.Tensor:
        """A native ``[H, W]`` mask in [0, 1] -> ``[R, R]`` float32 area fraction (padding counts as 0)."""
        m = torch.as_tensor(np.asarray(mask, dtype=np.float32))
        if tuple(m.shape) != self.shape:
            raise ValueError(f"expected a mask of shape {self.shape}, got {tuple(m.shape)}")
        m = self._pad(m[None, None], 0.0)
        return F.interpolate(m, size=(self.resolution, self.resolution), mode="area")[0, 0]

    def difference_to_native(self, difference: torch.Tensor) -> np.ndarray:
        """A generator-space difference ``[R, R]`` (units of [-1, 1]) -> native ``[H, W]`` in [0, 1] units.

        Bilinear upsampling to the padded square, then the padding is cut away; halving converts the
        generator's [-1, 1] units to pixel units.
        """
        d = torch.as_tensor(difference, dtype=torch.float32).detach().cpu()
        if d.ndim != 2 or tuple(d.shape) != (self.resolution, self.resolution):
            r = self.resolution
            raise ValueError(f"expected a [{r}, {r}] difference, got {tuple(d.shape)}")
        up = F.interpolate(d[None, None], size=(self.side, self.side), mode="bilinear", align_corners=False)
        top, left = self.offsets
        return (up[0, 0, top : top + self.shape[0], left : left + self.shape[1]] * 0.5).numpy()
