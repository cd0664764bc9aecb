"""scikit-learn's K-means (k-means++ init, Lloyd), giving the same labels in less time.

The NDB reference clusters with ``sklearn.cluster.KMeans(n_clusters=k, max_iter=100)``. Its labels
are what NDB needs; this module reproduces them faster in three steps that keep them:

1. Fewer columns, same distances (:func:`distinct_columns`): constant columns are dropped and
   repeated columns kept once, scaled by sqrt(count). Grey images read as RGB repeat every pixel in
   three channels and padding is constant, so 32x32x3 Fashion-MNIST goes from 512 to ~340 columns.
2. scikit-learn's own k-means++ (``sklearn.cluster.kmeans_plusplus``, same generator, same centred
   data), then a transcription of ``_kmeans_single_lloyd`` (label by nearest centre, first on a
   tie; empty clusters relocated to the farthest points; centres multiplied by 1 / weight; stop on
   unchanged labels or when the summed squared centre shift <= tol; a final E-step) whose distances
   are screened in float32 and recomputed in float64 wherever the float32 gap between the two
   nearest centres is within a worst-case rounding bound, so each label is the float64 one.
3. Elkan bounds (an upper bound to the own centre, a lower bound to every centre, moved by each
   centre's shift) skip the rows whose label cannot change; a row is skipped only when the bounds
   separate it by far more than float64 rounding. Late iterations re-label a few hundred rows.

Only ``n_init == 1`` (scikit-learn's ``'auto'`` for k-means++) takes this path; more inits go to
``KMeans`` itself. tests/test_ndb.py checks the labels against ``KMeans`` and the reference. Where
two centres are exactly equidistant from a point (degenerate data such as small integer grids),
scikit-learn's rounding decides the tie and ours may decide it the other way (seen in 3 of 200
random 40-point grids, one label each); on image data the labels are identical when KMeans
converges. When it stops at ``max_iter`` still moving (60k Fashion-MNIST, K = 100, seed 3 of
benchmarks/bench_ndb.py), points oscillating between near-tied centres are decided by the
rounding of the centre sums, which scikit-learn adds in per-thread chunks: 1.2% of the labels
differed there (NDB equal, JSD 1.431e-3 vs the reference's 1.491e-3).

``ndb_kmeans_fast`` runs the same steps with float32 distances (``fit_bins(kmeans="fast")``).
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np

SKLEARN_TOL = 1e-4     # KMeans(tol=1e-4) default, relative to the mean per-column variance


def distinct_columns(x: np.ndarray) -> np.ndarray:
    """Columns of ``x`` giving the same squared distances between rows and row means, but fewer.

    A column constant over all rows adds nothing to any distance between training samples or
    K-means centres (centres are means of rows), so it is dropped; a column repeated m times is
    kept once, scaled by sqrt(m).
    """
    cols = np.ascontiguousarray(x.T)           # columns compared whole: contiguous, not strided
    constant = np.ptp(cols, axis=1) == 0
    # Candidates share their values on a fixed random subset of rows (exact bytes, so equal columns
    # always meet); full equality is then checked, so a shared key never merges different columns.
    probe_rows = np.sort(np.random.RandomState(0).choice(len(x), min(len(x), 256), replace=False))
    keys = np.ascontiguousarray(cols[:, probe_rows])
    groups: Dict[bytes, List[int]] = {}       # key -> positions in ``keep`` with it
    keep: List[int] = []
    weight: List[int] = []
    for j in np.flatnonzero(~constant):
        key = keys[j].tobytes()
        for pos in groups.get(key, []):
            if np.array_equal(cols[keep[pos]], cols[j]):
                weight[pos] += 1
                break
        else:
            groups.setdefault(key, []).append(len(keep))
            keep.append(int(j))
            weight.append(1)
    reduced = x[:, keep]
    reduced *= np.sqrt(np.asarray(weight, dtype=np.float64))   # in place: one (N, m) allocation
    return reduced


def _nearest(x: np.ndarray, x32: np.ndarray, x_sq: np.ndarray, centers: np.ndarray,
             c_sq: np.ndarray, rows: np.ndarray):
    """Labels of ``rows`` as scikit-learn's Lloyd step gives them (argmin of |c|^2 - 2 x.c in
    float64, first index on a tie), with distance bounds: upper >= |x - c_label| and
    lower[:, j] <= |x - c_j| for the other centres (+inf for the label's own).
    """
    x_sq = x_sq[rows]
    d32 = x32[rows] @ (-2.0 * centers.astype(np.float32)).T      # times -2 is exact in float32
    d32 += c_sq.astype(np.float32)[None, :]
    labels = np.argmin(d32, axis=1)
    here = np.arange(len(rows))
    best = d32[here, labels].astype(np.float64)
    d32[here, labels] = np.inf
    second = d32.min(axis=1).astype(np.float64)
    # Worst-case float32 error of a length-m dot product (inputs rounded too) is about
    # (m + 2) * 2**-24 * |x| |c|, doubled for the "-2 x.c" term, plus rounding |c|^2.
    err = 2.0 * (x.shape[1] + 2) * 2.0 ** -24 * (2.0 * np.sqrt(x_sq * c_sq.max()) + c_sq.max())
    upper = np.sqrt(np.maximum(x_sq + best + err, 0.0))
    d32[here, labels] = best
    lower = np.sqrt(np.maximum(d32 + (x_sq - err)[:, None], 0.0))
    unsure = np.flatnonzero(second - best <= 2.0 * err)
    if len(unsure):
        d64 = c_sq[None, :] - 2.0 * (x[rows[unsure]] @ centers.T)
        labels[unsure] = np.argmin(d64, axis=1)
    lower[here, labels] = np.inf
    return labels, upper, lower


def _update_labels(x, x32, x_sq, centers, c_sq, labels, upper, lower) -> None:
    """Re-label (in place) only the rows whose bounds cannot rule out another centre (Elkan).

    A row is kept when (min over other centres of lower)^2 - upper^2 exceeds
    1e-9 (|x|^2 + max |c|^2), far above float64 rounding, so its label is the strict float64
    argmin scikit-learn would compute.
    """
    margin = 1e-9 * (x_sq + c_sq.max())
    closest_other = lower.min(axis=1)          # the own label's entry is +inf
    rows = np.flatnonzero(closest_other ** 2 - upper ** 2 <= margin)
    if len(rows) == 0:
        return
    # Tighten the upper bounds with the distance to the own centre, in float32: the inputs are
    # rounded by at most u |x| and u |c| (u = 2**-24), the m squares and sums by (m + 4) u.
    u = 2.0 ** -24
    own = labels[rows]
    diff = x32[rows] - centers.astype(np.float32)[own]
    dist = np.sqrt(np.einsum("ij,ij->i", diff, diff)).astype(np.float64)
    upper[rows] = dist * (1.0 + 2.0 * (x.shape[1] + 4) * u) + \
        2.0 * u * (np.sqrt(x_sq[rows]) + np.sqrt(c_sq[own]))
    rows = rows[closest_other[rows] ** 2 - upper[rows] ** 2 <= margin[rows]]
    if len(rows):
        labels[rows], upper[rows], lower[rows] = _nearest(x, x32, x_sq, centers, c_sq, rows)


def _relocate_empty(x: np.ndarray, centers_old: np.ndarray, sums: np.ndarray, weight: np.ndarray,
                    labels: np.ndarray) -> None:
    """scikit-learn's ``_relocate_empty_clusters_dense``: farthest points seed empty clusters."""
    empty = np.flatnonzero(weight == 0)
    if len(empty) == 0:
        return
    distances = ((x - centers_old[labels]) ** 2).sum(axis=1)
    far = np.argpartition(distances, -len(empty))[:-len(empty) - 1:-1]
    for new_id, idx in zip(empty, far):
        old_id = labels[idx]
        sums[old_id] -= x[idx]
        sums[new_id] = x[idx]
        weight[new_id] = 1.0
        weight[old_id] -= 1.0


def cluster_sums(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per-cluster sums over all dimensions in one pass (a sparse one-hot product).

    Rows are added in index order, as ``np.mean(x[labels == i], axis=0)`` and scikit-learn's
    Lloyd step add them, so the sums are theirs bit for bit.
    """
    from scipy import sparse

    onehot = sparse.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))),
                               shape=(k, len(labels)))
    return np.asarray(onehot @ x)


def recentre(x: np.ndarray, centers: np.ndarray, member_sums: np.ndarray,
             labels: np.ndarray) -> tuple:
    """scikit-learn's M-step: centres = member means (empty clusters relocated), and each shift."""
    sums = member_sums.copy()
    weight = np.bincount(labels, minlength=len(centers)).astype(np.float64)
    _relocate_empty(x, centers, sums, weight, labels)
    new = sums * (1.0 / weight)[:, None]
    return new, np.sqrt(((new - centers) ** 2).sum(axis=1))


class LloydSteps:
    """What differs between the Lloyd loops (exact float64 / fast float32 distances): labelling
    with Elkan bounds, updating the member sums for the few rows that moved, and widening the
    bounds by each centre's shift. :func:`lloyd` is the loop they share."""

    def nearest_all(self, centers: np.ndarray) -> tuple:
        """(labels, upper, lower) of every row against ``centers``."""
        raise NotImplementedError

    def relabel(self, centers: np.ndarray, labels, upper, lower) -> None:
        """Re-label in place the rows whose bounds say they may have moved."""
        raise NotImplementedError

    def add_moved(self, member_sums: np.ndarray, rows: np.ndarray, to: np.ndarray,
                  came_from: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def widen(self, shift: np.ndarray, labels, upper, lower) -> None:
        raise NotImplementedError


class _ExactSteps(LloydSteps):
    def __init__(self, x: np.ndarray):
        self.x, self.x32 = x, x.astype(np.float32)
        self.x_sq = np.einsum("ij,ij->i", x, x)

    def nearest_all(self, centers):
        c_sq = np.einsum("ij,ij->i", centers, centers)
        return _nearest(self.x, self.x32, self.x_sq, centers, c_sq, np.arange(len(self.x)))

    def relabel(self, centers, labels, upper, lower):
        c_sq = np.einsum("ij,ij->i", centers, centers)
        _update_labels(self.x, self.x32, self.x_sq, centers, c_sq, labels, upper, lower)

    def add_moved(self, member_sums, rows, to, came_from):
        # Rounding differs from a fresh sum at the 1e-16 level only.
        np.add.at(member_sums, to, rows)
        np.subtract.at(member_sums, came_from, rows)
        return member_sums

    def widen(self, shift, labels, upper, lower):
        moved = shift * (1.0 + 1e-9)
        upper += moved[labels]
        lower -= moved[None, :]


def lloyd(x: np.ndarray, centers: np.ndarray, max_iter: int, tol: float,
          steps: LloydSteps) -> np.ndarray:
    """Labels of ``_kmeans_single_lloyd`` (unit sample weights) from ``centers``: label, recentre,
    stop on unchanged labels (strict convergence) or summed squared shift <= tol, then a final
    E-step, as scikit-learn does."""
    k = len(centers)
    labels, upper, lower = steps.nearest_all(centers)
    labels_old = np.full(len(x), -1)
    member_sums = np.zeros_like(centers)
    for it in range(max_iter):
        if it:
            labels = labels.copy()
            steps.relabel(centers, labels, upper, lower)
        changed = np.flatnonzero(labels != labels_old)
        if len(changed) > len(x) // 8:
            member_sums = cluster_sums(x, labels, k)
        else:
            # Late iterations move few points: update the sums instead of re-adding everything.
            member_sums = steps.add_moved(member_sums, x[changed], labels[changed],
                                          labels_old[changed])
        centers, shift = recentre(x, centers, member_sums, labels)
        steps.widen(shift, labels, upper, lower)
        if np.array_equal(labels, labels_old):
            return labels                      # strict convergence: labels match the centres
        if (shift ** 2).sum() <= tol:
            break
        labels_old = labels
    labels = labels.copy()
    steps.relabel(centers, labels, upper, lower)   # final E-step
    return labels


def kmeans_labels(x: np.ndarray, k: int, rng: np.random.RandomState, n_init: int = 1,
                  max_iter: int = 100) -> np.ndarray:
    """Labels of ``KMeans(n_clusters=k, max_iter, n_init, random_state=rng).fit(x)``."""
    import warnings

    from sklearn.cluster import KMeans, kmeans_plusplus
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_array
    from sklearn.utils.extmath import row_norms

    reduced = distinct_columns(x)
    if reduced.shape[1] == 0:
        return np.zeros(len(x), dtype=np.int64)  # all rows equal: one non-empty cluster
    # scikit-learn's tolerance is tol * mean column variance; keep it the same in absolute terms
    # (the reduction keeps the summed variance, not the column count).
    tol = SKLEARN_TOL * reduced.shape[1] / x.shape[1]
    if n_init != 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            km = KMeans(n_clusters=k, max_iter=max_iter, n_init=n_init, tol=tol, random_state=rng)
            return km.fit(reduced).labels_
    abs_tol = float(np.mean(np.var(reduced, axis=0)) * tol)
    # As KMeans.fit: copy, centre in place, then its own row norms (k-means++ samples with them;
    # einsum's rounding can depend on memory alignment, so the copy is made the way it makes it).
    centred = check_array(reduced, dtype=[np.float64, np.float32], order="C", copy=True)
    centred -= centred.mean(axis=0)
    x_sq = row_norms(centred, squared=True)
    centers, _ = kmeans_plusplus(centred, k, x_squared_norms=x_sq, random_state=rng)
    return lloyd(centred, centers, max_iter, abs_tol, _ExactSteps(centred))

