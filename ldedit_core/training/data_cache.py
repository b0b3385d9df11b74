"""Training images as one uint8 tensor, cached in the run folder so a resumed run sees the same data."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ldedit_core.errors import InputError
from ldedit_core.training.state_io import load_tensors, save_tensors

LOGGER = logging.getLogger(__name__)


def training_images(
    data: str, resolution: int, *, n: int, seed: int, cache_dir: Path, rank: int = 0
) -> torch.Tensor:
    """``uint8 [N, 1, R, R]`` images from ``data`` ('phantoms' or a data set path), cached as safetensors.

    The cache key is the source, size and seed; only rank 0 builds it, the others wait for the file.
    """
    key = f"images_{'phantoms' if data == 'phantoms' else Path(data).name}_{resolution}px_n{n}_s{seed}"
    cache = Path(cache_dir) / f"{key}.safetensors"
    if cache.is_file():
        return load_tensors(cache)[0]["images"]
    if rank != 0:
        import torch.distributed as dist

        dist.barrier()  # rank 0 builds the cache first
        return load_tensors(cache)[0]["images"]
    if data == "phantoms":
        from tqdm import tqdm

        from ldedit_core.training.phantom_data import phantom_tensors

        bar = tqdm(total=n, desc="phantoms", unit="img")
        images, labels, _ = phantom_tensors(
            n, seed=seed, resolution=resolution, progress=lambda i, _n: bar.update(1)
        )
        bar.close()
    else:
        from ldedit_core.training.datasets import load_labelled_images

        images, labels = load_labelled_images(data, resolution)
    if images.shape[0] == 0:
        raise InputError("no training images found", data)
    save_tensors(cache, {"images": images, "labels": labels}, {"source": str(data), "resolution": resolution})
    if _dist_initialized():
        import torch.distributed as dist

        dist.barrier()
    return images


def _dist_initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()
