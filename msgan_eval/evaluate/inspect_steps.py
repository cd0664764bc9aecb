"""The steps of ``inspect`` over image sets: pixel statistics (at the reference's size), the
feature source (or why there is none), and the realism gate that LPIPS and Vendi use.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from msgan_eval import defaults
from msgan_eval.errors import ParameterError, WeightsUnavailable, first_line
from msgan_eval.images import ImageSet
from msgan_eval.metrics.flags import STATISTICS, pixel_statistics

CHUNK = 256          # images held at once while computing pixel statistics


def reference_size(ref: ImageSet) -> Optional[Tuple[int, int]]:
    """The reference's one (H, W), or None when its images differ in size."""
    sizes = set(ref.sizes)
    return next(iter(sizes)) if len(sizes) == 1 else None


def _resized(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """``image`` at ``size`` (H, W): bilinear, align_corners=False, antialiased (torch), rounded
    back to uint8: a downscale averages like PIL's bilinear, an upscale interpolates."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.array(image, dtype=np.float64)).permute(2, 0, 1)[None]
    y = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return y[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def image_statistics(images: ImageSet, size: Optional[Tuple[int, int]] = None,
                     bar=None) -> Dict[str, np.ndarray]:
    """statistic -> (N,) over ``images`` (each resized to ``size`` first when given and
    different), read ``CHUNK`` at a time; images of one shape are stacked together."""
    out = {name: np.empty(len(images)) for name in STATISTICS}
    for start in range(0, len(images), CHUNK):
        by_shape: Dict[tuple, List[int]] = {}
        arrays = {}
        for i in range(start, min(start + CHUNK, len(images))):
            img = images[i]
            if size is not None and img.shape[:2] != tuple(size):
                img = _resized(img, size)
            arrays[i] = img
            by_shape.setdefault(img.shape, []).append(i)
        for idx in by_shape.values():
            stats = pixel_statistics(np.stack([arrays[i] for i in idx]))
            for name in STATISTICS:
                out[name][idx] = stats[name]
        if bar is not None:
            bar.update(len(arrays))
    return out


def size_notes(images: ImageSet, ref: ImageSet) -> Tuple[Optional[Tuple[int, int]], List[str]]:
    """The size pixel statistics are computed at, and what the output should say about it."""
    size = reference_size(ref)
    if size is None:
        return None, ["the reference images differ in size: pixel statistics are computed at each "
                      "image's own size"]
    other = sorted({s for s in images.sizes if s != size})
    if not other:
        return size, []
    shown = ", ".join(f"{w}x{h}" for h, w in other[:3]) + (" ..." if len(other) > 3 else "")
    return size, [f"images of another size than the reference ({shown} vs {size[1]}x{size[0]}): "
                  f"resized to {size[1]}x{size[0]} (bilinear, antialiased) for the pixel flags; "
                  "the feature network resizes every image itself, as for FID"]


def pixel_flags(images: ImageSet, ref: ImageSet, quiet: bool = True):
    """(flag -> (n,) mask, thresholds, statistics, notes) of blank / saturated / noise, calibrated
    on ``ref``."""
    from msgan_eval.metrics import flags as fl
    from msgan_eval.progress import progress

    size, notes = size_notes(images, ref)
    with progress(total=len(ref) + len(images), desc="inspect pixels", quiet=quiet,
                  unit="img") as bar:
        ref_stats = image_statistics(ref, bar=bar)
        stats = image_statistics(images, size, bar=bar)
    values = fl.calibrate(ref_stats)
    thresholds = {r.flag: {"statistic": r.statistic, "side": r.side, "percentile": r.percentile,
                           "margin": defaults.FLAG_MARGIN, "scale": r.scale,
                           "value": values[r.flag], "rule": r.describe()} for r in fl.PIXEL_RULES}
    return fl.fire(stats, values), thresholds, stats, notes


@dataclass
class Features:
    """The feature source of the distance flags, or the reason there is none."""

    source: object = None             # evaluate.prdc.FeatureSource
    reason: Optional[str] = None

    def of(self, images: ImageSet, quiet: bool) -> np.ndarray:
        # a copy: the memo's arrays are read-only, and torch warns on wrapping them
        return np.array(self.source.of(images, quiet=quiet), dtype=np.float64)


def resolve_features(features: str, *, preset: str, inception_weights, vgg16_weights, device: str,
                     batch_size: int, num_workers: int, feature_weights=None) -> Features:
    """The feature source; weights that cannot be found when none were named give a reason (the
    pixel flags still run), a named file that cannot be used is an error."""
    from .prdc import feature_source

    try:
        return Features(feature_source(features, preset=preset,
                                       inception_weights=inception_weights,
                                       vgg16_weights=vgg16_weights,
                                       feature_weights=feature_weights, device=device,
                                       batch_size=batch_size, num_workers=num_workers))
    except WeightsUnavailable as exc:
        if any(w is not None for w in (inception_weights, vgg16_weights, feature_weights)):
            raise
        return Features(reason=f"no {features} weights: {first_line(exc)}")


def check_reference(ref: ImageSet, k: int, param: str = "ref",
                    minimum: int = defaults.INSPECT_MIN_REFERENCE) -> None:
    """Enough reference images to calibrate the flags (and for the realism radii)."""
    need = max(minimum, k + 1)
    if len(ref) < need:
        raise ParameterError(f"{{{param}}} has {len(ref)} images; the flags and the realism gate "
                             f"are calibrated on at least {need} real images: use more", param)


def realism_gate(gen_features: np.ndarray, ref_features: np.ndarray, *,
                 k: int = defaults.REALISM_K,
                 prune_percentile: Optional[float] = defaults.REALISM_PRUNE_PERCENTILE,
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """(realism scores, kept mask): a sample passes the gate when its realism score is >= 1."""
    from msgan_eval.metrics.realism import realism_scores

    scores = realism_scores(ref_features, gen_features, k=k, prune_percentile=prune_percentile)
    return scores, scores >= 1.0


def gate_rule(features: str, k: int,
              prune_percentile: Optional[float] = defaults.REALISM_PRUNE_PERCENTILE,
              passes: bool = True) -> str:
    """The realism rule in words: what passes (``realism score >= 1 ...``) or what is flagged."""
    balls = ("every reference ball: inside one, as k-NN precision counts" if prune_percentile is None
             else f"the reference balls no larger than their {prune_percentile:g}th percentile radius")
    return (f"realism score {'>= 1' if passes else 'below 1'} (Kynkaanniemi et al. 2019, "
            f"{features} features, k = {k}, {balls})")


GATE_DEGENERATE = "and none of blank, saturated, noise (the inspector's pixel flags)"


def check_prune(prune_percentile: Optional[float]) -> None:
    if prune_percentile is not None:
        from msgan_eval.validate import real

        prune_percentile = real(prune_percentile, "prune_percentile")     # a str: named TypeError
    if prune_percentile is not None and not 0 < prune_percentile <= 100:
        raise ParameterError(f"{{prune_percentile}} {prune_percentile}: use a percentile in "
                             "(0, 100], or none to keep every reference ball", "prune_percentile")
