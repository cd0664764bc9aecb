"""Per-image defect statistics and the flags calibrated on a reference set (pure maths).

Each flag fires when an image lies outside what the reference images show, on one statistic:
beyond the reference's 0.1th / 99.9th percentile, moved out by a quarter of that percentile's
distance to the median (:data:`msgan_eval.defaults.FLAG_MARGIN`; on a log scale for ``blank``):

==============  =======================================================  =======================
flag            statistic (per image, pixels scaled to [0, 1])           fires when
==============  =======================================================  =======================
``blank``       ``pixel_std``: the largest per-channel standard          below the reference's
                deviation over the pixels (a one-colour frame is 0)      0.1th percentile (log)
``saturated``   ``clipped_fraction``: the fraction of channel values     above the reference's
                at exactly 0 or 255                                      99.9th percentile
``noise``       ``high_frequency``: the energy of the 5-point Laplacian  above the reference's
                over the image's variance, summed over channels (edges   99.9th percentile
                reflected): 64 for a one-pixel checkerboard, ~20 for
                uniform static, ~1.6 for a typical Fashion-MNIST item
==============  =======================================================  =======================

The Laplacian ratio is scale free (a checkerboard of any contrast scores the same) and counts only
energy at the highest frequencies *relative to the image's own contrast*: a textured garment
keeps most of its variance in its shape, static and checkerboards put it all at the pixel scale.

Two more flags are distances, computed on features by the evaluation layer with the functions
here: ``duplicate`` (an image repeats an earlier one of its condition, exactly or near:
:func:`duplicate_mask`) and ``copy-of-train`` (the nearest training image is closer than the
reference's held-out images ever are to theirs: :func:`copy_threshold`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from msgan_eval import defaults

from .duplicates import near_duplicate_mask


@dataclass(frozen=True)
class FlagRule:
    flag: str
    statistic: str
    side: str              # "below" | "above": where the image must lie to fire
    percentile: float      # of the reference's statistic
    scale: str = "linear"  # "linear" | "log": where the margin is measured

    def describe(self) -> str:
        return (f"{self.statistic} {self.side} the reference's {self.percentile:g}th percentile, "
                f"moved out by {defaults.FLAG_MARGIN:g} of its distance to the median"
                f"{' (log scale)' if self.scale == 'log' else ''}")

    def threshold(self, values: np.ndarray, margin: float = defaults.FLAG_MARGIN) -> float:
        """The reference's percentile moved away from its median by ``margin`` times their
        distance: at a few hundred images the 0.1 / 99.9 percentile is the extreme image itself,
        and a new real image lies beyond it about 1 / (n + 1) of the time; the margin brings the
        held-out false positives to ~0.1% (docs/inspect.md). ``log``: the margin is a factor
        (a standard deviation near 0 keeps a threshold above 0)."""
        v = np.asarray(values, dtype=np.float64)
        if self.scale == "log":
            v = np.log(np.maximum(v, np.finfo(np.float64).tiny))
        p, median = float(np.percentile(v, self.percentile)), float(np.median(v))
        t = p + margin * (p - median)
        return float(np.exp(t)) if self.scale == "log" else t


PIXEL_RULES = (
    FlagRule("blank", "pixel_std", "below", defaults.FLAG_LOW_PERCENTILE, "log"),
    FlagRule("saturated", "clipped_fraction", "above", defaults.FLAG_HIGH_PERCENTILE),
    FlagRule("noise", "high_frequency", "above", defaults.FLAG_HIGH_PERCENTILE),
)
STATISTICS = tuple(r.statistic for r in PIXEL_RULES)


def _laplacian_energy(x: np.ndarray) -> np.ndarray:
    """Mean squared 5-point Laplacian of (N, H, W, C) float images, per image and channel."""
    mode = "reflect" if min(x.shape[1:3]) >= 2 else "edge"
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode=mode)
    lap = p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] - 4.0 * x
    return np.mean(lap * lap, axis=(1, 2))


def pixel_statistics(images: np.ndarray) -> Dict[str, np.ndarray]:
    """statistic -> (N,) float64 for a stack of equal-size uint8 images (N, H, W[, C]).

    Example:
        >>> s = pixel_statistics(np.zeros((2, 8, 8, 3), np.uint8))
        >>> s["pixel_std"].tolist(), s["clipped_fraction"].tolist(), s["high_frequency"].tolist()
        ([0.0, 0.0], [1.0, 1.0], [0.0, 0.0])
    """
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {arr.shape}")
    clipped = ((arr == 0) | (arr == 255)).reshape(len(arr), -1).mean(axis=1)
    x = arr.astype(np.float64) / 255.0
    var = x.var(axis=(1, 2))                                   # (N, C)
    energy = _laplacian_energy(x).sum(axis=1)
    total = var.sum(axis=1)
    ratio = np.divide(energy, total, out=np.zeros_like(total), where=total > 1e-12)
    return {"pixel_std": np.sqrt(var.max(axis=1)), "clipped_fraction": clipped,
            "high_frequency": ratio}


def calibrate(reference: Mapping[str, np.ndarray], rules: Sequence[FlagRule] = PIXEL_RULES,
              min_reference: int = defaults.INSPECT_MIN_REFERENCE) -> Dict[str, float]:
    """flag -> threshold: the rule's percentile of the reference's statistic (numpy's linear
    interpolation) with its margin (:meth:`FlagRule.threshold`). ValueError with fewer than
    ``min_reference`` reference images."""
    out = {}
    for rule in rules:
        values = np.asarray(reference[rule.statistic], dtype=np.float64)
        if len(values) < min_reference:
            raise ValueError(f"{len(values)} reference images cannot calibrate {rule.flag!r}: "
                             f"at least {min_reference} are needed")
        out[rule.flag] = rule.threshold(values)
    return out


def fire(statistics: Mapping[str, np.ndarray], thresholds: Mapping[str, float],
         rules: Sequence[FlagRule] = PIXEL_RULES) -> Dict[str, np.ndarray]:
    """flag -> (N,) bool: strictly beyond the threshold on the rule's side."""
    out = {}
    for rule in rules:
        values = np.asarray(statistics[rule.statistic], dtype=np.float64)
        t = thresholds[rule.flag]
        out[rule.flag] = values < t if rule.side == "below" else values > t
    return out


