"""Seeded bootstrap confidence intervals and baseline-vs-candidate verdicts (pure maths).

Every metric is bootstrapped over the *generated* samples only:

- FID: feature rows are resampled with replacement; the reference statistics stay fixed.
- LPIPS diversity: the per-pair distances are resampled within each condition, then averaged over
  conditions as ``lpips_diversity`` does. (Random pairs share images, so this treats pairs as if
  independent: the interval is an approximation, as it is in every LPIPS-diversity bootstrap.)
- NDB / JSD: the samples' bin assignments are resampled and re-tested with ``ndb_from_counts``.

Intervals are 95 % percentile intervals of the replicates, *re-centred on the estimate*: the whole
interval is shifted by ``median(replicates) - value``, and cut at 0, below which none of these
metrics can go. Resampling with replacement duplicates rows, which by itself inflates FID (fewer
distinct samples), NDB (noisier bin counts) and JSD (plug-in bias), so a plain percentile interval
of FID often lies entirely above the number ``msgan-eval fid`` prints. The shift keeps the
bootstrap's spread and removes that resampling artefact; its size is reported as ``bias``.

Verdicts come from the bootstrap of the difference ``candidate - baseline`` (independent resamples
of the two runs, replicate by replicate), re-centred the same way: the difference is significant at
95 % when its interval excludes 0, and its sign together with the metric's direction (FID, NDB, JSD:
lower is better; LPIPS: higher is better) names the better run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

import numpy as np

from msgan_eval import defaults

from .fid import feature_statistics, frechet_distance
from .ndb import Bins, bin_counts, ndb_from_counts
from .registry import BASELINE_BETTER, CANDIDATE_BETTER, NO_DIFFERENCE


@dataclass(frozen=True)
class BootstrapEstimate:
    """A metric on all the samples, with its re-centred percentile interval."""

    value: float
    low: float
    high: float
    bias: float              # median(replicates) - value: the shift removed from the interval
    replicates: np.ndarray   # the metric on each resample, in resample order

    @property
    def ci(self) -> Tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True)
class Verdict:
    """The bootstrap of ``candidate - baseline`` for one metric."""

    delta: float             # candidate.value - baseline.value
    low: float
    high: float
    verdict: str             # one of VERDICTS

    @property
    def ci(self) -> Tuple[float, float]:
        return (self.low, self.high)


def resample_indices(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) row indices drawn with replacement: the classic nonparametric bootstrap."""
    if n < 1:
        raise ValueError("cannot bootstrap an empty sample")
    return rng.integers(0, n, size=(n_boot, n))


def recentred_interval(value: float, replicates: np.ndarray,
                       confidence: float = defaults.CONFIDENCE,
                       floor: Optional[float] = None) -> BootstrapEstimate:
    """Percentile interval of ``replicates``, shifted so that their median sits on ``value``.

    ``floor`` is the metric's smallest possible value (0 for FID, LPIPS, NDB, JSD): the shift can
    carry the lower end below it, and the interval is then cut there.
    """
    reps = np.asarray(replicates, dtype=np.float64)
    tail = 100.0 * (1.0 - confidence) / 2.0
    q_low, q_mid, q_high = np.percentile(reps, [tail, 50.0, 100.0 - tail])
    shift = float(q_mid - value)
    low = float(q_low - shift) if floor is None else max(float(q_low - shift), floor)
    return BootstrapEstimate(float(value), low, float(q_high - shift), shift, reps)


def fid_replicates(features: np.ndarray, ref_mu: np.ndarray, ref_sigma: np.ndarray,
                   indices: np.ndarray) -> np.ndarray:
    """FID of ``features[idx]`` against fixed reference statistics, for each row ``idx``.

    Equal to pytorch-fid's ``calculate_frechet_distance(mean, cov(rows), ref_mu, ref_sigma)`` but
    without a d x d ``sqrtm`` per replicate: tr sqrt(S_b S_r) is the sum of the square roots of the
    eigenvalues of S_r^1/2 S_b S_r^1/2. S_b is a weighted sum of outer products of the distinct
    resampled rows, so with fewer rows than dimensions that matrix shares its non-zero eigenvalues
    with a small Gram matrix of those rows in the S_r inner product (no square root of S_r needed);
    with more rows than dimensions the d x d form is the smaller one and is used instead.
    """
    x = np.asarray(features, dtype=np.float64)
    ref_mu = np.asarray(ref_mu, dtype=np.float64)
    ref_sigma = np.asarray(ref_sigma, dtype=np.float64)
    n, d = x.shape
    centre = x.mean(axis=0)
    p = x - centre                                   # centred once, for numerical stability
    sq_norms = np.einsum("ij,ij->i", p, p)
    use_gram = n <= d
    # gram[i, j] = p_i^T S_r p_j; otherwise the rows whitened by S_r^1/2
    lifted = p @ ref_sigma @ p.T if use_gram else p @ _psd_sqrt(ref_sigma)
    out = np.empty(len(indices))
    for b, idx in enumerate(indices):
        m = len(idx)
        w = np.bincount(idx, minlength=n).astype(np.float64)
        keep = np.flatnonzero(w)
        wk = w[keep]
        shift = wk @ p[keep] / m                     # resample mean minus centre
        diff = centre + shift - ref_mu
        trace_b = (wk @ sq_norms[keep] - m * shift @ shift) / (m - 1)   # np.cov's ddof=1
        if use_gram:
            tr_sqrt = _trace_sqrt_gram(lifted[np.ix_(keep, keep)], wk, m)
        else:
            tr_sqrt = _trace_sqrt_whitened(lifted[keep], wk, m)
        out[b] = diff @ diff + trace_b + np.trace(ref_sigma) - 2 * tr_sqrt
    return out


