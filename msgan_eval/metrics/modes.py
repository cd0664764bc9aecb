"""Mode counting on the benchmarks of PacGAN / VEEGAN (pure maths on arrays).

2D mixtures (PacGAN Table 1; fjxmlzn/PacGAN at 190853e, ``synthetic_data_experiments/``):
- ring: 8 Gaussians at ``(cos(2 pi k / 8), sin(2 pi k / 8))``, sigma 0.01
  (``2DRing_GAN&PacGAN/config.py`` l.6-7); grid: 25 at ``itertools.product(range(-4, 5, 2),
  range(-4, 5, 2))``, sigma 0.05 (``2DGrid_GAN&PacGAN/config.py`` l.5-7). The order of ``counts``
  is the order of these lists.
- ``MetricLogger.do`` (``PacGAN/pacgan/extensions.py`` l.154-175): each sample's distance to a mode
  is ``sqrt(sum(d^2 / diag(Sigma)))`` (l.160-163), its nearest mode the first of equals (the loop
  keeps a mode only when ``dis < min_dis``, l.164); a sample is *high quality* when that distance is
  strictly below 3 (``dis_thre=3``, l.115, l.167) and only high-quality samples are counted
  (l.168); modes = non-zero counts (l.171); high-quality fraction = their sum over all samples
  (l.172).
- reverse KL: no line of the 2D code computes it; Table 1's value is the repository's only KL,
  ``JSD().KLD(p, q)`` (``extensions.py`` l.20-24, the same class as
  ``stacked_MNIST_experiments/VEEGAN_experiment/model.py`` l.19-23), applied to the logged
  histogram: ``p = counts / sum(counts)`` over the high-quality samples, ``q`` uniform,
  ``sum(p_i * log(p_i / q_i) for p_i != 0)``, natural log. With no high-quality sample PacGAN
  divides by zero (NaN); we return ``None``.

Stacked MNIST (PacGAN Table 2 = VEEGAN's experiment; ``VEEGAN_experiment/model.py`` l.246-276):
each sample's three channels are labelled by a digit classifier (l.252-254), its mode is the
ordered triple (l.256), modes = distinct triples (l.265-271), and KL = KLD(p, uniform over 1000)
with p the triple histogram of all samples (l.272-276).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

HQ_THRESHOLD = 3.0          # extensions.py l.115: dis_thre=3 (in standard deviations)
PROTOCOL_SAMPLES_2D = 2500  # 2DRing_GAN&PacGAN/config.py l.32: num_log_figure_sample
STACKED_DIGITS = 3
STACKED_CLASSES = 10
STACKED_MODES = STACKED_CLASSES ** STACKED_DIGITS
PROTOCOL_SAMPLES_STACKED = 26000   # VEEGAN_experiment/config.py l.20: num_test_sample
_CHUNK = 1 << 16            # samples per block of the distance computation (bounded memory)


@dataclass(frozen=True)
class Mixture2D:
    """A 2D benchmark: the mode centres (K, 2) and the isotropic standard deviation."""

    name: str
    centres: np.ndarray
    sigma: float

    @property
    def modes_total(self) -> int:
        return len(self.centres)


def ring() -> Mixture2D:
    # 2DRing_GAN&PacGAN/config.py l.6: the same expression, so the centres are bit-identical.
    centres = [[math.cos(k * np.pi * 2 / 8), math.sin(k * np.pi * 2 / 8)] for k in range(8)]
    return Mixture2D("ring", np.array(centres, dtype=np.float64), 0.01)


def grid() -> Mixture2D:
    # 2DGrid_GAN&PacGAN/config.py l.5-6: x outer, y inner.
    centres = list(itertools.product(range(-4, 5, 2), range(-4, 5, 2)))
    return Mixture2D("grid", np.array(centres, dtype=np.float64), 0.05)


MIXTURES = {"ring": ring, "grid": grid}
LAYOUTS = ("ring", "grid", "stacked")


def mixture(name: str) -> Mixture2D:
    """The ``ring`` or ``grid`` benchmark."""
    if name not in MIXTURES:
        raise ValueError(f"unknown 2D layout {name!r}; use one of {', '.join(MIXTURES)}")
    return MIXTURES[name]()


def nearest_modes(points: np.ndarray, mix: Mixture2D):
    """(index of the nearest mode, distance to it in standard deviations) of each point.

    float64 throughout, as PacGAN casts each sample with ``numpy.array(..., dtype=float)``; the
    variance is ``sigma ** 2`` as in ``VARIANCES = sigma ** 2 * eye`` and the distance
    ``sqrt(d0^2 / var + d1^2 / var)``; ``argmin`` keeps the first of equal distances, like the
    strict ``dis < min_dis`` of the reference loop.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    var = mix.sigma ** 2
    index = np.empty(len(pts), dtype=np.int64)
    dist = np.empty(len(pts), dtype=np.float64)
    for lo in range(0, len(pts), _CHUNK):
        d = pts[lo:lo + _CHUNK, None, :] - mix.centres[None, :, :]
        q = (d * d) / var
        dis = np.sqrt(q[..., 0] + q[..., 1])
        index[lo:lo + _CHUNK] = np.argmin(dis, axis=1)
        dist[lo:lo + _CHUNK] = dis[np.arange(len(dis)), index[lo:lo + _CHUNK]]
    return index, dist


