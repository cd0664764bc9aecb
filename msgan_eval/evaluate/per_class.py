"""Per-class (intra-class) FID: the FID of each condition against the reference's condition of the
same name, and their mean (the number MSGAN reports for CIFAR-10 per class).

Each condition's FID is pytorch-fid's ``calculate_fid_given_paths`` run on the two class folders
(its mean and ``np.cov`` of the class's features, the Fréchet distance). The features come from the
per-process memo (:func:`msgan_eval.evaluate.features.inception_features`), so ``fid --per-class``
and ``compare --metrics fid,fid-per-class`` extract each set once.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from msgan_eval.errors import ParameterError
from msgan_eval.images import ImageSet
from msgan_eval.metrics.fid import RankDeficientCovarianceWarning, feature_statistics, frechet_distance


@dataclass
class PerClassPairing:
    """Which conditions both sides share, and which one side lacks (kept when skipping)."""

    shared: List[str]
    missing: Dict[str, List[str]] = field(default_factory=dict)   # side -> conditions it lacks

    def as_dict(self) -> dict:
        return {side: names for side, names in self.missing.items() if names}


def pair_conditions(a: ImageSet, b: ImageSet, *, params: Tuple[str, str] = ("a", "b"),
                    skip_missing: bool = False) -> PerClassPairing:
    """The conditions of ``a`` and ``b`` matched by name; one missing on a side is an error unless
    ``skip_missing`` (then it is left out and listed)."""
    ca, cb = set(a.conditions), set(b.conditions)
    missing = {params[0]: sorted(cb - ca), params[1]: sorted(ca - cb)}
    shared = sorted(ca & cb)
    if not shared:
        raise ParameterError(f"{{{params[0]}}} and {{{params[1]}}} share no condition (sub-folder) "
                             "name; per-class FID pairs conditions by name", *params)
    if any(missing.values()) and not skip_missing:
        side = next(p for p in params if missing[p])
        other = params[1] if side == params[0] else params[0]
        raise ParameterError(
            f"{{{side}}} lacks condition(s) {', '.join(missing[side][:5])} that {{{other}}} has; "
            "give both the same sub-folders or pass {skip_missing} to leave them out",
            side, other, "skip_missing")
    for param, images in zip(params, (a, b)):        # a covariance needs 2 images: say so now
        groups = images.groups()
        lonely = [c for c in shared if len(groups[c]) < 2]
        if lonely:
            raise ParameterError(f"{{{param}}} {images.source}: class {lonely[0]!r} has "
                                 f"{len(groups[lonely[0]])} image; per-class FID needs at least 2 "
                                 "images in every class (add images or remove that class)", param)
    return PerClassPairing(shared, missing)


def class_statistics(images: ImageSet, features: np.ndarray,
                     conditions: List[str]) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    groups = images.groups()
    return {c: feature_statistics(np.asarray(features[groups[c]], dtype=np.float64))
            for c in conditions}


def per_class_fid(a: ImageSet, fa: np.ndarray, b: ImageSet, fb: np.ndarray,
                  conditions: List[str]) -> Tuple[Dict[str, float], List[str]]:
    """Condition -> FID of ``a``'s class against ``b``'s, and notes on small classes."""
    sa, sb = class_statistics(a, fa, conditions), class_statistics(b, fb, conditions)
    ga, gb = a.groups(), b.groups()
    dims = fa.shape[1]
    small = [c for c in conditions if min(len(ga[c]), len(gb[c])) <= dims]
    notes = ([f"per-class FID: {len(small)} of {len(conditions)} classes have no more images than "
              f"the {dims} feature dimensions (e.g. {small[0]}): their covariances are "
              "rank-deficient, so those FIDs are biased upwards"] if small else [])
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)   # said once, above
        for c in conditions:
            out[c] = float(frechet_distance(*sa[c], *sb[c], check_covariances=False))   # from features
    return out, notes


def class_indices(images: ImageSet, conditions: List[str]) -> Dict[str, np.ndarray]:
    groups = images.groups()
    return {c: np.asarray(groups[c], dtype=np.int64) for c in conditions}
