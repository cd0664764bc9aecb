"""Inception features and FID statistics of an ImageSet, like pytorch-fid's ``get_activations``.

Preprocessing is the preset's (:mod:`msgan_eval.features.preprocess`); the default, pytorch-fid's:
its ``ImagePathDataset`` applies torchvision's ``ToTensor`` (uint8 HWC -> float32 CHW / 255) and
the network resizes to 299 and maps to [-1, 1] itself. Images are decoded (and, for clean-fid,
resized) in DataLoader workers (``num_workers``); images of different sizes may share a batch (each
size goes through the network separately, which pytorch-fid's default collate cannot do).

Statistics are accumulated with :class:`~msgan_eval.metrics.fid.RunningStats`, so memory does not
grow with the number of images; under torchrun each rank takes its shard and the float64 sums are
added across ranks.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from msgan_eval import defaults, distributed
from msgan_eval.device import resolve_device
from msgan_eval.errors import UserError
from msgan_eval.images import ImageSet
from msgan_eval.metrics.fid import RunningStats
from msgan_eval.progress import progress
from msgan_eval.weights import INCEPTION, ResolvedWeights

from . import stats_cache
from .inception import load_inception
from .preprocess import Batch, Collate
from .stats_cache import FidStats


def to_tensor_batch(images: Sequence[np.ndarray]) -> Batch:
    """torchvision ToTensor on each uint8 (H, W, 3) image, stacked per image size (pytorch-fid)."""
    return Collate("pytorch-fid")(images)


def cpu_inception_slice() -> int:
    """Images per pass of the fast Inception on this CPU (see ``defaults.CPU_INCEPTION_SLICE``)."""
    return defaults.CPU_INCEPTION_SLICE_BY_CAPABILITY.get(torch.backends.cpu.get_cpu_capability(),
                                                          defaults.CPU_INCEPTION_SLICE)


def _forward(model: torch.nn.Module, x: torch.Tensor, fast: bool) -> torch.Tensor:
    x = x.contiguous(memory_format=torch.channels_last if fast else torch.contiguous_format)
    per_pass = cpu_inception_slice()
    if fast and x.device.type == "cpu" and len(x) > per_pass:
        pred = torch.cat([model(part)[0] for part in x.split(per_pass)])
    else:
        pred = model(x)[0]
    # pytorch-fid: average-pool the 64/192/768-d feature maps to 1x1.
    if pred.size(2) != 1 or pred.size(3) != 1:
        pred = F.adaptive_avg_pool2d(pred, output_size=(1, 1))
    return pred.squeeze(3).squeeze(2)


def iter_feature_batches(image_set: ImageSet, model: torch.nn.Module, *, device: torch.device,
                         batch_size: int, num_workers: int, fast: bool, quiet: bool,
                         desc: str = "inception",
                         preset: str = defaults.FID_PRESET) -> Iterator[np.ndarray]:
    """Features (float64, batch x dims) of ``image_set`` in order, one batch at a time."""
    loader = DataLoader(image_set, batch_size=max(1, min(batch_size, len(image_set))),
                        shuffle=False, drop_last=False, num_workers=num_workers,
                        collate_fn=Collate(preset))
    bar = progress(total=len(image_set), desc=desc, quiet=quiet, unit="img")
    with torch.inference_mode(), bar:
        for groups in loader:
            size = sum(len(p) for p, _ in groups)
            parts = [(positions, _forward(model, x.to(device), fast).cpu().numpy())
                     for positions, x in groups]
            # float64 like pytorch-fid's pred_arr (np.empty's default dtype)
            feats = np.empty((size, parts[0][1].shape[1]), dtype=np.float64)
            for positions, pred in parts:
                feats[positions] = pred
            bar.update(size)
            yield feats


@functools.lru_cache(maxsize=1)
def _cached_inception(path: str, sha256: str, dims: int, device: str, fast: bool,
                      preset: str) -> torch.nn.Module:
    # Keyed by the file's hash too, so a replaced file is never served from this cache.
    return load_inception(ResolvedWeights(INCEPTION, Path(path), "cached", sha256), dims, device,
                          fast=fast, preset=preset)


def inception_for(weights: ResolvedWeights, dims: int, device: torch.device, fast: bool,
                  preset: str = defaults.FID_PRESET):
    """The network for these weights, built once per process (``fid A B`` extracts twice)."""
    return _cached_inception(str(weights.path), weights.sha256, dims, str(device), fast, preset)


def _reduce(stats: RunningStats) -> RunningStats:
    """Add the float64 sums of every torchrun rank (no-op in one process)."""
    total = RunningStats(stats.dims)
    total.n = int(round(distributed.all_reduce_sum(np.array([stats.n]))[0]))
    total.total = distributed.all_reduce_sum(stats.total)
    total.outer = distributed.all_reduce_sum(stats.outer)
    return total


def image_set_statistics(image_set: ImageSet, *, weights: ResolvedWeights,
                         dims: int = defaults.FID_DIMS, device: str = "cpu",
                         batch_size: int = defaults.BATCH_SIZE,
                         num_workers: int = defaults.NUM_WORKERS, quiet: bool = True,
                         use_cache: bool = True, fast: bool = True,
                         preset: str = defaults.FID_PRESET,
                         rows: "np.ndarray | None" = None) -> FidStats:
    """The preset's (mu, sigma) of ``image_set``, streamed; cached unless ``use_cache=False``.

    ``rows``: the set's (N, dims) features when a caller already holds them (``compare``'s
    memo, which its realism gate and KID/PRDC read too): the statistics are taken from them
    instead of a second pass of the network over the same images.

    Under torchrun every rank must call this with the same set; each extracts its shard (or
    holds every row: ``rows`` are gathered).
    """
    if len(image_set) < 2:
        raise UserError(f"{image_set.source}: FID statistics need at least 2 images, "
                        f"found {len(image_set)}")
    key = stats_cache.cache_key(image_set.fingerprint(), weights.sha256, dims, fast, preset)
    source = str(image_set.source)
    cached = (stats_cache.read_cached_stats(key, source, dims, weights.sha256, preset)
              if use_cache else None)
    if distributed.is_distributed() and use_cache:
        cached = cached if distributed.all_agree(cached is not None) else None
    if cached is not None:
        return cached

    if rows is not None:
        if rows.shape != (len(image_set), dims):
            raise ValueError(f"rows of shape {rows.shape} for {len(image_set)} images of {dims} dims")
        running = RunningStats(dims)
        running.update(rows)
    else:
        running = _reduce(_streamed(image_set, weights, dims, device, batch_size, num_workers,
                                    quiet, fast, preset))
    stats = FidStats(running.mu, running.sigma, running.n, dims, weights.sha256, source,
                     preset=preset)
    return checked_and_cached(stats, key if use_cache else None, image_set, "Inception", weights)


def checked_and_cached(stats: FidStats, key, image_set: ImageSet, network: str,
                       weights: ResolvedWeights) -> FidStats:
    """``stats`` refused when not finite (damaged weights), else written to the statistics
    cache under ``key`` (None: not cached) by the main process."""
    if not (np.isfinite(stats.mu).all() and np.isfinite(stats.sigma).all()):
        raise UserError(f"{image_set.source}: {network} features contain NaN or infinity; the "
                        f"weights {weights.path} are damaged (re-create or re-download them)")
    if key is not None and distributed.is_main_process():
        stats_cache.write_cached_stats(key, stats)
    return stats


def _streamed(image_set: ImageSet, weights: ResolvedWeights, dims: int, device: str,
              batch_size: int, num_workers: int, quiet: bool, fast: bool,
              preset: str) -> RunningStats:
    """This rank's shard of ``image_set`` through the network, summed batch by batch."""
    dev = distributed.local_device(resolve_device(device))
    model = inception_for(weights, dims, dev, fast, preset)
    mine = image_set.subset(distributed.shard(range(len(image_set))))
    running = RunningStats(dims)
    for feats in iter_feature_batches(mine, model, device=dev, batch_size=batch_size,
                                      num_workers=num_workers, fast=fast,
                                      quiet=quiet or not distributed.is_main_process(),
                                      desc=f"inception {image_set.source.name}", preset=preset):
        running.update(feats)
    return running


