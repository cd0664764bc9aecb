"""The Vendi score (Friedman & Dieng 2023, "The Vendi Score: A Diversity Evaluation Metric for
Machine Learning"): a diversity measure of one set that needs no reference (pure maths).

For n samples and a positive semi-definite similarity matrix K with ``K[i, i] = 1``, the score is
``exp(-sum_i l_i log l_i)`` over the eigenvalues ``l_i`` of ``K / n`` — the exponential of their
Shannon entropy, the "effective number of distinct samples": 1 when all samples are alike, n when
they are orthogonal. This is the ``vendi-score`` package's ``score_K(K, q=1)`` (zero eigenvalues
dropped, as its ``entropy_q`` does).

Kernel here: the cosine similarity of feature vectors, ``K[i, j] = x_i . x_j / (|x_i| |x_j|)`` (the
``vendi-score`` package's ``score_dual`` / image examples use the same on Inception features).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Optional

import numpy as np

KERNEL = "cosine"
# A single image scores 1.0 whatever it shows: "one distinct sample" says nothing about diversity,
# so a condition needs this many images to get a score (else it is reported as not computable).
MIN_IMAGES = 2


def cosine_similarity_matrix(features: np.ndarray) -> np.ndarray:
    """(n, n) cosine similarities of the rows of ``features`` (a zero row is similar only to itself)."""
    x = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    k = unit @ unit.T
    np.fill_diagonal(k, 1.0)
    return k


def vendi_from_kernel(kernel: np.ndarray) -> float:
    """exp(Shannon entropy of the eigenvalues of K / n), as ``vendi_score.vendi.score_K(K)``."""
    k = np.asarray(kernel, dtype=np.float64)
    n = k.shape[0]
    if n < 1 or k.shape != (n, n):
        raise ValueError(f"need a square, non-empty similarity matrix, got shape {k.shape}")
    w = np.linalg.eigvalsh((k + k.T) / (2.0 * n))
    w = w[w > 0]                       # round-off negatives and zeros carry no entropy
    return float(np.exp(-(w * np.log(w)).sum()))


def vendi_score(features: np.ndarray) -> float:
    """The Vendi score of one set of feature rows under the cosine kernel.

    When n exceeds the feature size d, the non-zero eigenvalues of X X^T / n equal those of
    X^T X / n (d x d), which is cheaper; both give the same score.
    """
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    if n < 1:
        raise ValueError("cannot score an empty set")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if n <= x.shape[1] or np.any(norms == 0):
        return vendi_from_kernel(cosine_similarity_matrix(x))
    unit = x / norms
    return vendi_from_kernel_eigenvalues(np.linalg.eigvalsh(unit.T @ unit / n))


def vendi_from_kernel_eigenvalues(eigenvalues: np.ndarray) -> float:
    w = np.asarray(eigenvalues, dtype=np.float64)
    w = w[w > 0]
    return float(np.exp(-(w * np.log(w)).sum()))


def mean_vendi(per_condition: Mapping[str, Optional[float]]) -> float:
    """The set's score: the mean over the conditions that have one (None: not computable, fewer
    than ``MIN_IMAGES`` images), as LPIPS diversity is averaged; NaN when none has."""
    values = [v for v in per_condition.values() if v is not None]
    return float(np.mean(values)) if values else float("nan")


def weighted_vendi(features: np.ndarray, counts: Iterable[float]) -> float:
    """Vendi score of a resample given as distinct rows and how often each was drawn.

    A row drawn c times is c identical samples: K / m over the drawn multiset has the eigenvalues of
    D^1/2 K_distinct D^1/2 / m with D the counts (the bootstrap uses this: no m x m matrix).
    """
    c = np.asarray(list(counts), dtype=np.float64)
    root = np.sqrt(c)
    k = cosine_similarity_matrix(features)
    return vendi_from_kernel_eigenvalues(
        np.linalg.eigvalsh(root[:, None] * k * root[None, :] / c.sum()))
