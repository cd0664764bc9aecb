"""NDB and JSD: K-means bins on training samples, then a per-bin two-proportion z-test.

Reference: eitanrich/gans-n-gmms ``utils/ndb.py`` (Richardson & Weiss, "On GANs and GMMs",
NeurIPS 2018), the code MSGAN used. Semantics matched exactly:

- whitening (optional): ``(x - mean_train) / (std_train + 1e-6)``, the eps added to the std;
- if d > 1000 and no ``max_dims`` is given, K-means and assignment use ``d // 6`` dimensions
  drawn with ``choice(d, d_used, replace=False)``; with ``max_dims`` they use ``min(d, max_dims)``;
  the draw happens even when all dimensions are used (it only permutes them), as in the reference;
- scikit-learn ``KMeans(n_clusters=k, max_iter=100)`` on the used dimensions; bin centres are the
  means of each cluster's members over *all* dimensions; bins are sorted by size, largest first;
- a sample goes to the nearest centre (L2 on the used dimensions, first centre on a tie);
- per bin, a two-proportion z-test with the pooled proportion, two-tailed p-value; a bin is
  different when ``p < alpha`` or, if ``z_threshold`` is given, when ``|z| > z_threshold``;
- NDB = number of different bins, NDB/K, and the Jensen-Shannon divergence of the training vs
  sample bin proportions in nats (at most ln 2).

Where we deviate from the reference, and why:

1. Seeded: the reference calls ``np.random.choice`` and ``KMeans`` on numpy's global generator,
   unseeded. We draw from ``np.random.RandomState(seed)`` in the same order (dimensions first,
   then K-means), so ``fit_bins(seed=s)`` equals the reference after ``np.random.seed(s)``.
2. ``KMeans(n_jobs=-1)`` fails on scikit-learn >= 1.0; ``n_jobs`` is dropped and ``n_init`` made
   explicit (default 1 = scikit-learn's ``'auto'`` for k-means++ today).
3. Inputs are float64 (the reference allocates its distance matrix with the input dtype, so uint8
   images gave truncated distances).
4. Bins are sorted with a stable sort (ties keep the K-means label order); the reference's
   ``np.argsort(-counts)`` orders tied bins in a platform-dependent way. NDB and JSD do not change.
5. Centres are computed as ``(cluster mean of x - mean) / std`` instead of the cluster mean of the
   whitened copy, and distances as ``|x|^2 - 2 x.c + |c|^2`` in batches; rows whose two nearest
   centres are within rounding of each other are recomputed the reference's way
   (``np.linalg.norm(x - c)``), so assignments equal the reference's.
6. A bin empty on both sides (pooled proportion 0) gets z = 0, p = 1 instead of NaN (the reference
   also counts it as not different). Fewer training samples, or fewer distinct ones, than bins is
   an error instead of a shape mismatch.
7. Bins remember a fingerprint of the training data and their parameters (see ``evaluate.ndb``); the
   reference cached bins under a file name keyed only by K.
8. K-means runs through ``ndb_kmeans.kmeans_labels``: scikit-learn's k-means++ and a transcribed
   Lloyd loop on fewer (exactly equivalent) columns, with float32 screening and Elkan bounds. Its
   labels equal ``KMeans``'s on real data (tests); only exact distance ties (e.g. tiny integer
   grids) can be broken the other way, since the float64 sums are rounded in another order.
   That is ``kmeans="exact"``. The default ``kmeans="fast"`` (``ndb_kmeans_fast``) runs the same
   seeded steps with float32 distances, bounds and seeding; near-ties can make its bins differ
   (NDB within 2 in the tests). Measured speed and agreement: docs/performance.md, Results
   (``benchmarks/bench_ndb.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Literal, Optional, Tuple, Union

import numpy as np
from scipy.special import ndtr

from msgan_eval import defaults
from msgan_eval.validate import probability, real, whole
from msgan_eval.validate import seed as check_seed

from .ndb_kmeans import cluster_sums, kmeans_labels
from .ndb_kmeans_fast import fast_kmeans_labels

MaxDims = Union[int, Literal["all"], None]
KMeansPath = Literal["fast", "exact"]
KMEANS_PATHS = ("fast", "exact")
# Default K-means path: "fast" (its agreement with the reference is in docs/performance.md, Results).
NDB_KMEANS: KMeansPath = defaults.NDB_KMEANS


@dataclass(frozen=True)
class Bins:
    """K-means bins of a training set (centres in whitened space if ``whiten``)."""

    centers: np.ndarray        # (k, d) float64, largest bin first
    counts: np.ndarray         # (k,) training samples per bin
    used_dims: np.ndarray      # dimensions used for K-means and assignment, in draw order
    mean: np.ndarray           # (d,) training mean, zeros without whitening
    std: np.ndarray            # (d,) training std + 1e-6, ones without whitening
    whiten: bool
    seed: int
    max_dims: MaxDims          # as requested: None (reference rule), an int, or "all"
    n_init: int
    max_iter: int

    @property
    def k(self) -> int:
        return int(self.centers.shape[0])

    @property
    def d(self) -> int:
        return int(self.centers.shape[1])

    @property
    def n_train(self) -> int:
        return int(self.counts.sum())

    @property
    def proportions(self) -> np.ndarray:
        return self.counts / self.n_train


@dataclass(frozen=True)
class BinStat:
    train_proportion: float
    generated_proportion: float
    z: float
    p: float
    different: bool


@dataclass(frozen=True)
class NdbResult:
    ndb: int
    ndb_ratio: float
    jsd: float
    k: int
    n_train: int
    n_samples: int
    alpha: float
    z_threshold: Optional[float]
    per_bin: List[BinStat]

    def to_dict(self) -> dict:
        return {"ndb": self.ndb, "ndb_ratio": self.ndb_ratio, "jsd": self.jsd, "bins": self.k,
                "n_train": self.n_train, "n_samples": self.n_samples, "alpha": self.alpha,
                "z_threshold": self.z_threshold,
                "per_bin": [vars(b).copy() for b in self.per_bin]}


def two_proportion_z_test(p1: np.ndarray, n1: int, p2: np.ndarray, n2: int):
    """(z, two-tailed p-values) per bin, pooled proportion as in the reference."""
    p1 = np.asarray(p1, dtype=np.float64)
    p2 = np.asarray(p2, dtype=np.float64)
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    # se == 0 only when both proportions are 0 (or both 1): no difference, not NaN.
    safe = se > 0
    z = np.zeros_like(p)
    z[safe] = (p1[safe] - p2[safe]) / se[safe]
    p_values = 2.0 * ndtr(-np.abs(z))      # reference: 2 * norm.cdf(-|z|)
    return z, p_values


def different_bins(z: np.ndarray, p_values: np.ndarray, alpha: float = defaults.NDB_ALPHA,
                   z_threshold: Optional[float] = None) -> np.ndarray:
    """The reference's rule: ``|z| > z_threshold`` if a threshold is given, else ``p < alpha``."""
    if z_threshold is not None:
        return np.abs(z) > z_threshold
    return p_values < alpha


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats, summed where p > 0 (needs q > 0 there)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if np.any((p != 0) & (q == 0)):
        raise ValueError("KL divergence is undefined where p > 0 and q == 0")
    pos = p > 0
    return float(np.sum(p[pos] * np.log(p[pos] / q[pos])))


