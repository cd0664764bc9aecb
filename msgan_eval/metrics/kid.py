"""Kernel Inception Distance (Binkowski et al. 2018) on feature arrays (pure maths).

KID is the unbiased estimate of the squared MMD between two feature sets under the cubic polynomial
kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets: torch-fidelity's
``kid_features_to_metric`` (itself from the MMD-GAN code), whose defaults we keep (100 subsets of
1000). Subsets are drawn as torch-fidelity draws them (``numpy.random.RandomState(seed)``, for each
subset ``choice(n1, size, replace=False)`` then ``choice(n2, size, replace=False)``), so the same
seed gives the same subsets and the same number.

Unlike torch-fidelity (its issue #45), a set smaller than the subset size is not an error: the
largest size that fits is used and the result says so.

Speed: torch-fidelity computes three kernels per subset (``subsets x 2 size^2`` kernel entries,
numpy running ``X @ X.T`` as a SYRK). When the sets are not much larger than the subsets, every
kernel entry is needed several times over, so :func:`kid_method` computes the whole kernel
matrices once instead, in bounded row blocks, and takes each subset's sums from products with its
membership rows: the same sums, added in another order (≤ 1e-6 relative, measured ~1e-12).
Everything is float64: the MMD is a difference of kernel sums ~1e4 times larger than itself, and
float32 Grams moved one subset's MMD^2 by 1.4e-6 (pool3-like features) to 1.3e-5 relative
(``benchmarks/bench_prdc.py`` features), outside torch-fidelity parity.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from msgan_eval import defaults
from msgan_eval.validate import seed as check_seed
from msgan_eval.validate import whole

from .tensors import shared_tensor


@dataclass(frozen=True)
class KidEstimate:
    kid: float                  # mean of the subset MMD^2 estimates
    kid_std: float              # their standard deviation (np.std, ddof 0, as torch-fidelity)
    subsets: int
    subset_size: int            # the size used (smaller than asked when a set is smaller)
    requested_subset_size: int
    mmds: np.ndarray            # one unbiased MMD^2 per subset
    method: str = "subsets"     # how the subsets' kernel sums were computed (kid_method)

    @property
    def reduced(self) -> bool:
        return self.subset_size < self.requested_subset_size


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(x y^T * gamma + 1)^3`` with gamma = 1/d: torch-fidelity's ``kernel_poly`` with its defaults.
    The scaling, the + 1 and the cube are done in place on the GEMM's output (no temporaries)."""
    return (x @ y.T).mul_(1.0 / x.shape[1]).add_(1.0).pow_(3)


