"""Bootstrap intervals of the per-condition metrics: per-class FID, the Vendi score and the share of
flagged samples (pure maths).

Each resamples the generated rows *within each condition* (conditions in sorted order, one stream);
per-class FID and Vendi compute the metric per condition and average over conditions, as their
point estimates do, the flagged share counts over all samples. The interval is re-centred on the
estimate like every other (see :mod:`msgan_eval.metrics.bootstrap`).
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

import numpy as np

from msgan_eval import defaults

from .bootstrap import BootstrapEstimate, fid_replicates, recentred_interval, resample_indices
from .fid import feature_statistics, frechet_distance
from .vendi import (
    MIN_IMAGES,
    cosine_similarity_matrix,
    mean_vendi,
    vendi_from_kernel,
    vendi_from_kernel_eigenvalues,
)


def bootstrap_per_class_fid(features: np.ndarray, groups: Mapping[str, np.ndarray],
                            ref_stats: Mapping[str, Tuple[np.ndarray, np.ndarray]], *,
                            rng: np.random.Generator, n_boot: int = defaults.BOOTSTRAP,
                            confidence: float = defaults.CONFIDENCE,
                            check_covariances: bool = True
                            ) -> Tuple[BootstrapEstimate, Dict[str, float]]:
    """(mean per-class FID with its interval, condition -> FID) against fixed reference statistics
    (``check_covariances``: as :func:`~msgan_eval.metrics.fid.frechet_distance`'s)."""
    per, reps = {}, []
    for c in sorted(groups):
        rows = np.asarray(features[groups[c]], dtype=np.float64)
        mu, sigma = ref_stats[c]
        per[c] = float(frechet_distance(*feature_statistics(rows), mu, sigma,
                                        check_covariances=check_covariances))
        reps.append(fid_replicates(rows, mu, sigma, resample_indices(len(rows), n_boot, rng)))
    value = float(np.mean(list(per.values())))
    return recentred_interval(value, np.mean(reps, axis=0), confidence, floor=0.0), per


def _resampled_vendi(kernel: np.ndarray, idx: np.ndarray) -> float:
    """Vendi score of the rows ``idx`` (with repeats) from the kernel of the distinct rows."""
    counts = np.bincount(idx, minlength=len(kernel)).astype(np.float64)
    keep = np.flatnonzero(counts)
    root = np.sqrt(counts[keep])
    sub = kernel[np.ix_(keep, keep)]
    return vendi_from_kernel_eigenvalues(
        np.linalg.eigvalsh(root[:, None] * sub * root[None, :] / counts.sum()))


def bootstrap_vendi(features: np.ndarray, groups: Mapping[str, np.ndarray], *,
                    rng: np.random.Generator, n_boot: int = defaults.BOOTSTRAP,
                    confidence: float = defaults.CONFIDENCE
                    ) -> Tuple[BootstrapEstimate, Dict[str, float]]:
    """(mean Vendi score over conditions with its interval, condition -> Vendi score).

    A resample repeats rows, and repeated rows are identical samples, so the replicates sit below
    the estimate; the re-centring removes that shift (reported as ``bias``) and keeps the spread.
    """
    per: Dict[str, Optional[float]] = {}
    reps = []
    for c in sorted(groups):
        if len(groups[c]) < MIN_IMAGES:          # not computable: left out of the mean
            per[c] = None
            continue
        kernel = cosine_similarity_matrix(features[groups[c]])
        per[c] = vendi_from_kernel(kernel)
        idx = resample_indices(len(kernel), n_boot, rng)
        reps.append(np.array([_resampled_vendi(kernel, row) for row in idx]))
    if not reps:
        raise ValueError(f"no condition has {MIN_IMAGES} images: the Vendi score is not computable")
    value = mean_vendi(per)
    return recentred_interval(value, np.mean(reps, axis=0), confidence, floor=1.0), per


def bootstrap_flagged_fraction(flagged: np.ndarray, groups: Mapping[str, np.ndarray], *,
                               rng: np.random.Generator, n_boot: int = defaults.BOOTSTRAP,
                               confidence: float = defaults.CONFIDENCE
                               ) -> Tuple[BootstrapEstimate, Dict[str, float]]:
    """(share of ``flagged`` samples with its interval, condition -> its share).

    ``flagged``: (n,) bool, one per sample (e.g. ``inspect``'s degenerate mask); ``groups``:
    condition -> row indices. Each replicate resamples every condition's rows with replacement,
    so each condition keeps its size and the conditions their weight in the share.
    """
    flagged = np.asarray(flagged, dtype=bool)
    per, total, reps = {}, 0, np.zeros(n_boot)
    for c in sorted(groups):
        rows = flagged[np.asarray(groups[c], dtype=np.int64)]
        per[c] = float(rows.mean())
        total += len(rows)
        reps += rows[resample_indices(len(rows), n_boot, rng)].sum(axis=1)
    if total != len(flagged):
        raise ValueError("bootstrap_flagged_fraction: the groups must cover every sample once")
    return recentred_interval(float(flagged.mean()), reps / total, confidence, floor=0.0), per
