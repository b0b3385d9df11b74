"""Training images and labels as tensors, cached in the run folder so a resumed run sees the same data."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ldedit_core.errors import InputError
from ldedit_core.training.state_io import load_tensors, save_tensors

LOGGER = logging.getLogger(__name__)


def training_data(
    data: str,
    resolution: int,
    *,
    n: int,
    seed: int,
    cache_dir: Path,
    rank: int = 0,
    fmt: str | None = None,
    uncertainty: str = "zeros",
    limit: int | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``uint8 [N, 1, R, R]`` images and float ``[N, D]`` labels from ``data``, cached as safetensors.

    Args:
        data: ``"phantoms"`` (``n`` of them, population ``seed``) or a data set path (see
            :func:`ldedit_core.training.datasets.load_labelled_images`, with ``fmt``, ``uncertainty``
            and ``limit``).
        resolution: image side.
        cache_dir: the run folder; the cache is ``data_<key>.safetensors`` there.
        rank: only rank 0 builds the cache; the others wait for it.
        progress: show a progress bar while building it.
    """
    if data == "phantoms":
        from ldedit_core.phantoms.population import POPULATION_VERSION

        key = f"phantoms_v{POPULATION_VERSION}_{resolution}px_n{n}_s{seed}"
    else:
        key = f"{Path(data).name}_{resolution}px_{fmt or 'auto'}_{uncertainty}_{limit}"
    cache = Path(cache_dir) / f"data_{key}.safetensors"
    if not cache.is_file() and rank == 0:
        images, labels = _build(
            data, resolution, n=n, seed=seed, fmt=fmt, uncertainty=uncertainty, limit=limit, progress=progress
        )
        save_tensors(cache, {"images": images, "labels": labels}, {"source": str(data), "key": key})
    if _dist_initialized():
        import torch.distributed as dist

        dist.barrier()  # rank 0 has written the cache
    tensors, _ = load_tensors(cache)
    return tensors["images"], tensors["labels"]


def training_images(data: str, resolution: int, **kwargs: object) -> torch.Tensor:
    """Only the images of :func:`training_data` (for the GAN and the encoder)."""
    return training_data(data, resolution, **kwargs)[0]  # type: ignore[arg-type]


def _build(
    data: str,
    resolution: int,
    *,
    n: int,
    seed: int,
    fmt: str | None,
    uncertainty: str,
    limit: int | None,
    progress: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    from tqdm import tqdm

    bar = tqdm(desc="images", unit="img", disable=not progress)

    def tick(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        if data == "phantoms":
            from ldedit_core.training.phantom_data import phantom_tensors

            images, labels, _ = phantom_tensors(n, seed=seed, resolution=resolution, progress=tick)
        else:
            from ldedit_core.training.datasets import load_labelled_images

            try:
                images, labels = load_labelled_images(
                    data, resolution, fmt, limit, tick, uncertainty=uncertainty
                )
            except InputError:
                raise
            except ValueError as exc:  # a bad format, uncertainty policy or limit
                raise InputError(str(exc)) from exc
    finally:
        bar.close()
    if images.shape[0] == 0:
        raise InputError("no training images found", data)
    return images, labels


def _dist_initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()