def jensen_shannon_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """JSD of two distributions in nats (0 .. ln 2), as the reference computes it."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    m = (p + q) * 0.5
    return 0.5 * (kl_divergence(p, m) + kl_divergence(q, m))


def _used_dim_count(d: int, max_dims: MaxDims) -> int:
    if max_dims == "all":
        return d
    if max_dims is None:
        # Reference speed rule: above 1000 dimensions, cluster on d // 6 of them.
        return d // 6 if d > defaults.NDB_SUBSAMPLE_ABOVE_DIMS else d
    return min(d, check_max_dims(max_dims))


def check_max_dims(max_dims) -> MaxDims:
    """None, ``"all"`` or a whole number >= 1 (2.5 and NaN are refused, not truncated)."""
    if max_dims is None or max_dims == "all":
        return max_dims
    return whole(max_dims, "max_dims", min=1, hint="or 'all'")


def check_levels(alpha, z_threshold) -> Tuple[float, Optional[float]]:
    """alpha strictly between 0 and 1 and z_threshold None or >= 0, both finite (a NaN level
    marked no bin different and printed NaN in ``to_dict``)."""
    alpha = probability(alpha, "alpha")
    if z_threshold is not None:
        z_threshold = real(z_threshold, "z_threshold", min=0)
    return alpha, z_threshold


def _check_samples(x: np.ndarray, what: str, d: Optional[int] = None) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (samples x dimensions), got shape {x.shape}")
    if d is not None and x.shape[1] != d:
        raise ValueError(f"{what} have {x.shape[1]} dimensions but the bins have {d}")
    x = x.astype(np.float64, copy=False)
    # A sum is finite unless some value is NaN or infinite (or the sum overflows, which the full
    # check then clears); it needs no (N, d) temporary, which costs as much as the test itself.
    if not np.isfinite(x.sum()) and not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contain NaN or infinite values")
    return x


def _whitened(x: np.ndarray, mean: np.ndarray, std: np.ndarray, whiten: bool) -> np.ndarray:
    """The reference's ``(x - mean) / std`` elementwise; without whitening (mean 0, std 1) that is
    ``x`` itself, bit for bit, so the two passes are skipped."""
    return (x - mean) / std if whiten else x


def fit_bins(train: np.ndarray, k: int = defaults.NDB_BINS, seed: int = defaults.SEED,
             whiten: bool = False, max_dims: MaxDims = None, n_init: int = defaults.NDB_N_INIT,
             max_iter: int = defaults.NDB_MAX_ITER, kmeans: KMeansPath = NDB_KMEANS) -> Bins:
    """K-means bins of ``train`` (N, d), float in [0, 1], as the reference builds them.

    ``kmeans="exact"`` gives the reference's bins exactly (scikit-learn's labels); ``"fast"`` runs
    the same seeded k-means++ and Lloyd steps with float32 distances, so a label can differ where
    two centres are within float32 rounding of a sample (see ``ndb_kmeans``).
    """
    if kmeans not in KMEANS_PATHS:
        raise ValueError(f"kmeans must be one of {', '.join(KMEANS_PATHS)}, got {kmeans!r}")
    k, seed, max_dims = whole(k, "k", min=1), check_seed(seed), check_max_dims(max_dims)
    train = _check_samples(train, "training samples")
    n, d = train.shape
    if n < k:
        raise ValueError(f"{n} training samples for {k} bins; use at least as many samples as bins")
    if whiten:
        mean = train.mean(axis=0)
        std = train.std(axis=0) + defaults.NDB_WHITEN_EPS
    else:
        mean, std = np.zeros(d), np.ones(d)
    rng = np.random.RandomState(seed)
    used = rng.choice(d, _used_dim_count(d, max_dims), replace=False)
    cluster = fast_kmeans_labels if kmeans == "fast" else kmeans_labels
    labels = cluster(_whitened(train[:, used], mean[used], std[used], whiten), k, rng, n_init,
                     max_iter)
    counts = np.bincount(labels, minlength=k)
    if np.any(counts == 0):
        raise ValueError(f"K-means found only {np.count_nonzero(counts)} non-empty bins of {k}: "
                         "the training samples have fewer distinct values than bins; use fewer bins")
    centers = (cluster_sums(train, labels, k) / counts[:, None] - mean) / std
    order = np.argsort(-counts, kind="stable")
    return Bins(centers=centers[order], counts=counts[order], used_dims=used, mean=mean, std=std,
                whiten=whiten, seed=seed, max_dims=max_dims, n_init=n_init, max_iter=max_iter)


def assign_bins(bins: Bins, samples: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Index of the nearest bin centre for each sample (L2 on the used dimensions)."""
    samples = _check_samples(samples, "samples", bins.d)
    used = bins.used_dims
    c = bins.centers[:, used]
    c_sq = np.einsum("ij,ij->i", c, c)
    labels = np.empty(len(samples), dtype=np.int64)
    for start in range(0, len(samples), chunk):
        x = _whitened(samples[start:start + chunk, used], bins.mean[used], bins.std[used],
                      bins.whiten)
        x_sq = np.einsum("ij,ij->i", x, x)
        dist = x_sq[:, None] - 2.0 * (x @ c.T) + c_sq[None, :]
        best = np.argmin(dist, axis=1)
        labels[start:start + chunk] = best
        if bins.k < 2:
            continue
        # The expanded form rounds differently from the reference's norm(x - c); where the two
        # nearest centres are that close, recompute those rows the reference's way.
        two = np.partition(dist, 1, axis=1)[:, :2]
        tol = 1e-9 * (x_sq + c_sq.max()) + 1e-12
        close = np.flatnonzero(two[:, 1] - two[:, 0] <= tol)
        for row in close:
            exact = np.linalg.norm(x[row][None, :] - c, ord=2, axis=1)
            labels[start + row] = int(np.argmin(exact))
    return labels


