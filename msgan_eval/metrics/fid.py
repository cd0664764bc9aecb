"""Fréchet distance between Gaussians fitted to features: the maths of FID, on arrays only.

pytorch-fid (``fid_score.calculate_frechet_distance``) computes

    d^2 = ||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr(sqrtm(sigma1 @ sigma2))

with ``scipy.linalg.sqrtm`` on the non-symmetric product. Only the *trace* of that square root is
needed, and the eigenvalues of ``sigma1 @ sigma2`` equal those of the symmetric positive
semi-definite matrix ``F^T sigma2 F`` for any factor ``sigma1 = F F^T`` (Cholesky, or a pivoted
Cholesky truncated at the numerical rank when sigma1 is singular). A symmetric eigenvalue solve
then gives the same number, faster and without complex round-off (no ``eps`` retry on the
diagonal).

Statistics follow pytorch-fid's ``calculate_activation_statistics``: ``np.mean(act, axis=0)`` and
``np.cov(act, rowvar=False)`` (unbiased, n - 1), always in float64. :class:`RunningStats` gives the
same numbers from float64 running sums, so memory does not grow with the number of images and sums
from several processes can be added together.
"""
from __future__ import annotations

import warnings
from typing import Optional, Tuple

import numpy as np
from scipy.linalg import eigh
from scipy.linalg.blas import dtrmm
from scipy.linalg.lapack import dpstrf

from msgan_eval.errors import ParameterError


class RankDeficientCovarianceWarning(RuntimeWarning):
    """A covariance matrix is singular (typically fewer samples than feature dimensions)."""


class FidRoundingWarning(RuntimeWarning):
    """A result slightly below zero from floating-point rounding was clamped to zero."""


def _numerical_rank_floor(eigenvalues: np.ndarray) -> float:
    # LAPACK's usual numerical-rank tolerance: largest |eigenvalue| * dimension * machine epsilon.
    top = float(np.max(np.abs(eigenvalues))) if eigenvalues.size else 0.0
    return top * eigenvalues.size * np.finfo(np.float64).eps


