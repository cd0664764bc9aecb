"""Counted diversity of a tinting translator: which palette hue each image carries, and how many
distinct hues the samples of one input show (pure maths on uint8 arrays).

An image's hue is the circular mean of its coloured pixels' hues (HSV), each pixel weighted by
saturation x value; a pixel is coloured when its value (brightest channel) is at least
``min_value`` and its saturation at least ``min_saturation``. An image with fewer than
``min_pixels`` coloured pixels has no hue (-1): a grey or black output. Otherwise it takes the
nearest palette hue. On ``fashion-mnist-tints`` the palette is six hues 60 degrees apart, so a
translator that ignores its latent code shows one hue per input and a diverse one up to six.

Example::

    labels = image_hues(samples, palette=(0, 60, 120, 180, 240, 300))   # (N,) in -1..5
    distinct_hues([labels[:10], labels[10:]])                            # array([1, 4])
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

MIN_VALUE = 0.25          # of 1: darker pixels (background, shadows) carry no reliable hue
MIN_SATURATION = 0.35
MIN_PIXELS = 8            # coloured pixels an image needs to have a hue


def rgb_to_hsv(rgb: np.ndarray):
    """float RGB in [0, 1], (..., 3) -> (hue in degrees [0, 360), saturation, value), each (...)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(-1)
    chroma = value - rgb.min(-1)
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.where(value == r, (g - b) / safe % 6,
                   np.where(value == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
    hue = np.where(chroma > 0, hue % 360.0, 0.0)
    saturation = np.where(value > 0, chroma / np.where(value > 0, value, 1.0), 0.0)
    return hue, saturation, value


def mean_hue(images: np.ndarray, min_value: float = MIN_VALUE,
             min_saturation: float = MIN_SATURATION, min_pixels: int = MIN_PIXELS) -> np.ndarray:
    """uint8 (N, H, W, 3) -> (N,) weighted circular mean hue in degrees; NaN without a hue."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3) RGB, got shape {images.shape}")
    hue, sat, val = rgb_to_hsv(images.astype(np.float64) / 255.0)
    coloured = (val >= min_value) & (sat >= min_saturation)
    weight = np.where(coloured, sat * val, 0.0)
    angle = np.deg2rad(hue)
    s = (weight * np.sin(angle)).sum((1, 2))
    c = (weight * np.cos(angle)).sum((1, 2))
    out = np.rad2deg(np.arctan2(s, c)) % 360.0
    enough = coloured.sum((1, 2)) >= min_pixels
    return np.where(enough & ((s != 0) | (c != 0)), out, np.nan)


def nearest_hue(hues: np.ndarray, palette: Sequence[float]) -> np.ndarray:
    """Degrees (N,) -> index of the nearest palette hue on the circle; -1 where NaN."""
    hues = np.asarray(hues, dtype=np.float64)
    palette = np.asarray(palette, dtype=np.float64)
    diff = np.abs(hues[:, None] - palette[None, :]) % 360.0
    dist = np.minimum(diff, 360.0 - diff)
    idx = np.argmin(np.where(np.isnan(dist), np.inf, dist), axis=1)
    return np.where(np.isnan(hues), -1, idx).astype(np.int64)


def image_hues(images: np.ndarray, palette: Sequence[float], min_value: float = MIN_VALUE,
               min_saturation: float = MIN_SATURATION, min_pixels: int = MIN_PIXELS) -> np.ndarray:
    """uint8 (N, H, W, 3) -> (N,) palette index of each image's hue, -1 for no hue."""
    return nearest_hue(mean_hue(images, min_value, min_saturation, min_pixels), palette)


def distinct_hues(labels_per_input: Sequence[np.ndarray]) -> np.ndarray:
    """Number of distinct palette hues (labels >= 0; -1 = no hue) among each input's samples."""
    return np.array([len(np.unique(lab[lab >= 0])) for lab in map(np.asarray, labels_per_input)],
                    dtype=np.int64)


def expected_distinct(n_hues: int, per_input: int) -> float:
    """Distinct hues expected among ``per_input`` samples drawn uniformly from ``n_hues`` hues:
    ``K (1 - (1 - 1/K)^n)``, the count of a translator whose hues are all equally likely."""
    return n_hues * (1.0 - (1.0 - 1.0 / n_hues) ** per_input)


def hue_summary(labels_per_input: Sequence[np.ndarray], n_hues: int) -> Dict[str, object]:
    """Mean distinct hues per input, its spread, each hue's share of all samples, and the share
    of samples without a hue."""
    counts = distinct_hues(labels_per_input)
    every = np.concatenate([np.asarray(lab) for lab in labels_per_input]) if len(counts) else \
        np.zeros(0, np.int64)
    n = max(len(every), 1)
    return {"mean_distinct": float(counts.mean()) if len(counts) else 0.0,
            "min_distinct": int(counts.min()) if len(counts) else 0,
            "max_distinct": int(counts.max()) if len(counts) else 0,
            "per_input": counts.tolist(),
            "hue_shares": [float((every == k).sum() / n) for k in range(n_hues)],
            "no_hue_share": float((every < 0).sum() / n)}
