"""Running under ``torchrun``: shard the work by rank and add float64 sums across processes.

``torchrun --nproc_per_node N -m msgan_eval fid A B`` starts N copies of the command. Each takes
every N-th image (:func:`shard`), accumulates float64 sums, and :func:`all_reduce_sum` adds them up
over gloo (CPU tensors, so it works with or without GPUs), so every rank ends with the sums of the
whole set. Where per-sample rows are needed (``compare`` bootstraps over feature rows), each rank
extracts its shard and :func:`all_gather_rows` puts every rank's rows back in the original order.
Only rank 0 prints (:func:`is_main_process`). Without torchrun every helper is a no-op.
"""
from __future__ import annotations

import os
from typing import List, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


def is_distributed() -> bool:
    """True when started by torchrun (or any launcher that sets WORLD_SIZE > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def init_distributed(backend: str = "gloo") -> bool:
    """Join the process group from torchrun's environment; no-op in a single process.

    Evaluation gathers numpy arrays, so gloo (CPU tensors); the trainer asks for nccl on GPUs.
    Returns whether this call created the group (and so should destroy it).
    """
    if not is_distributed():
        return False
    import torch.distributed as dist

    if dist.is_initialized():
        return False
    dist.init_process_group(backend=backend)
    return True


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


def shard(items: Sequence[T]) -> List[T]:
    """This rank's share of ``items``: every world_size-th item starting at the rank."""
    return list(items)[rank()::world_size()]


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


def all_gather_rows(rows: np.ndarray, positions: Sequence[int]) -> np.ndarray:
    """Every rank's ``rows`` in one array, row ``positions[k]`` holding this rank's ``rows[k]``.

    Shards may differ in length (``shard`` of 7 images on 2 ranks gives 4 and 3 rows): each rank
    pads to the longest shard for gloo's equal-size ``all_gather``, then the padding is dropped.
    The positions of all ranks together must be 0..N-1, each once. Keeps the dtype of ``rows``.
    """
    rows = np.ascontiguousarray(rows)
    positions = np.asarray(positions, dtype=np.int64).reshape(-1)
    if len(positions) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(positions)} positions")
    if is_distributed():
        rows, positions = _gather_padded(rows, positions)
    if not np.array_equal(np.sort(positions), np.arange(len(positions))):
        raise ValueError("the gathered positions are not 0..N-1, each once")
    out = np.empty_like(rows)
    out[positions] = rows
    return out


def _gather_padded(rows: np.ndarray, positions: np.ndarray):
    """(rows, positions) of all ranks, concatenated in rank order."""
    import torch
    import torch.distributed as dist

    init_distributed()
    counts = [torch.zeros(1, dtype=torch.int64) for _ in range(world_size())]
    dist.all_gather(counts, torch.tensor([len(rows)], dtype=torch.int64))
    counts = [int(c.item()) for c in counts]
    longest = max(counts)
    padded = np.zeros((longest, *rows.shape[1:]), dtype=rows.dtype)
    padded[:len(rows)] = rows
    padded_pos = np.full(longest, -1, dtype=np.int64)
    padded_pos[:len(positions)] = positions
    gathered = []
    for array in (padded, padded_pos):
        parts = [torch.empty_like(torch.from_numpy(array)) for _ in counts]
        dist.all_gather(parts, torch.from_numpy(array))
        gathered.append(np.concatenate([p.numpy()[:n] for p, n in zip(parts, counts)]))
    return gathered[0], gathered[1]


def all_gather_objects(obj) -> list:
    """``obj`` of every rank (picklable), in rank order; ``[obj]`` in a single process."""
    if not is_distributed():
        return [obj]
    import torch.distributed as dist

    init_distributed()
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


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
