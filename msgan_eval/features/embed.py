"""DINOv2 / CLIP features and their statistics of an ImageSet, as ``extract.py`` does for Inception.

Images are decoded and (for the PIL presets) resized in DataLoader workers, stacked, normalised
and embedded a batch at a time; rows are written into a float64 array like dgm-eval's
``get_representations`` (``pred_arr = np.empty((nimages, dims))``). Statistics stream through
:class:`~msgan_eval.metrics.fid.RunningStats` (memory flat in the number of images) and are cached
under a key that names the feature network and the preset. Under torchrun each rank embeds its
shard, as for Inception.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from msgan_eval import defaults, distributed
from msgan_eval.device import resolve_device
from msgan_eval.errors import UserError
from msgan_eval.images import ImageSet, decode_image
from msgan_eval.metrics.fid import RunningStats
from msgan_eval.progress import progress
from msgan_eval.weights import ResolvedWeights

from . import stats_cache
from .networks import NETWORKS
from .preprocess import EMBED_PRESETS, EmbedCollate, embed_network_resize
from .stats_cache import FidStats
from .vit import load_vit_features


class _KeepAlpha(Dataset):
    """The set's images, RGBA files with their alpha (the ``openai-clip`` preset resizes them
    premultiplied, as PIL does inside OpenAI's ``_transform``)."""

    def __init__(self, image_set: ImageSet):
        self.image_set = image_set

    def __len__(self) -> int:
        return len(self.image_set)

    def __getitem__(self, i: int) -> np.ndarray:
        ref = self.image_set.refs[i]
        return self.image_set.read(i) if ref.index >= 0 else decode_image(ref.path, keep_alpha=True)


def _forward(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The tower on ``x``; on a CPU in slices of ``defaults.CPU_VIT_SLICE`` images."""
    if x.device.type == "cpu" and len(x) > defaults.CPU_VIT_SLICE:
        return torch.cat([model(part) for part in x.split(defaults.CPU_VIT_SLICE)])
    return model(x)


def iter_embeddings(image_set: ImageSet, name: str, *, weights: ResolvedWeights, preset: str,
                    device: torch.device, batch_size: int, num_workers: int,
                    quiet: bool) -> Iterator[np.ndarray]:
    """Features (float64, batch x dims) of ``image_set`` in order, one batch at a time."""
    net, p = NETWORKS[name], EMBED_PRESETS[preset]
    model = load_vit_features(name, weights, device, p.pixel_scale)
    dataset = _KeepAlpha(image_set) if p.loader_resize == "short-side-crop" else image_set
    loader = DataLoader(dataset, batch_size=max(1, min(batch_size, len(image_set))),
                        shuffle=False, drop_last=False, num_workers=num_workers,
                        collate_fn=EmbedCollate(preset, net.input_size))
    bar = progress(total=len(image_set), desc=f"{name} {image_set.source.name}", quiet=quiet,
                   unit="img")
    with torch.inference_mode(), bar:
        for groups in loader:
            size = sum(len(positions) for positions, _ in groups)
            feats = np.empty((size, net.dims), dtype=np.float64)
            for positions, x in groups:
                x = embed_network_resize(p, x.to(device), net.input_size)
                feats[positions] = _forward(model, x).cpu().numpy()
            bar.update(size)
            yield feats


def extract_embeddings(image_set: ImageSet, name: str, *, weights: ResolvedWeights, preset: str,
                       device: str = defaults.DEVICE, batch_size: int = defaults.BATCH_SIZE,
                       num_workers: int = defaults.NUM_WORKERS, quiet: bool = True) -> np.ndarray:
    """(N, dims) float64 features of every image in the set's order (on every torchrun rank)."""
    dev = distributed.local_device(resolve_device(device))
    positions = distributed.shard(range(len(image_set)))
    batches = list(iter_embeddings(image_set.subset(positions), name, weights=weights,
                                   preset=preset, device=dev, batch_size=batch_size,
                                   num_workers=num_workers,
                                   quiet=quiet or not distributed.is_main_process()))
    mine = (np.concatenate(batches, axis=0) if batches
            else np.empty((0, NETWORKS[name].dims), dtype=np.float64))
    return distributed.all_gather_rows(mine, positions)


def embedding_statistics(image_set: ImageSet, name: str, *, weights: ResolvedWeights, preset: str,
                         device: str = defaults.DEVICE, batch_size: int = defaults.BATCH_SIZE,
                         num_workers: int = defaults.NUM_WORKERS, quiet: bool = True,
                         use_cache: bool = True) -> FidStats:
    """(mu, sigma) of the set's features, streamed; cached unless ``use_cache=False``."""
    if len(image_set) < 2:
        raise UserError(f"{image_set.source}: FD statistics need at least 2 images, "
                        f"found {len(image_set)}")
    dims = NETWORKS[name].dims
    key = stats_cache.cache_key(image_set.fingerprint(), weights.sha256, dims, True, preset,
                                features=name)
    source = str(image_set.source)
    cached = (stats_cache.read_cached_stats(key, source, dims, weights.sha256, preset,
                                            features=name) if use_cache else None)
    if distributed.is_distributed() and use_cache:
        cached = cached if distributed.all_agree(cached is not None) else None
    if cached is not None:
        return cached
    dev = distributed.local_device(resolve_device(device))
    running = RunningStats(dims)
    mine = image_set.subset(distributed.shard(range(len(image_set))))
    for feats in iter_embeddings(mine, name, weights=weights, preset=preset, device=dev,
                                 batch_size=batch_size, num_workers=num_workers,
                                 quiet=quiet or not distributed.is_main_process()):
        running.update(feats)
    from .extract import _reduce, checked_and_cached

    running = _reduce(running)
    stats = FidStats(running.mu, running.sigma, running.n, dims, weights.sha256, source,
                     preset=preset, features=name)
    return checked_and_cached(stats, key if use_cache else None, image_set, name, weights)