def duplicate_mask(hashes: Sequence[str], features: Optional[np.ndarray],
                   groups: Mapping[str, List[int]],
                   cosine: float = defaults.NEAR_DUPLICATE_COSINE) -> np.ndarray:
    """(N,) bool: the image repeats an earlier image of its condition, pixel for pixel (equal
    ``hashes``) or, with ``features``, at cosine similarity >= ``cosine``. The first of a set of
    copies is not flagged: k distinct images repeated up to n flag n - k (duplicates.py's count)."""
    out = np.zeros(len(hashes), dtype=bool)
    for idx in groups.values():
        seen = set()
        for i in idx:
            out[i] = hashes[i] in seen
            seen.add(hashes[i])
        if features is not None and len(idx) > 1:
            out[idx] |= near_duplicate_mask(np.asarray(features)[idx], cosine)
    return out


COPY_RULE = FlagRule("copy-of-train", "train_distance", "below", defaults.FLAG_LOW_PERCENTILE,
                     "log")


def copy_threshold(reference_to_train: np.ndarray) -> float:
    """The distance below which a sample is called a copy of a training image: the reference
    (held-out) images' nearest-training distances, through :data:`COPY_RULE` (their 0.1th
    percentile with the log-scale margin). 0 when the reference shares images with the training
    set (then nothing can be called a copy)."""
    d = np.asarray(reference_to_train, dtype=np.float64)
    if len(d) == 0:
        raise ValueError("no reference distances to calibrate copy-of-train on")
    if np.percentile(d, COPY_RULE.percentile) <= 0:
        return 0.0
    return COPY_RULE.threshold(d)