def _pivoted_cholesky(sigma: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(L, perm)`` with ``sigma[perm][:, perm] = L @ L.T``, ``L`` lower-trapezoidal (d x rank).

    LAPACK's rank-revealing Cholesky with complete pivoting (``dpstrf``) stops when the remaining
    diagonal falls below its numerical-rank tolerance (dimension * epsilon * largest diagonal), so a
    covariance of n < d samples costs O(d^2 n), not O(d^3).
    """
    c, piv, rank, info = dpstrf(sigma, lower=1)
    if info < 0:
        raise ValueError(f"LAPACK dpstrf rejected argument {-info}")
    return np.tril(c[:, :rank]), piv - 1


def _eigenvalues_of_whitened(factor: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``factor^T sigma2 factor``, symmetric PSD when sigma1 = factor factor^T."""
    if factor.shape[0] == factor.shape[1]:
        # BLAS trmm: a triangular factor halves the flops of the two products.
        right = dtrmm(1.0, factor, sigma2, side=1, lower=1)                  # sigma2 @ L
        inner = dtrmm(1.0, factor, right, side=0, lower=1, trans_a=1)        # L^T @ (sigma2 @ L)
    else:
        inner = factor.T @ (sigma2 @ factor)
    # Exact symmetry for the symmetric solver; values only, MRRR (LAPACK syevr) is the fastest here.
    return eigh((inner + inner.T) / 2, eigvals_only=True, driver="evr", check_finite=False)


def _cholesky_or_none(sigma: np.ndarray):
    try:
        return np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:     # not positive definite: singular covariance
        return None


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> Tuple[float, bool]:
    """``Tr(sqrtm(sigma1 @ sigma2))`` for symmetric PSD matrices, and whether either is singular.

    For any factor ``sigma1 = F F^T``, ``F^T sigma2 F`` has the eigenvalues of ``sigma1 @ sigma2``
    and is symmetric PSD, so the trace is the sum of the square roots of its eigenvalues. A positive
    definite sigma1 gives its Cholesky factor (the cheapest). Otherwise the factor is a pivoted
    Cholesky ``sigma[p][:, p] = L L^T`` (``F = P L``) truncated at the numerical rank: directions
    where the covariance is zero add exactly zero to the trace, so dropping them is exact, and with
    n < d samples the eigenvalue problem shrinks to (n - 1) x (n - 1). The trace is symmetric in the
    two matrices, so then the one of lower rank is factored.
    """
    factor = _cholesky_or_none(sigma1)
    if factor is not None:
        w = _eigenvalues_of_whitened(factor, sigma2)
        singular_factor = False
    else:
        (l1, p1), (l2, p2) = _pivoted_cholesky(sigma1), _pivoted_cholesky(sigma2)
        if l2.shape[1] < l1.shape[1]:
            (l1, p1), sigma2 = (l2, p2), sigma1
        # F^T sigma2 F = L^T (P^T sigma2 P) L
        w = _eigenvalues_of_whitened(l1, sigma2[np.ix_(p1, p1)])
        singular_factor = True
    # rank(F^T other F) <= rank(other); eigenvalues at or below the numerical-rank floor
    # (including slightly negative ones) are round-off of exact zeros.
    zero = w <= _numerical_rank_floor(w)
    return float(np.sqrt(np.where(zero, 0.0, w)).sum()), singular_factor or bool(zero.any())


# Tolerances of a covariance matrix, relative to its size: asymmetry against its largest entry,
# negative eigenvalues (seen as a failed Cholesky of sigma + shift * I) against its trace. np.cov
# and float64 running sums are off by ~1e-16 relative; a crafted or corrupted sigma by far more.
SYMMETRY_RTOL = 1e-8
PSD_SHIFT = 1e-9


def covariance_problem(sigma: np.ndarray) -> Optional[str]:
    """Why ``sigma`` (finite, square) is not a covariance matrix within the tolerances above
    (symmetric, positive semi-definite), or None when it is one."""
    scale = float(np.abs(sigma).max()) if sigma.size else 0.0
    if float(np.abs(sigma - sigma.T).max(initial=0.0)) > SYMMETRY_RTOL * scale:
        return f"it is not symmetric (beyond a relative {SYMMETRY_RTOL:g})"
    if (np.diag(sigma) < 0).any():
        return "it has a negative variance on its diagonal"
    shift = PSD_SHIFT * max(float(np.trace(sigma)), np.finfo(np.float64).tiny)
    try:
        np.linalg.cholesky(sigma + shift * np.eye(len(sigma)))
    except np.linalg.LinAlgError:
        return ("it is not positive semi-definite (a covariance never has negative eigenvalues; "
                f"tolerance {PSD_SHIFT:g} of its trace)")
    return None


def _checked_statistics(mu1, sigma1, mu2, sigma2, covariances: bool = True):
    """The four arrays as float64, or a ParameterError naming the argument that is unusable
    (``covariances=False``: the sigmas' symmetry and positive semi-definiteness are not checked)."""
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ParameterError(f"{{mu1}} and {{mu2}} must be vectors of one length, got {mu1.shape} "
                             f"and {mu2.shape}", "mu1", "mu2")
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape != (mu1.size, mu1.size):
            raise ParameterError(f"{{{name}}} has shape {sigma.shape}; the means have length "
                                 f"{mu1.size}, so it must be {(mu1.size, mu1.size)}", name)
    for name, x in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.isfinite(x).all():
            raise ParameterError(f"{{{name}}} contains NaN or infinity", name)
    if covariances:
        for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
            problem = covariance_problem(sigma)
            if problem is not None:
                raise ParameterError(f"{{{name}}} is not a covariance matrix: {problem}", name)
    return mu1, sigma1, mu2, sigma2


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, *,
                     check_covariances: bool = True) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    Same value as pytorch-fid's ``calculate_frechet_distance`` (which uses ``scipy.linalg.sqrtm``).
    Warns with :class:`RankDeficientCovarianceWarning` when a covariance is singular (fewer samples
    than dimensions): the value is still the exact distance between the two fitted Gaussians, but
    such an estimate is biased and noisy. A result below zero from rounding is clamped to 0 with a
    :class:`FidRoundingWarning`.

    Raises ParameterError (a ValueError) naming the argument when a mean or covariance is not
    finite, the shapes disagree, a sigma is not symmetric positive semi-definite within
    ``SYMMETRY_RTOL`` / ``PSD_SHIFT`` (a negative-definite sigma gave 0.0 and an asymmetric one
    was silently averaged), or the distance overflows float64.

    ``check_covariances=False`` is for callers that vouch for both sigmas (computed here from
    finite features, or read through ``stats_cache.stats_problem``, which applies the same checks):
    the two O(d^3) checks are skipped, shapes and finiteness are still checked. At 2048
    dimensions they were two of the four Cholesky-sized steps of every FID the tools computed.
    """
    mu1, sigma1, mu2, sigma2 = _checked_statistics(mu1, sigma1, mu2, sigma2, check_covariances)
    # Symmetrise: np.cov and X^T X results are symmetric only up to round-off (within
    # SYMMETRY_RTOL, checked above: a matrix further from symmetric is refused, not averaged).
    sigma1 = (sigma1 + sigma1.T) / 2
    sigma2 = (sigma2 + sigma2.T) / 2

    tr_covmean, singular = trace_sqrt_product(sigma1, sigma2)
    if singular:
        warnings.warn("a covariance matrix is rank-deficient (fewer samples than feature "
                      "dimensions?): the FID is exact for the fitted Gaussians but biased and noisy; "
                      "use more images than dimensions", RankDeficientCovarianceWarning, stacklevel=2)
    diff = mu1 - mu2
    with np.errstate(over="ignore", invalid="ignore"):
        value = float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
    if not np.isfinite(value):
        raise ParameterError("the Fréchet distance of {mu1}, {sigma1} and {mu2}, {sigma2} overflows "
                             "float64 (their values are far beyond any feature statistics); check "
                             "the statistics", "mu1", "sigma1", "mu2", "sigma2")
    if value < 0.0:
        warnings.warn(f"Fréchet distance {value:.3g} is below zero from floating-point rounding "
                      "(the distributions are practically identical); reporting 0",
                      FidRoundingWarning, stacklevel=2)
        value = 0.0
    return value


def feature_statistics(features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(mu, sigma)`` of an (N, d) feature array, exactly like pytorch-fid (float64, n - 1)."""
    act = np.asarray(features, dtype=np.float64)
    if act.ndim != 2 or act.shape[0] < 2:
        raise ValueError(f"need an (N, d) feature array with N >= 2, got shape {act.shape}")
    return np.mean(act, axis=0), np.cov(act, rowvar=False)


