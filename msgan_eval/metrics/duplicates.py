"""Exact and near duplicates within a set of images (pure maths on hashes and features).

A set of a few images repeated scores a *higher* LPIPS diversity than a balanced real set, and no
distance-based number says so; this does.

- **Exact duplicate**: an image whose pixels (SHA-256 of the decoded uint8 array and its shape)
  equal an earlier image's in the same condition.
- **Near duplicate**: an image whose Inception pool3 features have cosine similarity
  >= ``threshold`` (default :data:`msgan_eval.defaults.NEAR_DUPLICATE_COSINE`) with an earlier
  image's in the same condition. Exact duplicates are near duplicates too.

Each fraction is (images that repeat an earlier one) / (images): 0 for distinct images, and
(n - k) / n for k distinct images repeated up to n.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from msgan_eval import defaults

from .vendi import cosine_similarity_matrix


def pixel_hash(image: np.ndarray) -> str:
    """SHA-256 of an image's shape and uint8 pixels: equal exactly when the pixels are."""
    arr = np.ascontiguousarray(image)
    return hashlib.sha256(repr(arr.shape).encode() + arr.tobytes()).hexdigest()


def exact_duplicate_fraction(hashes: Sequence[str]) -> float:
    """Fraction of items whose hash equals an earlier item's."""
    if not hashes:
        return 0.0
    return float((len(hashes) - len(set(hashes))) / len(hashes))


def near_duplicate_mask(features: np.ndarray,
                        threshold: float = defaults.NEAR_DUPLICATE_COSINE) -> np.ndarray:
    """(n,) bool: the row's cosine similarity with some earlier row is >= ``threshold``."""
    x = np.asarray(features, dtype=np.float64)
    if len(x) < 2:
        return np.zeros(len(x), dtype=bool)
    earlier = np.tril(cosine_similarity_matrix(x), -1)     # row i against rows 0..i-1 only
    return (earlier >= threshold).any(axis=1)


def near_duplicate_fraction(features: np.ndarray,
                            threshold: float = defaults.NEAR_DUPLICATE_COSINE) -> float:
    """Fraction of rows whose cosine similarity with some earlier row is >= ``threshold``."""
    n = len(features)
    if n < 2:
        return 0.0
    return float(np.count_nonzero(near_duplicate_mask(features, threshold)) / n)
