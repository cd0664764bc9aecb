"""Kernel Inception Distance (Binkowski et al. 2018) on feature arrays (pure maths).

KID is the unbiased estimate of the squared MMD between two feature sets under the cubic polynomial
kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets: torch-fidelity's
``kid_features_to_metric`` (itself from the MMD-GAN code), whose defaults we keep (100 subsets of
1000). Subsets are drawn as torch-fidelity draws them (``numpy.random.RandomState(seed)``, for each
subset ``choice(n1, size, replace=False)`` then ``choice(n2, size, replace=False)``), so the same
seed gives the same subsets and the same number.

Unlike torch-fidelity (its issue #45), a set smaller than the subset size is not an error: the
largest size that fits is used and the result says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from msgan_eval import defaults


@dataclass(frozen=True)
class KidEstimate:
    kid: float                  # mean of the subset MMD^2 estimates
    kid_std: float              # their standard deviation (np.std, ddof 0, as torch-fidelity)
    subsets: int
    subset_size: int            # the size used (smaller than asked when a set is smaller)
    requested_subset_size: int
    mmds: np.ndarray            # one unbiased MMD^2 per subset

    @property
    def reduced(self) -> bool:
        return self.subset_size < self.requested_subset_size


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(x y^T / d + 1)^3``: torch-fidelity's ``kernel_poly`` with its defaults (gamma = 1/d)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(k_xx: torch.Tensor, k_xy: torch.Tensor, k_yy: torch.Tensor) -> float:
    """Unbiased MMD^2 of equal-size samples (torch-fidelity's ``mmd2(..., mmd_est='unbiased')``):
    the within-set sums leave out the diagonal, the cross term keeps it."""
    m = k_xx.shape[0]
    within = (k_xx.sum() - k_xx.diagonal().sum()) + (k_yy.sum() - k_yy.diagonal().sum())
    return float(within / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def subset_size_for(n1: int, n2: int, subset_size: int) -> int:
    """The subset size used: the one asked for, or the smaller set's size when it does not fit."""
    return min(int(subset_size), int(n1), int(n2))


def kid(features_1: np.ndarray, features_2: np.ndarray, *, subsets: int = defaults.KID_SUBSETS,
        subset_size: int = defaults.KID_SUBSET_SIZE, seed: int = defaults.SEED,
        device: Optional[str] = None) -> KidEstimate:
    """KID between two (n, d) feature arrays: the mean and std of ``subsets`` subset estimates.

    Args:
        features_1, features_2: (n1, d) and (n2, d) features (any float dtype; computed in float64,
            where the MMD's differences of large kernel sums keep their digits).
        subsets, subset_size: torch-fidelity's ``kid_subsets`` and ``kid_subset_size``.
        seed: torch-fidelity's ``rng_seed``.

    Returns:
        KidEstimate. Raises ValueError when a set has fewer than 2 rows or the widths differ.

    Example:
        >>> est = kid(np.random.rand(500, 64), np.random.rand(400, 64), subsets=10)
        >>> est.subset_size
        400
    """
    x = torch.as_tensor(np.asarray(features_1), dtype=torch.float64, device=device)
    y = torch.as_tensor(np.asarray(features_2), dtype=torch.float64, device=device)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be (n, d) arrays of one width, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    if subsets < 1:
        raise ValueError(f"subsets must be at least 1, got {subsets}")
    size = subset_size_for(len(x), len(y), subset_size)
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples in each set, got {len(x)} and {len(y)}")
    if size == len(x) == len(y):
        # Every subset is then a permutation of both whole sets, and the MMD does not depend on
        # the order: torch-fidelity's 100 evaluations all give this one number (std 0).
        mmds = np.full(subsets, mmd2_unbiased(polynomial_kernel(x, x), polynomial_kernel(x, y),
                                              polynomial_kernel(y, y)))
        return KidEstimate(float(mmds.mean()), 0.0, int(subsets), size, int(subset_size), mmds)
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        a = x[torch.from_numpy(rng.choice(len(x), size, replace=False)).to(x.device)]
        b = y[torch.from_numpy(rng.choice(len(y), size, replace=False)).to(y.device)]
        mmds[i] = mmd2_unbiased(polynomial_kernel(a, a), polynomial_kernel(a, b),
                                polynomial_kernel(b, b))
    return KidEstimate(float(mmds.mean()), float(mmds.std()), int(subsets), size,
                       int(subset_size), mmds)


def _kernel_row_blocks(x: torch.Tensor, y: torch.Tensor, block_entries: int):
    step = max(1, block_entries // max(1, len(y)))
    for start in range(0, len(x), step):
        rows = slice(start, min(start + step, len(x)))
        yield rows, polynomial_kernel(x[rows], y)


def bootstrap_kid(features: np.ndarray, ref_features: np.ndarray, value: float, *,
                  rng: np.random.Generator, n_boot: int = defaults.BOOTSTRAP,
                  confidence: float = defaults.CONFIDENCE,
                  block_entries: int = defaults.PRDC_BLOCK_ENTRIES):
    """KID ``value`` of ``features`` with a bootstrap interval over the generated rows.

    Each replicate is the unbiased MMD^2 of the *whole* resampled set against the whole reference
    (the subsets would cost 100 kernel evaluations per replicate): with resample counts w,
    ``sum_{i != j} w_i w_j k(g_i, g_j) / (m^2 - sum w_i^2)`` (pairs of one row with its own copies
    left out, as the unbiased estimate leaves out the diagonal) plus the fixed reference term minus
    twice the weighted cross mean. Kernel rows are computed in blocks and never stored whole. The
    interval is then re-centred on ``value`` (see :mod:`msgan_eval.metrics.bootstrap`); KID can be
    negative, so it is not cut at 0.
    """
    from .bootstrap import recentred_interval, resample_indices

    g = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    r = torch.as_tensor(np.asarray(ref_features), dtype=torch.float64)
    m, n_r = len(g), len(r)
    idx = resample_indices(m, n_boot, rng)
    w = torch.from_numpy(np.stack([np.bincount(i, minlength=m) for i in idx]).astype(np.float64))
    quad = torch.zeros(n_boot, dtype=torch.float64)
    diag = torch.empty(m, dtype=torch.float64)
    for rows, k_gg in _kernel_row_blocks(g, g, block_entries):
        quad += (w[:, rows] * (k_gg @ w.T).T).sum(dim=1)
        diag[rows] = k_gg.diagonal(offset=rows.start)
    cross = torch.zeros(m, dtype=torch.float64)
    for rows, k_gr in _kernel_row_blocks(g, r, block_entries):
        cross[rows] = k_gr.mean(dim=1)
    ref_term = 0.0
    for rows, k_rr in _kernel_row_blocks(r, r, block_entries):
        ref_term += float(k_rr.sum() - k_rr.diagonal(offset=rows.start).sum())
    ref_term /= n_r * (n_r - 1)
    w2 = (w * w).sum(dim=1)
    within = (quad - (w * w) @ diag) / (m * m - w2).clamp(min=1.0)
    reps = within + ref_term - 2.0 * (w @ cross) / m
    return recentred_interval(value, reps.numpy(), confidence, floor=None)