def _trace_sqrt_gram(gram: np.ndarray, weights: np.ndarray, m: int) -> float:
    """tr sqrt(S_r^1/2 S_b S_r^1/2) from the S_r-Gram matrix of the distinct rows and their counts."""
    gw = gram @ weights / m
    centred = gram - gw[:, None] - gw[None, :] + weights @ gw / m   # rows minus the resample mean
    root = np.sqrt(weights)
    return _sum_sqrt(np.linalg.eigvalsh(root[:, None] * centred * root[None, :] / (m - 1)))


def _trace_sqrt_whitened(rows: np.ndarray, weights: np.ndarray, m: int) -> float:
    """The same trace from the distinct rows already multiplied by S_r^1/2."""
    scaled = np.sqrt(weights)[:, None] * (rows - weights @ rows / m)
    return _sum_sqrt(np.linalg.eigvalsh(scaled.T @ scaled / (m - 1)))


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((sigma + sigma.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def _sum_sqrt(eigenvalues: np.ndarray) -> float:
    # Round-off makes zero eigenvalues slightly negative; the true ones are >= 0 (PSD product).
    return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def bootstrap_fid(features: np.ndarray, ref_mu: np.ndarray, ref_sigma: np.ndarray, *,
                  rng: np.random.Generator, n_boot: int = defaults.BOOTSTRAP,
                  confidence: float = defaults.CONFIDENCE,
                  check_covariances: bool = True) -> BootstrapEstimate:
    """FID of ``features`` against fixed reference statistics, with its bootstrap interval
    (``check_covariances``: as :func:`~msgan_eval.metrics.fid.frechet_distance`'s)."""
    mu, sigma = feature_statistics(np.asarray(features, dtype=np.float64))
    # the number `msgan-eval fid` prints
    value = frechet_distance(mu, sigma, ref_mu, ref_sigma, check_covariances=check_covariances)
    idx = resample_indices(len(features), n_boot, rng)
    return recentred_interval(value, fid_replicates(features, ref_mu, ref_sigma, idx), confidence,
                              floor=0.0)


def lpips_score(pair_distances: Mapping[str, np.ndarray]) -> float:
    """Mean over conditions of each condition's mean pair distance (lpips_diversity's score)."""
    return float(np.mean([np.mean(v) for _, v in sorted(pair_distances.items())]))


def bootstrap_lpips(pair_distances: Mapping[str, np.ndarray], *, rng: np.random.Generator,
                    n_boot: int = defaults.BOOTSTRAP,
                    confidence: float = defaults.CONFIDENCE) -> BootstrapEstimate:
    """LPIPS diversity with pairs resampled within each condition (conditions in sorted order)."""
    per_condition = []
    for _, dist in sorted(pair_distances.items()):
        dist = np.asarray(dist, dtype=np.float64)
        per_condition.append(dist[resample_indices(len(dist), n_boot, rng)].mean(axis=1))
    replicates = np.mean(per_condition, axis=0)
    return recentred_interval(lpips_score(pair_distances), replicates, confidence, floor=0.0)


def bootstrap_ndb(bins: Bins, assignments: np.ndarray, *, rng: np.random.Generator,
                  n_boot: int = defaults.BOOTSTRAP, alpha: float = defaults.NDB_ALPHA,
                  z_threshold: Optional[float] = None,
                  confidence: float = defaults.CONFIDENCE) -> Tuple[BootstrapEstimate,
                                                                    BootstrapEstimate]:
    """(NDB, JSD) of the samples with bin indices ``assignments`` (from ``assign_bins``).

    The samples are resampled; the bins and their training proportions stay fixed.
    """
    assignments = np.asarray(assignments, dtype=np.int64)
    full = ndb_from_counts(bins, bin_counts(assignments, bins.k), alpha, z_threshold)
    ndb_reps, jsd_reps = np.empty(n_boot), np.empty(n_boot)
    for b, idx in enumerate(resample_indices(len(assignments), n_boot, rng)):
        res = ndb_from_counts(bins, bin_counts(assignments[idx], bins.k), alpha, z_threshold)
        ndb_reps[b], jsd_reps[b] = res.ndb, res.jsd
    return (recentred_interval(full.ndb, ndb_reps, confidence, floor=0.0),
            recentred_interval(full.jsd, jsd_reps, confidence, floor=0.0))


def compare_estimates(baseline: BootstrapEstimate, candidate: BootstrapEstimate, *,
                      higher_is_better: bool,
                      confidence: float = defaults.CONFIDENCE) -> Verdict:
    """Verdict from the replicate-by-replicate difference ``candidate - baseline``."""
    if len(baseline.replicates) != len(candidate.replicates):
        raise ValueError("baseline and candidate need the same number of bootstrap replicates")
    delta = candidate.value - baseline.value
    diff = recentred_interval(delta, candidate.replicates - baseline.replicates, confidence)
    if diff.low <= 0.0 <= diff.high:
        verdict = NO_DIFFERENCE
    else:
        verdict = CANDIDATE_BETTER if (delta > 0) == higher_is_better else BASELINE_BETTER
    return Verdict(float(delta), diff.low, diff.high, verdict)