def high_quality_counts(points: np.ndarray, mix: Mixture2D,
                        threshold: float = HQ_THRESHOLD) -> np.ndarray:
    """PacGAN's ``detail_of_coverage``: high-quality samples per mode (int64, length K)."""
    index, dist = nearest_modes(points, mix)
    return np.bincount(index[dist < threshold], minlength=mix.modes_total).astype(np.int64)


def kl_to_uniform(counts: np.ndarray) -> Optional[float]:
    """``KLD(counts / sum, uniform)`` as PacGAN's ``JSD().KLD``: natural log, empty bins count 0.

    ``None`` when every count is zero (PacGAN's normalisation would give NaN).
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return None
    p = counts / total
    q = 1.0 / len(counts)
    return float(sum(pi * math.log(pi / q) for pi in p if pi != 0))


@dataclass(frozen=True)
class Coverage2D:
    layout: str
    modes: int
    modes_total: int
    high_quality: float
    reverse_kl: Optional[float]
    counts: List[int]
    n: int


def coverage_2d(points: np.ndarray, mix: Mixture2D, threshold: float = HQ_THRESHOLD) -> Coverage2D:
    """Modes covered, high-quality fraction and reverse KL of an (N, 2) sample, N >= 1.

    Example:
        >>> c = coverage_2d(np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]), ring())
        >>> c.modes, c.high_quality, c.counts[:3]
        (2, 0.6666666666666666, [1, 0, 1])
    """
    counts = high_quality_counts(points, mix, threshold)
    n = int(np.asarray(points).reshape(-1, 2).shape[0])
    return Coverage2D(layout=mix.name, modes=int(np.count_nonzero(counts)),
                      modes_total=mix.modes_total, high_quality=float(counts.sum()) / float(n),
                      reverse_kl=kl_to_uniform(counts), counts=[int(c) for c in counts], n=n)


def triple_index(labels: np.ndarray) -> np.ndarray:
    """Ordered label triples (N, 3) of digits 0..9 -> one integer 100 l0 + 10 l1 + l2 each."""
    labels = np.asarray(labels, dtype=np.int64)
    return labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]


@dataclass(frozen=True)
class StackedCoverage:
    modes: int
    modes_total: int
    kl: float
    counts: np.ndarray      # (1000,) samples per triple, index 100 l0 + 10 l1 + l2
    n: int


def stacked_coverage(labels: np.ndarray) -> StackedCoverage:
    """Distinct triples and KL(triple histogram || uniform over 1000) of (N, 3) channel labels.

    Example:
        >>> s = stacked_coverage(np.array([[1, 2, 3], [1, 2, 3], [0, 0, 0]]))
        >>> s.modes, round(s.kl, 4)
        (2, 6.2712)
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != STACKED_DIGITS or len(labels) == 0:
        raise ValueError(f"labels must be (N, 3) with N >= 1, got shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= STACKED_CLASSES:
        raise ValueError("labels must be digits 0..9")
    counts = np.bincount(triple_index(labels), minlength=STACKED_MODES).astype(np.int64)
    return StackedCoverage(modes=int(np.count_nonzero(counts)), modes_total=STACKED_MODES,
                           kl=float(kl_to_uniform(counts)), counts=counts, n=len(labels))


def labelled_triples(true_p: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """Distribution over the 1000 *labelled* triples when the true triples follow ``true_p``
    (length 1000, index 100 l0 + 10 l1 + l2) and each channel is labelled independently through
    ``confusion`` (10 x 10, row = true digit, each row summing to 1)."""
    c = np.asarray(confusion, dtype=np.float64)
    p = np.asarray(true_p, dtype=np.float64).reshape(STACKED_CLASSES, STACKED_CLASSES, STACKED_CLASSES)
    return np.einsum("abc,ax,by,cz->xyz", p, c, c, c).reshape(-1)


def expected_modes(labelled_p: np.ndarray, n: int = PROTOCOL_SAMPLES_STACKED) -> float:
    """Expected distinct triples among ``n`` independent draws from ``labelled_p``."""
    p = np.asarray(labelled_p, dtype=np.float64)
    return float(np.sum(-np.expm1(n * np.log1p(-np.minimum(p, 1.0 - 1e-16)))))
