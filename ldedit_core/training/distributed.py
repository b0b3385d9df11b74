"""Multi-process training over ``torch.distributed`` (started by ``torchrun``): NCCL on GPUs, gloo on CPU.

Like StyleGAN2-ADA, gradients are averaged by an explicit all-reduce after each accumulated step instead
of wrapping the networks in DistributedDataParallel: the R1 penalty needs a double backward, which DDP's
hooks do not support, and an explicit reduce keeps every rank's weights bit-identical.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ldedit_core.models.device import resolve_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the process group that ``torchrun`` describes in the environment (or run alone).

    Returns:
        The rank info and this process's device (``cuda:LOCAL_RANK`` when CUDA is used).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local}")  # one GPU per local rank
    if world == 1:
        return DistInfo(), dev
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local), dev


def average_gradients(params: list[torch.nn.Parameter], world_size: int) -> None:
    """All-reduce and average the gradients of ``params`` across ranks, as one flat buffer."""
    if world_size == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.flatten() for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for p, g in zip(params, grads, strict=True):
        n = g.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def average_tensors(tensors: list[torch.Tensor], world_size: int) -> None:
    """Average tensors in place across ranks (e.g. ``w_avg``, which each rank tracks from its own z)."""
    if world_size == 1:
        return
    for tensor in tensors:
        dist.all_reduce(tensor.data)
        tensor.data /= world_size


def broadcast_module(module: torch.nn.Module, world_size: int) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if world_size == 1:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)
