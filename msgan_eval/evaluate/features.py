"""Inception pool features of an image set, extracted once per process and shared by every metric
that reads them (FID, and the feature-based metrics beside it in ``compare``).

A small in-memory memo keyed by the set's file-list fingerprint (modification times included, as
the statistics cache), the weights' SHA-256, the feature size, the FID preset (whose
preprocessing) and the extraction path: two metrics
of one comparison never run the network twice over the same images.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Tuple

import numpy as np

from msgan_eval import defaults
from msgan_eval.images import ImageSet
from msgan_eval.weights import ResolvedWeights

_MEMO: "OrderedDict[Tuple, np.ndarray]" = OrderedDict()
_MEMO_SETS = 4          # a comparison reads at most baseline, candidate and reference


def inception_features(images: ImageSet, *, weights: ResolvedWeights, dims: int = defaults.FID_DIMS,
                       device: str = defaults.DEVICE, batch_size: int = defaults.BATCH_SIZE,
                       num_workers: int = defaults.NUM_WORKERS, quiet: bool = True,
                       fast: bool = True, preset: str = defaults.FID_PRESET) -> np.ndarray:
    """(N, dims) float64 features of ``images`` in the set's order, from the memo when possible.

    Under torchrun every rank must call this with the same set (see
    :func:`msgan_eval.features.extract.extract_inception_features`); every rank gets all rows.
    """
    from msgan_eval.features.extract import extract_inception_features

    key = (images.fingerprint(), weights.sha256, int(dims), bool(fast), preset)
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    feats = extract_inception_features(images, weights=weights, dims=dims, device=device,
                                       batch_size=batch_size, num_workers=num_workers,
                                       quiet=quiet, fast=fast, preset=preset)
    feats.setflags(write=False)      # shared between metrics: nobody may change it in place
    _MEMO[key] = feats
    while len(_MEMO) > _MEMO_SETS:
        _MEMO.popitem(last=False)
    return feats


def clear_memo() -> None:
    """Forget every memoised feature matrix (tests; long-lived notebooks)."""
    _MEMO.clear()
