"""The NDB K-means in float32: the same seeded steps as ``ndb_kmeans``, in a third of the time.

``fit_bins(kmeans="fast")`` clusters here. Same column reduction (``distinct_columns``), the same
k-means++ draws from the same generator (a float32 transcription of scikit-learn's
``_kmeans_plusplus``), the same Lloyd steps, empty-cluster relocation and stopping rule
(``_kmeans_single_lloyd``: unchanged labels, or summed squared centre shift <= tol, then a final
E-step), with these changes for speed:

- distances are float32 matrix products (k-means++ reads all the data once per seed: half the
  memory traffic of float64); sums, centres and shifts stay float64, so the stopping rule and
  iteration count are scikit-learn's;
- Elkan bounds kept in float32 (k, n) skip the rows whose label cannot change, with a relative
  slack of 1e-4, far above float32 rounding of a distance;
- rows whose two nearest centres are within a worst-case float32 rounding bound of each other are
  decided in float64, as ``ndb_kmeans._nearest`` does;
- BLAS runs on one thread (see :func:`fast_kmeans_labels`).

Labels are therefore scikit-learn's except where float32 rounding of a bound or of the seeding's
cumulative potential decides differently; tests/test_ndb.py holds NDB within 2 of the reference
(measured figures: docs/performance.md, Results, from benchmarks/bench_ndb.py).
"""
from __future__ import annotations

import numpy as np

from .ndb_kmeans import SKLEARN_TOL, LloydSteps, cluster_sums, distinct_columns, lloyd

_SLACK = 1e-4          # relative slack on float32 bounds, far above float32 rounding of a distance


def _kmeans_plusplus32(x32: np.ndarray, x_sq: np.ndarray, k: int,
                       rng: np.random.RandomState) -> np.ndarray:
    """Row indices of sklearn's ``_kmeans_plusplus`` seeds (unit weights): the same draws from
    ``rng`` in the same order, with float32 distance products (half the memory traffic of
    float64; each seed reads all the data), so the same seeds unless float32 rounding moves a
    draw across a boundary of the cumulative potential."""
    n = len(x32)
    trials = 2 + int(np.log(k))
    first = rng.choice(n, p=np.ones(n) / n)
    chosen = [first]
    closest = _sq_dist32(x32, x_sq, np.array([first]))[0]
    pot = closest.sum()
    for _ in range(1, k):
        ids = np.searchsorted(np.cumsum(closest), rng.uniform(size=trials) * pot)
        np.clip(ids, None, n - 1, out=ids)
        dist = np.minimum(closest, _sq_dist32(x32, x_sq, ids))
        pots = dist.sum(axis=1)
        best = int(np.argmin(pots))
        pot, closest = pots[best], dist[best]
        chosen.append(int(ids[best]))
    return np.asarray(chosen)