def bin_counts(labels: np.ndarray, k: int) -> np.ndarray:
    """Samples per bin from ``assign_bins`` labels (for bootstrap resampling)."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=k)


def ndb_from_counts(bins: Bins, counts: np.ndarray, alpha: float = defaults.NDB_ALPHA,
                    z_threshold: Optional[float] = None) -> NdbResult:
    """NDB, NDB/K and JSD from per-bin sample counts (no re-clustering, no re-assignment)."""
    alpha, z_threshold = check_levels(alpha, z_threshold)
    counts = np.asarray(counts)
    if counts.shape != (bins.k,):
        raise ValueError(f"counts must have one entry per bin ({bins.k}), got shape {counts.shape}")
    if np.any(counts < 0):
        raise ValueError("counts must be non-negative")
    n = int(counts.sum())
    if n == 0:
        raise ValueError("no samples to evaluate")
    train_p = bins.proportions
    sample_p = counts / n
    z, p_values = two_proportion_z_test(train_p, bins.n_train, sample_p, n)
    diff = different_bins(z, p_values, alpha, z_threshold)
    ndb = int(np.count_nonzero(diff))
    per_bin = [BinStat(float(a), float(b), float(zz), float(pp), bool(dd))
               for a, b, zz, pp, dd in zip(train_p, sample_p, z, p_values, diff)]
    return NdbResult(ndb=ndb, ndb_ratio=ndb / bins.k,
                     jsd=jensen_shannon_divergence(train_p, sample_p), k=bins.k,
                     n_train=bins.n_train, n_samples=n, alpha=alpha, z_threshold=z_threshold,
                     per_bin=per_bin)


def evaluate_bins(bins: Bins, samples: np.ndarray, alpha: float = defaults.NDB_ALPHA,
                  z_threshold: Optional[float] = None) -> NdbResult:
    """Assign ``samples`` (M, d) to the bins and test each bin's proportion against training."""
    if len(samples) == 0:
        raise ValueError("no samples to evaluate")
    return ndb_from_counts(bins, bin_counts(assign_bins(bins, samples), bins.k), alpha, z_threshold)