class RunningStats:
    """Float64 running sums (n, sum, sum of outer products) that give pytorch-fid's mu and sigma.

    Memory is O(d^2) whatever the number of samples. Two instances (e.g. from two processes) merge
    by adding their sums, so sharded runs give the same statistics as one run.
    """

    def __init__(self, dims: int):
        self.dims = int(dims)
        self.n = 0
        self.total = np.zeros(self.dims, dtype=np.float64)
        self.outer = np.zeros((self.dims, self.dims), dtype=np.float64)

    def update(self, batch: np.ndarray) -> None:
        x = np.asarray(batch, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dims:
            raise ValueError(f"expected a (batch, {self.dims}) array, got shape {x.shape}")
        self.n += x.shape[0]
        self.total += x.sum(axis=0)
        self.outer += x.T @ x

    def merge(self, other: "RunningStats") -> "RunningStats":
        if other.dims != self.dims:
            raise ValueError(f"cannot merge statistics of {other.dims} and {self.dims} dimensions")
        self.n += other.n
        self.total += other.total
        self.outer += other.outer
        return self

    @property
    def mu(self) -> np.ndarray:
        if self.n < 1:
            raise ValueError("no samples yet")
        return self.total / self.n

    @property
    def sigma(self) -> np.ndarray:
        if self.n < 2:
            raise ValueError(f"a covariance needs at least 2 samples, got {self.n}")
        mu = self.mu
        # Unbiased (n - 1), as np.cov: (sum x x^T - n mu mu^T) / (n - 1).
        cov = (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)
        return (cov + cov.T) / 2
