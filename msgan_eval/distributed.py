"""Running under ``torchrun``: shard the work by rank and add float64 sums across processes.

``torchrun --nproc_per_node N -m msgan_eval fid A B`` starts N copies of the command. Each takes
every N-th image (:func:`shard`), accumulates float64 sums, and :func:`all_reduce_sum` adds them up
over gloo (CPU tensors, so it works with or without GPUs), so every rank ends with the sums of the
whole set. Only rank 0 prints (:func:`is_main_process`). Without torchrun every helper is a no-op.
"""
from __future__ import annotations

import os
from typing import List, Sequence

import numpy as np


def is_distributed() -> bool:
    """True when started by torchrun (or any launcher that sets WORLD_SIZE > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def init_distributed() -> None:
    """Join the process group from torchrun's environment (gloo); no-op in a single process."""
    if not is_distributed():
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")


def close_distributed() -> None:
    if is_distributed():
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def rank() -> int:
    return int(os.environ.get("RANK", "0")) if is_distributed() else 0


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1")) if is_distributed() else 1


def is_main_process() -> bool:
    return rank() == 0


def shard(indices: Sequence[int]) -> List[int]:
    """This rank's share of ``indices``: every world_size-th item starting at the rank."""
    return list(indices)[rank()::world_size()]


def all_reduce_sum(array: np.ndarray) -> np.ndarray:
    """Element-wise sum of ``array`` over all ranks, in float64 (returns a new array)."""
    out = np.array(array, dtype=np.float64, copy=True)
    if not is_distributed():
        return out
    import torch
    import torch.distributed as dist

    init_distributed()
    tensor = torch.from_numpy(out)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.numpy()


def all_agree(flag: bool) -> bool:
    """True only if ``flag`` is true on every rank (e.g. every rank found a cache entry)."""
    return bool(all_reduce_sum(np.array([0.0 if flag else 1.0]))[0] == 0.0)


def local_device(device):
    """Under torchrun, a bare CUDA device means this process's GPU, ``cuda:$LOCAL_RANK``."""
    import torch

    device = torch.device(device)
    if is_distributed() and device.type == "cuda" and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device
