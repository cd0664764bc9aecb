"""The realism score of Kynkaanniemi et al. 2019 ("Improved precision and recall metric for
assessing generative models", eq. 3) and nearest-neighbour distances between two feature sets
(pure maths).

Realism of a generated feature f against reference features phi_1..phi_n:

    R(f) = max_j  r_k(phi_j) / ||f - phi_j||

with r_k(phi_j) the distance of phi_j to its k-th nearest other reference sample (prdc's radius:
the (k+1)-th smallest distance, the sample itself being the first). R >= 1 exactly when f lies
inside some reference ball (d <= r), i.e. where k-NN precision counts it (precision's test is
strict, ``d < r``: only a point exactly on a sphere differs). R is inf where f equals a kept
reference sample.

Which variant, and why:

- **Pruning.** The paper takes the max over the reference samples whose ball is no larger than the
  median only ("we discard half of the hyperspheres with the largest radii"), as the official code
  does: ``ManifoldEstimator(..., clamp_to_percentile=50)`` in ``compute_stylegan_realism``
  (kynkaat/improved-precision-and-recall-metric, experiments.py l. 56), which zeroes the radii
  ``D > np.percentile(D, 50)`` (precision_recall.py l. 107-109), keeping those ``<=`` the
  percentile. ``prune_percentile=50`` does the same (the same ``<=``); dgm-eval
  (layer6ai-labs/dgm-eval, dgm_eval/metrics/prdc.py l. 101-105) keeps ``r < median`` instead: the
  two differ only on a radius equal to the median (odd n, or ties). The pruning suits the paper's
  use, ranking samples by quality; as a pass/fail gate it rejects half of the held-out real
  images (docs/inspect.md), so msgan-eval's default (:data:`msgan_eval.defaults.
  REALISM_PRUNE_PERCENTILE`) is None, every ball: then ``R >= 1`` is exactly k-NN precision's
  membership test (up to ``<=`` against ``<``).
- **Distances, not squared distances.** The official code divides *squared* distances
  (``batch_pairwise_distances`` returns them, precision_recall.py l. 27; realism at l. 139, with
  ``eps = 1e-5`` added to the denominator); the paper's eq. 3 and dgm-eval divide distances. We
  report the paper's (the official number is our square, up to its eps and float32 rounding); the
  rule ``R >= 1`` is the same for both.
- **k.** The paper and the official code use 3 (``nhood_sizes=[3]``); msgan-eval's default
  :data:`msgan_eval.defaults.REALISM_K` is precision/recall's k (5), so that the gate and
  ``msgan-eval prdc``'s precision agree.

The distances come from :mod:`msgan_eval.metrics.prdc`'s blocked machinery: float32 screening
(one GEMM per tile, features shifted to the reference's mean) with each value's worst-case
rounding bound, and the pairs that could still change a row's answer recomputed in float64 as
differences; so every maximum and minimum is the float64 one, at any n, without an n x n matrix.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from msgan_eval import defaults

from .prdc import _as_tensor, _exact_d2, _full_float32, _mean64, _Points, _radii2, _screen_d2

_TINY = float(np.finfo(np.float64).tiny)


def kept_balls(radii: np.ndarray, prune_percentile: Optional[float]) -> np.ndarray:
    """Which reference balls the realism max runs over: radius <= the ``prune_percentile``-th
    percentile of the radii (numpy's linear interpolation, as the official code); all for None."""
    radii = np.asarray(radii, dtype=np.float64)
    if prune_percentile is None:
        return np.ones(len(radii), dtype=bool)
    if not 0 < prune_percentile <= 100:
        raise ValueError(f"prune_percentile must lie in (0, 100], got {prune_percentile}")
    return radii <= np.percentile(radii, prune_percentile)


def _tiles(a: _Points, b: _Points, block_entries: int,
           visit: Callable[[slice, slice, torch.Tensor, torch.Tensor], None]) -> None:
    """Call ``visit(rows, cols, screened_d2, row_tol)`` for every tile of a x b; ``row_tol`` is
    each row's float64 bound on the screen's rounding (the pair bound at its largest column)."""
    tol = a.gamma * (a.sq64 + b.sq64.max())
    width = min(len(b), max(1, int(block_entries ** 0.5)))
    step = max(1, block_entries // width)
    for r0 in range(0, len(a), step):
        rows = slice(r0, min(r0 + step, len(a)))
        rows32 = a.centred32(rows)
        for c0 in range(0, len(b), width):
            cols = slice(c0, min(c0 + width, len(b)))
            visit(rows, cols, _screen_d2(a, rows, rows32, b, cols, b.centred32(cols)).double(),
                  tol[rows, None])


def _exact_at(a: _Points, rows: slice, b: _Points, cols: slice, mask: torch.Tensor):
    """(local row, local col, exact float64 d2) of the pairs where ``mask`` holds."""
    i, j = mask.nonzero(as_tuple=True)
    return i, j, _exact_d2(a, i + rows.start, b, j + cols.start)


def _max_ratio2(gen: _Points, ref: _Points, radii2: torch.Tensor, block_entries: int) -> torch.Tensor:
    """max_j radii2[j] / d2(gen_i, ref_j) for every i, exact in float64 (inf at d2 = 0)."""
    best = torch.full((len(gen),), -1.0, dtype=torch.float64, device=gen.x.device)

    def visit(rows, cols, d2, tol):
        r2 = radii2[cols][None, :]
        # Lower bounds of each pair's ratio (the true d2 is at most d2 + tol), and the pairs whose
        # upper bound reaches the best of them; a pair that may lie at distance 0 is always
        # rechecked (0 / 0 is no number, and a zero distance is realism inf).
        surely = (r2 / (d2 + tol).clamp(min=_TINY)).max(dim=1).values
        floor = torch.maximum(best[rows], surely)[:, None]
        low = d2 - tol
        could = (low <= 0) | (r2 / low.clamp(min=_TINY) >= floor)
        i, j, exact = _exact_at(gen, rows, ref, cols, could)
        ratio = radii2[j + cols.start] / exact              # inf where exact == 0
        ratio = torch.where(exact == 0, torch.full_like(ratio, float("inf")), ratio)
        best[rows] = best[rows].scatter_reduce(0, i, ratio, reduce="amax")

    _tiles(gen, ref, block_entries, visit)
    return best


def realism_scores(reference, generated, *, k: int = defaults.REALISM_K,
                   prune_percentile: Optional[float] = defaults.REALISM_PRUNE_PERCENTILE,
                   block_entries: int = defaults.PRDC_BLOCK_ENTRIES,
                   device: Optional[str] = None) -> np.ndarray:
    """Realism score of each generated feature row against the reference rows (module doc).

    Args:
        reference: (n, d) reference (real) features; n >= k + 1.
        generated: (m, d) features to score.
        k: nearest neighbours of the reference radii.
        prune_percentile: the max runs over reference balls whose radius is at most this
            percentile of the radii (50: the paper's and official code's); None keeps all.

    Returns:
        (m,) float64; >= 1 inside some kept reference ball, inf on a kept reference sample.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> ref = rng.normal(size=(200, 8))
        >>> s = realism_scores(ref, np.vstack([ref[:1] + 0.01, 50 + ref[:1]]), k=3)
        >>> bool(s[0] >= 1), bool(s[1] < 1)
        (True, True)
    """
    x, y = _as_tensor(reference, device), _as_tensor(generated, device)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"reference and generated features differ in width: {x.shape[1]} and "
                         f"{y.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    with _full_float32(x.device):
        centre = _mean64(x)
        radii2 = _radii2(_Points(x, centre), k, block_entries)
        keep = torch.from_numpy(kept_balls(radii2.sqrt().cpu().numpy(), prune_percentile))
        keep = keep.to(x.device)
        ref = _Points(x[keep], centre)
        best = _max_ratio2(_Points(y, centre), ref, radii2[keep], block_entries)
    return best.sqrt().cpu().numpy()


def nearest_distances(a, b, *, block_entries: int = defaults.PRDC_BLOCK_ENTRIES,
                      device: Optional[str] = None) -> np.ndarray:
    """Distance of each row of ``a`` to its nearest row of ``b`` (float64, exact to rounding).

    Example:
        >>> nearest_distances(np.zeros((1, 2)), np.array([[3.0, 4.0], [6.0, 8.0]]))
        array([5.])
    """
    x, y = _as_tensor(a, device), _as_tensor(b, device)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sets differ in width: {x.shape[1]} and {y.shape[1]}")
    if len(y) == 0:
        raise ValueError("the set to search holds no rows")
    with _full_float32(x.device):
        centre = _mean64(y)
        p, q = _Points(x, centre), _Points(y, centre)
        best = torch.full((len(p),), float("inf"), dtype=torch.float64, device=x.device)

        def visit(rows, cols, d2, tol):
            ceiling = torch.minimum(best[rows], (d2 + tol).min(dim=1).values)[:, None]
            i, j, exact = _exact_at(p, rows, q, cols, d2 - tol <= ceiling)
            best[rows] = best[rows].scatter_reduce(0, i, exact, reduce="amin")

        _tiles(p, q, block_entries, visit)
    return best.clamp(min=0.0).sqrt().cpu().numpy()