def mmd2_unbiased(k_xx: torch.Tensor, k_xy: torch.Tensor, k_yy: torch.Tensor) -> float:
    """Unbiased MMD^2 of equal-size samples (torch-fidelity's ``mmd2(..., mmd_est='unbiased')``):
    the within-set sums leave out the diagonal, the cross term keeps it."""
    m = k_xx.shape[0]
    within = (k_xx.sum() - k_xx.diagonal().sum()) + (k_yy.sum() - k_yy.diagonal().sum())
    return float(within / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def subset_size_for(n1: int, n2: int, subset_size: int) -> int:
    """The subset size used: the one asked for, or the smaller set's size when it does not fit."""
    return min(int(subset_size), int(n1), int(n2))


def _within_sums(x: torch.Tensor, w: Optional[torch.Tensor], rows: int) -> torch.Tensor:
    """``sum_{j != k} w[s, j] w[s, k] k(x_j, x_k)`` for each weight row s (one all-ones row when
    ``w`` is None); the pairs of a row with itself are left out, as the unbiased MMD leaves out the
    diagonal (with 0/1 weights ``w * w == w``; with bootstrap counts, copies of one row pair too).

    Why the upper triangle: the kernel matrix is symmetric, so each row block [a, b) is paired with
    the rows after it in one large GEMM, counted twice, and with itself as the upper triangle of
    its own tile (``_tile_sums``): about half the multiply-adds of the full matrix, as numpy's
    ``A @ A.T`` (a SYRK) gives torch-fidelity, while torch has no symmetric product.
    """
    n = len(x)
    total = x.new_zeros(1 if w is None else len(w))
    for a in range(0, n, rows):
        b = min(a + rows, n)
        wb = None if w is None else w[:, a:b]
        total += _tile_sums(x[a:b], wb)
        if b < n:
            total += 2.0 * _cross_sums(x[a:b], x[b:], wb, None if w is None else w[:, b:], b - a)
    return total


def _tile_sums(x: torch.Tensor, w: Optional[torch.Tensor]) -> torch.Tensor:
    """``_within_sums`` of one tile, from its upper triangle in ``KID_TILE_SPLIT`` row blocks."""
    n = len(x)
    rows = _tile_rows(n)
    total = x.new_zeros(1 if w is None else len(w))
    for a in range(0, n, rows):
        b = min(a + rows, n)
        k = polynomial_kernel(x[a:b], x[a:])          # (b - a, n - a); k[j, j] is the pair (a+j, a+j)
        diag = k.diagonal()
        if w is None:
            total += k[:, :b - a].sum() - diag.sum() + 2.0 * k[:, b - a:].sum()
        else:
            wb = w[:, a:b]
            k[:, b - a:] *= 2.0
            total += ((k @ w[:, a:].T) * wb.T).sum(dim=0) - (wb * wb) @ diag
    return total


def _cross_sums(x: torch.Tensor, y: torch.Tensor, wx: Optional[torch.Tensor],
                wy: Optional[torch.Tensor], rows: int,
                pick: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``sum_{j, k} wx[s, j] wy[pick[s], k] k(x_j, y_k)`` for each weight row s (all ones when
    None; ``pick`` lets many rows of ``wx`` share one row of ``wy`` without repeating its GEMM
    column), the diagonal kept (torch-fidelity's unbiased estimate keeps the cross term's)."""
    total = x.new_zeros(len(wx) if wx is not None else 1 if wy is None else len(wy))
    for a in range(0, len(x), rows):
        b = min(a + rows, len(x))
        k = polynomial_kernel(x[a:b], y)
        t = k.sum(dim=1, keepdim=True) if wy is None else k @ wy.T      # (b - a, 1 or S)
        t = t if pick is None else t[:, pick]
        total += t.sum(dim=0) if wx is None else (t * wx[:, a:b].T).sum(dim=0)
    return total


def _tile_rows(n: int) -> int:
    """Row block inside a tile: a quarter of it computes 62.5 % of the tile (measured: 250 x d x
    1000 GEMMs run as fast per flop as 1000 x d x 1000)."""
    return max(1, -(-n // defaults.KID_TILE_SPLIT))


def _within_entries(n: int, rows: int) -> int:
    """Kernel entries ``_within_sums`` computes for n rows in blocks of ``rows``."""
    total = 0
    for a in range(0, n, rows):
        t = min(a + rows, n) - a
        r = _tile_rows(t)
        total += t * (n - a - t) + sum((min(c + r, t) - c) * (t - c) for c in range(0, t, r))
    return total


def kid_method(n1: int, n2: int, d: int, subsets: int, size: int,
               block_entries: int = defaults.KID_BLOCK_ENTRIES) -> str:
    """``"kernel-rows"`` when the whole kernel matrices, in row blocks, cost fewer multiply-adds
    than the subsets' own (``subsets x 3`` size^2 kernels, the two within-set ones as triangles),
    else ``"subsets"``.

    The kernel-rows way computes every kernel entry once (the within-set ones as triangles) and
    gets each subset's three sums from products with its 0/1 membership rows: about
    ``(n1 + n2)^2 / 2`` entries at ``d`` multiply-adds each, plus ``subsets`` each for the
    membership products (thin GEMMs, counted at their measured cost). The subsets way is
    counted as tiles (62.5 % of each within-set kernel; numpy's SYRK does 50 % at a lower rate
    per flop, measured alike). At torch-fidelity's defaults (100 x 1000) the kernel-rows way does
    25x fewer at n = 2000 per set, 4x fewer at 5000, and breaks even near n = 10000
    (n^2 = subsets x size^2): past that no regrouping of the work saves flops, and KID costs
    what torch-fidelity's costs.
    """
    full = (_within_entries(n1, _triangle_rows(n1, block_entries))
            + _within_entries(n2, _triangle_rows(n2, block_entries))
            + n1 * n2) * (d + defaults.KID_WEIGHT_PRODUCT_COST * subsets)
    per_subset = subsets * d * (2 * _within_entries(size, size) + size * size)
    return "kernel-rows" if full < per_subset else "subsets"


def _block_rows(n_columns: int, block_entries: int) -> int:
    """Rows of a kernel block against ``n_columns`` columns within ``block_entries`` entries."""
    return max(1, block_entries // n_columns)


def _triangle_rows(n: int, block_entries: int) -> int:
    """Row blocks of a whole set's within-set kernel: at least ``KID_TRIANGLE_BLOCKS`` of them, so
    the tiles on the diagonal (62.5 % computed, not 50 %) stay a few percent of the triangle."""
    return min(_block_rows(n, block_entries), -(-n // defaults.KID_TRIANGLE_BLOCKS))


def _subset_indices(n1: int, n2: int, size: int, subsets: int, seed: int):
    """torch-fidelity's draws: one ``RandomState(seed)``, per subset the first set's rows then the
    second's, each ``choice(n, size, replace=False)``."""
    rng = np.random.RandomState(seed)
    ia, ib = np.empty((subsets, size), np.int64), np.empty((subsets, size), np.int64)
    for i in range(subsets):
        ia[i] = rng.choice(n1, size, replace=False)
        ib[i] = rng.choice(n2, size, replace=False)
    return ia, ib


def _mmd_of(a: torch.Tensor, b: torch.Tensor, block_entries: int) -> float:
    """Unbiased MMD^2 of two equal-size samples, as ``mmd2_unbiased`` of their three kernels."""
    m, rows = len(a), _block_rows(len(a), block_entries)     # a subset of 1000: one tile, one GEMM
    within = _within_sums(a, None, rows) + _within_sums(b, None, rows)
    return float(within / (m * (m - 1)) - 2.0 * _cross_sums(a, b, None, None, rows) / (m * m))


def _kernel_sum_numpy(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of ``(a b^T / d + 1)^3`` on the CPU, less its trace when ``b is a``."""
    k = a @ b.T                                  # numpy runs a @ a.T as a SYRK: half the flops
    k *= 1.0 / a.shape[1]
    k += 1.0
    cube = k * k
    cube *= k
    return float(cube.sum() - (np.trace(cube) if b is a else 0.0))


def _mmds_by_subsets(x: torch.Tensor, y: torch.Tensor, ia: np.ndarray, ib: np.ndarray,
                     block_entries: int) -> np.ndarray:
    """Each subset's MMD^2 from its own three kernels, as torch-fidelity.

    Why numpy on the CPU: numpy's ``a @ a.T`` is a SYRK (half the multiply-adds; torch has no
    symmetric product), and its few single-threaded elementwise passes do not stall the way
    torch's ~40 small parallel ops per subset did on a busy machine (measured 2026-12-01, 2 cores
    at load 3.4: 364 ms per subset of 1000 x 2048 here and 375 ms in torch-fidelity, 628 ms with
    the torch kernels). Subsets over ``block_entries`` kernel entries, or on a GPU, use the
    blocked torch kernels."""
    m = ia.shape[1]
    if x.device.type != "cpu" or m * m > block_entries:
        return np.array([_mmd_of(x[torch.from_numpy(a).to(x.device)],
                                 y[torch.from_numpy(b).to(y.device)], block_entries)
                         for a, b in zip(ia, ib)])
    xn, yn = x.numpy(), y.numpy()
    mmds = np.empty(len(ia))
    for i, (a, b) in enumerate(zip(ia, ib)):
        fa, fb = xn[a], yn[b]
        within = _kernel_sum_numpy(fa, fa) + _kernel_sum_numpy(fb, fb)
        mmds[i] = within / (m * (m - 1)) - 2.0 * _kernel_sum_numpy(fa, fb) / (m * m)
    return mmds


def _membership(idx: np.ndarray, n: int, device) -> torch.Tensor:
    """0/1 rows: ``w[s, j] = 1`` when row j is in subset s."""
    w = torch.zeros(len(idx), n, dtype=torch.float64, device=device)
    return w.scatter_(1, torch.from_numpy(idx).to(device), 1.0)


def _mmds_by_kernel_rows(x: torch.Tensor, y: torch.Tensor, ia: np.ndarray, ib: np.ndarray,
                         block_entries: int) -> np.ndarray:
    """Every subset's MMD^2 from one pass over the whole kernel matrices (see ``kid_method``)."""
    m = ia.shape[1]
    wx, wy = _membership(ia, len(x), x.device), _membership(ib, len(y), y.device)
    within = (_within_sums(x, wx, _triangle_rows(len(x), block_entries))
              + _within_sums(y, wy, _triangle_rows(len(y), block_entries)))
    cross = _cross_sums(x, y, wx, wy, _block_rows(len(y), block_entries))
    return (within / (m * (m - 1)) - 2.0 * cross / (m * m)).cpu().numpy()


def _checked(features_1: np.ndarray, features_2: np.ndarray, subsets: int, subset_size: int,
             method: str, device: Optional[str]):
    """The two feature arrays as float64 tensors and the subset size used, or a ValueError."""
    x = shared_tensor(features_1, dtype=torch.float64, device=device)
    y = shared_tensor(features_2, dtype=torch.float64, device=device)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be (n, d) arrays of one width, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    if method not in ("auto", "subsets", "kernel-rows"):
        raise ValueError(f"method must be auto, subsets or kernel-rows, got {method!r}")
    size = subset_size_for(len(x), len(y), subset_size)
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples in each set, got {len(x)} and {len(y)}")
    return x, y, size


def kid(features_1: np.ndarray, features_2: np.ndarray, *, subsets: int = defaults.KID_SUBSETS,
        subset_size: int = defaults.KID_SUBSET_SIZE, seed: int = defaults.SEED,
        device: Optional[str] = None, method: str = "auto",
        block_entries: int = defaults.KID_BLOCK_ENTRIES) -> KidEstimate:
    """KID between two (n, d) feature arrays: the mean and std of ``subsets`` subset estimates.

    Args:
        features_1, features_2: (n1, d) and (n2, d) features (any float dtype; computed in float64,
            where the MMD's differences of large kernel sums keep their digits).
        subsets, subset_size: torch-fidelity's ``kid_subsets`` and ``kid_subset_size``.
        seed: torch-fidelity's ``rng_seed``.
        method: ``"auto"`` (the cheaper of the two, :func:`kid_method`), ``"subsets"`` (each
            subset's kernels, as torch-fidelity) or ``"kernel-rows"`` (the whole kernel matrices
            once, in row blocks of ``block_entries`` entries): the same number either way.

    Returns:
        KidEstimate. Raises ValueError when a set has fewer than 2 rows or the widths differ.

    Example:
        >>> est = kid(np.random.rand(500, 64), np.random.rand(400, 64), subsets=10)
        >>> est.subset_size
        400
    """
    subsets, subset_size = whole(subsets, "subsets", min=1), whole(subset_size, "subset_size", min=2)
    seed = check_seed(seed)
    x, y, size = _checked(features_1, features_2, subsets, subset_size, method, device)
    if size == len(x) == len(y):
        # Every subset is then a permutation of both whole sets, and the MMD does not depend on
        # the order: torch-fidelity's 100 evaluations all give this one number (std 0).
        mmds = np.full(subsets, _mmd_of(x, y, block_entries))
        return KidEstimate(float(mmds.mean()), 0.0, int(subsets), size, int(subset_size), mmds,
                           "whole-sets")
    ia, ib = _subset_indices(len(x), len(y), size, int(subsets), seed)
    if method == "auto":
        method = kid_method(len(x), len(y), x.shape[1], int(subsets), size, block_entries)
    if method == "kernel-rows":
        mmds = _mmds_by_kernel_rows(x, y, ia, ib, block_entries)
    else:
        mmds = _mmds_by_subsets(x, y, ia, ib, block_entries)
    return KidEstimate(float(mmds.mean()), float(mmds.std()), int(subsets), size,
                       int(subset_size), mmds, method)


def _resample_counts(m: int, n_boot: int, rng: np.random.Generator) -> torch.Tensor:
    """(n_boot, m) float64 counts of each row in each bootstrap resample."""
    from .bootstrap import resample_indices

    idx = resample_indices(m, n_boot, rng)
    return torch.from_numpy(np.stack([np.bincount(i, minlength=m) for i in idx]).astype(np.float64))


def bootstrap_kid(features: np.ndarray, ref_features: np.ndarray, value: float, *,
                  rng: np.random.Generator, n_boot: int = defaults.BOOTSTRAP,
                  confidence: float = defaults.CONFIDENCE,
                  block_entries: int = defaults.KID_BLOCK_ENTRIES):
    """KID ``value`` of ``features`` with a bootstrap interval over the generated rows.

    Each replicate is the unbiased MMD^2 of the *whole* resampled set against the whole reference
    (the subsets would cost 100 kernel evaluations per replicate): with resample counts w,
    ``sum_{i != j} w_i w_j k(g_i, g_j) / (m^2 - sum w_i^2)`` (pairs of one row with its own copies
    left out, as the unbiased estimate leaves out the diagonal) plus the fixed reference term minus
    twice the weighted cross mean. Kernel rows are computed in blocks (the two within-set kernels
    as upper triangles, see ``_within_sums``) and never stored whole. The interval is then
    re-centred on ``value`` (see :mod:`msgan_eval.metrics.bootstrap`); KID can be negative, so it
    is not cut at 0.
    """
    from .bootstrap import recentred_interval

    g = shared_tensor(features, dtype=torch.float64)
    r = shared_tensor(ref_features, dtype=torch.float64)
    m, n_r = len(g), len(r)
    w = _resample_counts(m, n_boot, rng)
    within = _within_sums(g, w, _triangle_rows(m, block_entries)) / (m * m - (w * w).sum(dim=1)).clamp(min=1.0)
    ref_term = float(_within_sums(r, None, _triangle_rows(n_r, block_entries))) / (n_r * (n_r - 1))
    cross = _cross_sums(g, r, w, None, _block_rows(n_r, block_entries)) / (m * n_r)
    reps = within + ref_term - 2.0 * cross
    return recentred_interval(value, reps.numpy(), confidence, floor=None)


def kid_and_bootstrap(features: np.ndarray, ref_features: np.ndarray, *,
                      subsets: int = defaults.KID_SUBSETS,
                      subset_size: int = defaults.KID_SUBSET_SIZE, seed: int = defaults.SEED,
                      rng: np.random.Generator, n_boot: int = defaults.BOOTSTRAP,
                      confidence: float = defaults.CONFIDENCE,
                      block_entries: int = defaults.KID_BLOCK_ENTRIES):
    """``kid(features, ref_features)`` and ``bootstrap_kid`` of that value, as ``compare`` needs
    them, with the same numbers as the two calls.

    Why one function: where :func:`kid_method` picks the whole kernel matrices, the subsets'
    membership rows and the bootstrap's resample counts multiply the *same* kernel blocks, so one
    pass serves both (the bootstrap alone costs about as much as KID). Otherwise the two calls.
    """
    from .bootstrap import recentred_interval

    x, y, size = _checked(features, ref_features, subsets, subset_size, "auto", None)
    if size == len(x) == len(y) or \
            kid_method(len(x), len(y), x.shape[1], subsets, size, block_entries) != "kernel-rows":
        est = kid(features, ref_features, subsets=subsets, subset_size=subset_size, seed=seed,
                  block_entries=block_entries)
        return est, bootstrap_kid(features, ref_features, est.kid, rng=rng, n_boot=n_boot,
                                  confidence=confidence, block_entries=block_entries)
    n, n_r, s = len(x), len(y), int(subsets)
    ia, ib = _subset_indices(n, n_r, size, s, seed)
    counts = _resample_counts(n, n_boot, rng)
    wx = torch.cat([_membership(ia, n, x.device), counts])
    wy = torch.cat([_membership(ib, n_r, y.device), torch.ones(1, n_r, dtype=torch.float64)])
    pick = torch.cat([torch.arange(s), torch.full((n_boot,), s)])    # bootstrap rows: all of y
    xx = _within_sums(x, wx, _triangle_rows(n, block_entries))
    yy = _within_sums(y, wy, _triangle_rows(n_r, block_entries))
    xy = _cross_sums(x, y, wx, wy, _block_rows(n_r, block_entries), pick)
    mmds = ((xx[:s] + yy[:s]) / (size * (size - 1)) - 2.0 * xy[:s] / (size * size)).numpy()
    est = KidEstimate(float(mmds.mean()), float(mmds.std()), s, size, int(subset_size), mmds,
                      "kernel-rows")
    reps = (xx[s:] / (n * n - (counts * counts).sum(dim=1)).clamp(min=1.0)
            + yy[s] / (n_r * (n_r - 1)) - 2.0 * xy[s:] / (n * n_r))
    return est, recentred_interval(est.kid, reps.numpy(), confidence, floor=None)