def extract_inception_features(image_set: ImageSet, *, weights: ResolvedWeights,
                               dims: int = defaults.FID_DIMS, device: str = "cpu",
                               batch_size: int = defaults.BATCH_SIZE,
                               num_workers: int = defaults.NUM_WORKERS, quiet: bool = True,
                               fast: bool = True,
                               preset: str = defaults.FID_PRESET) -> np.ndarray:
    """(N, dims) float64 features of every image, in the set's order (on every rank).

    Under torchrun every rank must call this with the same set: each extracts its shard and the
    rows are gathered back into the set's order, so a bootstrap over rows sees exactly the matrix
    one process would.
    """
    dev = distributed.local_device(resolve_device(device))
    model = inception_for(weights, dims, dev, fast, preset)
    positions = distributed.shard(range(len(image_set)))
    batches = list(iter_feature_batches(image_set.subset(positions), model, device=dev,
                                        batch_size=batch_size, num_workers=num_workers, fast=fast,
                                        quiet=quiet or not distributed.is_main_process(),
                                        desc=f"inception {image_set.source.name}", preset=preset))
    # A rank can hold no images (more ranks than images); it still joins the gather.
    mine = np.concatenate(batches, axis=0) if batches else np.empty((0, dims), dtype=np.float64)
    return distributed.all_gather_rows(mine, positions)