def _sq_dist32(x32: np.ndarray, x_sq: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Squared distances (float64 from a float32 product) of rows ``ids`` to every row, >= 0."""
    dots = (x32[ids] @ x32.T).astype(np.float64)
    return np.maximum(x_sq[ids][:, None] - 2.0 * dots + x_sq[None, :], 0.0)


def _nearest32(x: np.ndarray, x32: np.ndarray, x_sq32: np.ndarray, centers: np.ndarray,
               rows: np.ndarray, chunk: int = 2048):
    """Nearest centre of ``rows`` (first on a tie), with the distance to it (upper bound) and,
    transposed (k, rows), to every other centre (lower bounds; +inf for the own centre).

    Distances are float32 products; the few rows whose two nearest centres are within float32
    rounding of each other are decided in float64 (``_nearest``'s bound), as scikit-learn does:
    without that, one flipped near-tie in an early iteration can steer Lloyd to other bins.
    Rows go in chunks so the temporaries stay small and are reused.
    """
    c32 = centers.astype(np.float32)
    c_sq = np.einsum("ij,ij->i", centers, centers)
    c_sq32 = c_sq.astype(np.float32)[:, None]
    minus_2c = -2.0 * c32                             # times -2 is exact in float32
    labels = np.empty(len(rows), dtype=np.int64)
    upper = np.empty(len(rows))
    lower = np.empty((len(c32), len(rows)), dtype=np.float32)
    for s in range(0, len(rows), chunk):
        part = rows[s:s + chunk]
        here = np.arange(len(part))
        dist = minus_2c @ x32[part].T
        dist += c_sq32
        lab = np.argmin(dist, axis=0)
        best = dist[lab, here].astype(np.float64)
        dist[lab, here] = np.inf
        gap = dist.min(axis=0) - best
        dist[lab, here] = best
        err = 2.0 * (x.shape[1] + 2) * 2.0 ** -24 * (
            2.0 * np.sqrt(x_sq32[part] * c_sq.max()) + c_sq.max())
        unsure = np.flatnonzero(gap <= 2.0 * err)
        if len(unsure):
            d64 = c_sq[:, None] - 2.0 * (centers @ x[part[unsure]].T)
            lab[unsure] = np.argmin(d64, axis=0)
        dist += x_sq32[part][None, :]
        np.sqrt(np.maximum(dist, 0.0, out=dist), out=dist)
        labels[s:s + chunk] = lab
        upper[s:s + chunk] = dist[lab, here]
        dist[lab, here] = np.inf
        lower[:, s:s + chunk] = dist
    return labels, upper, lower


def _update_labels32(x, x32, x_sq32, centers, labels, upper, lower) -> None:
    """Elkan's step in place: re-label only rows whose upper bound reaches a lower bound.

    ``lower`` is (k, n): the minimum over centres is then a reduction of contiguous rows."""
    closest_other = np.minimum.reduce(lower, axis=0)
    # Elkan would first tighten the upper bound (one distance per row): measured on the benchmark,
    # that pass halved the rows re-labelled but cost more than it saved, since re-labelling a row
    # against all centres is one column of a matrix product.
    rows = np.flatnonzero(upper * (1.0 + _SLACK) >= closest_other)
    if len(rows):
        labels[rows], upper[rows], lower[:, rows] = _nearest32(x, x32, x_sq32, centers, rows)


def _moved_sums(rows: np.ndarray, to: np.ndarray, came_from: np.ndarray, k: int) -> np.ndarray:
    """Change of the per-cluster sums when ``rows`` move from ``came_from`` to ``to``."""
    from scipy import sparse

    m = len(rows)
    signs = np.concatenate([np.ones(m), -np.ones(m)])
    moves = sparse.csr_matrix((signs, (np.concatenate([to, came_from]), np.tile(np.arange(m), 2))),
                              shape=(k, m))
    return np.asarray(moves @ rows)


class _Float32Steps(LloydSteps):
    """float32 distances and Elkan bounds (kept in float32); sums and shifts stay float64 so the
    stopping rule (unchanged labels, or summed squared shift <= tol) is scikit-learn's."""

    def __init__(self, x: np.ndarray, x32: np.ndarray):
        self.x, self.x32 = x, x32
        self.x_sq32 = np.einsum("ij,ij->i", x32, x32)

    def nearest_all(self, centers):
        return _nearest32(self.x, self.x32, self.x_sq32, centers, np.arange(len(self.x)))

    def relabel(self, centers, labels, upper, lower):
        _update_labels32(self.x, self.x32, self.x_sq32, centers, labels, upper, lower)

    def add_moved(self, member_sums, rows, to, came_from):
        return member_sums + _moved_sums(rows, to, came_from, len(member_sums))

    def widen(self, shift, labels, upper, lower):
        upper += shift[labels]
        lower -= shift.astype(np.float32)[:, None]


def fast_kmeans_labels(x: np.ndarray, k: int, rng: np.random.RandomState, n_init: int = 1,
                       max_iter: int = 100) -> np.ndarray:
    """K-means labels like ``kmeans_labels`` (same seeded draws, same steps and stopping rule) with
    float32 distances: close to ``KMeans``'s labels, not guaranteed equal. With ``n_init`` > 1 the
    run of lowest float64 inertia is kept, as ``KMeans`` keeps it.

    BLAS runs on one thread here: the products are skinny (k-means++ multiplies 2 + ln k rows by
    all the data; Lloyd re-labels chunks of rows), and OpenBLAS's spinning second thread makes
    them slower (benchmarks/bench_ndb.py).
    """
    from threadpoolctl import threadpool_limits

    reduced = distinct_columns(x)
    if reduced.shape[1] == 0:
        return np.zeros(len(x), dtype=np.int64)
    # Centred in place, and the variance summed without an (N, m) temporary: fresh pages for
    # large temporaries cost as much as the arithmetic here. scikit-learn's tol is tol times the
    # mean column variance of x; the reduction keeps the summed variance, not the column count.
    centred = reduced
    centred -= centred.mean(axis=0)
    abs_tol = float(np.einsum("ij,ij->", centred, centred) / len(x) / x.shape[1] * SKLEARN_TOL)
    x32 = centred.astype(np.float32)
    x_sq = np.einsum("ij,ij->i", centred, centred)
    best, best_inertia = None, np.inf
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(n_init):
            labels = lloyd(centred, centred[_kmeans_plusplus32(x32, x_sq, k, rng)], max_iter,
                           abs_tol, _Float32Steps(centred, x32))
            inertia = _inertia(centred, labels, k) if n_init > 1 else 0.0
            if best is None or inertia < best_inertia:
                best, best_inertia = labels, inertia
    return best


def _inertia(x: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Summed squared distance of each row to its cluster mean (float64)."""
    counts = np.bincount(labels, minlength=k)[:, None]
    means = cluster_sums(x, labels, k) / np.maximum(counts, 1)
    return float(((x - means[labels]) ** 2).sum())
