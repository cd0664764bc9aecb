"""LPIPS diversity maths on arrays: which pairs to compare, and how per-pair distances become a score.

No images, networks or devices here (those live in ``features/lpips_net.py`` and ``diversity.py``).

Pair protocols, per condition of ``n`` images (indices ``0..n-1``, in the loader's sorted order):

- ``random`` (MSGAN protocol): ``num_pairs`` distinct unordered pairs ``(i, j)``, ``i < j``, drawn
  without replacement from the ``n (n - 1) / 2`` possible ones, so an image is never paired with
  itself and no pair is counted twice. If a condition has fewer possible pairs than asked, every
  pair is used and the condition is listed in :attr:`PairPlan.all_pairs_used`.
- ``all``: every unordered pair, ``(0, 1), (0, 2), ..., (n-2, n-1)``.
- ``consecutive``: ``(0, 1), (1, 2), ..., (n-2, n-1)``, as the lpips repository's
  ``compute_dists_pair.py`` does without ``--all-pairs`` (the BicycleGAN protocol).

LPIPS is symmetric (the layers compare ``(f0 - f1) ** 2``), so unordered pairs lose nothing.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

PAIR_PROTOCOLS = ("random", "all", "consecutive")


@dataclass
class PairPlan:
    pairs: np.ndarray            # (P, 2) int64, i < j, local indices into the condition
    all_pairs_used: bool         # random protocol asked for more pairs than exist


@dataclass
class DiversitySummary:
    score: float                 # mean over conditions of the per-condition mean distance
    std: float                   # np.std (ddof=0) of all pair distances, pooled over conditions
    std_over_conditions: float   # np.std (ddof=0) of the per-condition means
    n_pairs: int
    groups: Dict[str, float]     # condition -> mean distance over its pairs
    pairs_per_group: Dict[str, int]


def condition_rng(seed: int, condition: str) -> np.random.Generator:
    """A generator for one condition, from the run's seed and the condition's name.

    Keyed by name (CRC-32), not position, so adding or removing another condition does not change
    which pairs this one gets.
    """
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng([seed, zlib.crc32(name_bytes(condition))])


def name_bytes(name: str) -> bytes:
    """The bytes of a condition's name: UTF-8, and for a folder name that is not UTF-8 its raw
    bytes (``os.fsdecode`` keeps them as surrogates, which plain ``encode()`` refuses)."""
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:         # a lone surrogate that is no escaped byte (in-memory keys)
        return name.encode("utf-8", "surrogatepass")


def all_pairs(n: int) -> np.ndarray:
    """Every unordered pair ``i < j`` of ``n`` items, row by row: (0, 1), (0, 2), ..., (n-2, n-1)."""
    i, j = np.triu_indices(n, k=1)
    return np.stack([i, j], axis=1).astype(np.int64)


def consecutive_pairs(n: int) -> np.ndarray:
    i = np.arange(n - 1, dtype=np.int64)
    return np.stack([i, i + 1], axis=1)


def unrank_pairs(ranks: np.ndarray, n: int) -> np.ndarray:
    """Map positions in the :func:`all_pairs` order to pairs, without listing all n(n-1)/2 pairs."""
    ranks = np.asarray(ranks, dtype=np.int64)
    rows = np.arange(n - 1, dtype=np.int64)
    # Row i (pairs (i, i+1) .. (i, n-1)) starts at i*n - i*(i+1)/2 in the all_pairs order.
    starts = rows * n - rows * (rows + 1) // 2
    i = np.searchsorted(starts, ranks, side="right") - 1
    j = ranks - starts[i] + i + 1
    return np.stack([i, j], axis=1)


def random_pairs(n: int, num_pairs: int, rng: np.random.Generator) -> PairPlan:
    """``num_pairs`` distinct pairs ``i < j`` drawn uniformly without replacement, sorted."""
    total = n * (n - 1) // 2
    if num_pairs >= total:
        return PairPlan(all_pairs(n), all_pairs_used=num_pairs > total)
    ranks = np.sort(rng.choice(total, size=num_pairs, replace=False))
    return PairPlan(unrank_pairs(ranks, n), all_pairs_used=False)


def plan_pairs(n: int, protocol: str, num_pairs: int, rng: np.random.Generator) -> PairPlan:
    """The pairs to compare inside one condition of ``n`` images (see the module docstring)."""
    if n < 2:
        raise ValueError(f"need at least 2 images to form a pair, got {n}")
    if protocol == "random":
        if num_pairs < 1:
            raise ValueError(f"num_pairs must be >= 1, got {num_pairs}")
        return random_pairs(n, num_pairs, rng)
    if protocol == "all":
        return PairPlan(all_pairs(n), all_pairs_used=False)
    if protocol == "consecutive":
        return PairPlan(consecutive_pairs(n), all_pairs_used=False)
    raise ValueError(f"unknown pair protocol {protocol!r}; use one of {', '.join(PAIR_PROTOCOLS)}")


def summarize(pair_distances: Dict[str, np.ndarray]) -> DiversitySummary:
    """Per-condition means, their mean (the score), and spreads, in float64.

    Every condition weighs the same in the score whatever its number of pairs, as in MSGAN's
    per-condition averaging.
    """
    if not pair_distances:
        raise ValueError("no conditions to summarize")
    names: List[str] = sorted(pair_distances)
    dists = {c: np.asarray(pair_distances[c], dtype=np.float64).reshape(-1) for c in names}
    for c in names:
        if dists[c].size == 0:
            raise ValueError(f"condition {c!r} has no pair distances")
    groups = {c: float(np.mean(dists[c])) for c in names}
    means = np.array([groups[c] for c in names])
    pooled = np.concatenate([dists[c] for c in names])
    return DiversitySummary(score=float(np.mean(means)), std=float(np.std(pooled)),
                            std_over_conditions=float(np.std(means)), n_pairs=int(pooled.size),
                            groups=groups, pairs_per_group={c: int(dists[c].size) for c in names})
