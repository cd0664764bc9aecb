"""The Vendi score of one input, per condition, and the duplicates table of a set.

Features are the Inception pool3 features FID uses (one extraction per set per process, shared
with FID through :func:`msgan_eval.evaluate.features.inception_features`); the kernel is their
cosine similarity (see :mod:`msgan_eval.metrics.vendi`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from msgan_eval import __version__, defaults
from msgan_eval.images import ImageSet
from msgan_eval.metrics.duplicates import exact_duplicate_fraction, near_duplicate_fraction, pixel_hash
from msgan_eval.metrics.vendi import KERNEL, mean_vendi, vendi_score

from .inputs import ImagesLike, as_image_set, describe

FEATURES = "inception-pool3"


def exact_duplicates(images: ImageSet) -> Dict[str, float]:
    """Condition -> fraction of its images whose pixels repeat an earlier image's."""
    return {c: exact_duplicate_fraction([pixel_hash(images.read(i)) for i in idx])
            for c, idx in images.groups().items()}


def duplicate_table(images: ImageSet, features: Optional[np.ndarray],
                    threshold: float = defaults.NEAR_DUPLICATE_COSINE) -> dict:
    """``{"per_condition": {c: {"exact", "near"}}, "exact", "near", "near_rule"}``.

    ``exact``/``near`` at the top are the fractions over the whole set (duplicates counted within
    each condition). ``features`` None (no Inception weights): ``near`` is None.
    """
    groups = images.groups()
    exact = exact_duplicates(images)
    near = ({c: near_duplicate_fraction(features[idx], threshold) for c, idx in groups.items()}
            if features is not None else {c: None for c in groups})
    n = max(len(images), 1)
    total_exact = sum(exact[c] * len(idx) for c, idx in groups.items()) / n
    total_near = (sum(near[c] * len(idx) for c, idx in groups.items()) / n
                  if features is not None else None)
    return {"per_condition": {c: {"exact": exact[c], "near": near[c]} for c in groups},
            "exact": total_exact, "near": total_near,
            "near_rule": (f"cosine similarity of {FEATURES} features >= {threshold}"
                          if features is not None else
                          "not measured here (needs Inception features: see msgan-eval vendi)")}


@dataclass
class VendiResult:
    """``msgan-eval vendi --json``'s fields; ``to_dict()`` is that object."""

    vendi: float                         # mean over conditions
    per_condition: Dict[str, float]
    n: int
    dims: int
    weights: dict
    path: str
    duplicates: dict
    preset: str = defaults.FID_PRESET     # whose FID preprocessing fed the Inception
    kernel: str = KERNEL
    features: str = FEATURES
    skipped: int = 0
    version: str = __version__
    skipped_files: List[Tuple[str, str]] = field(default_factory=list, repr=False)
    gated: Optional[dict] = None      # with ``real``: vendi_gated, kept_fraction... (#22)

    @property
    def vendi_gated(self) -> Optional[float]:
        return None if self.gated is None else self.gated["vendi_gated"]

    def to_dict(self) -> dict:
        gated = self.gated or {"vendi_gated": None, "kept_fraction": None, "groups_gated": None,
                               "kept_fraction_per_group": None, "gate": None}
        return {"metric": "vendi", "vendi": self.vendi, "per_condition": self.per_condition, **gated,
                "kernel": self.kernel, "features": self.features, "n": self.n, "dims": self.dims,
                "preset": self.preset, "path": self.path, "duplicates": self.duplicates, "weights": self.weights,
                "skipped": self.skipped, "version": self.version}


def per_condition_vendi(images: ImageSet, features: np.ndarray) -> Dict[str, float]:
    """Condition -> Vendi score of its feature rows (conditions in sorted order)."""
    return {c: vendi_score(features[idx]) for c, idx in images.groups().items()}


def vendi(x: ImagesLike, *, dims: int = defaults.FID_DIMS, preset: str = defaults.FID_PRESET,
          device: str = defaults.DEVICE,
          batch_size: int = defaults.BATCH_SIZE, num_workers: int = defaults.NUM_WORKERS,
          inception_weights: "str | os.PathLike[str] | None" = None, skip_bad: bool = False,
          quiet: bool = True, real: Optional[ImagesLike] = None,
          realism_k: int = defaults.REALISM_K) -> VendiResult:
    """The Vendi score of ``x`` per condition (cosine kernel on Inception features) and its mean.

    Args:
        x: images (path, ImageSet, uint8 array, tensor, mapping condition -> those).
        dims: the Inception block (2048 = pool3, the default and FID's).
        preset: whose FID preprocessing feeds the Inception (as :func:`msgan_eval.fid`'s).
        inception_weights: the FID Inception state dict; None resolves it as ``msgan-eval`` does.
        real: real images (>= 50): also report ``vendi_gated``, the Vendi score of the samples
            whose realism score against them (Inception pool3, ``realism_k`` neighbours) is
            >= 1, and ``kept_fraction``, per condition and overall (``evaluate.gate``).

    Returns:
        VendiResult: ``.vendi`` (mean over conditions), ``.per_condition``, ``.duplicates``;
        ``to_dict()`` is ``msgan-eval vendi --json``.

    Example:
        >>> msgan_eval.vendi("fake/").vendi                               # doctest: +SKIP
        7.4
    """
    from .features import inception_features
    from .fid import check_preset, resolve_weights_for

    preset = check_preset(preset)
    if real is not None:
        from .gate import load_real

        real = load_real(real, realism_k, skip_bad=skip_bad, quiet=quiet)
    weights = resolve_weights_for([x], inception_weights, device)
    images = as_image_set(x, param="x", skip_bad=skip_bad, quiet=quiet)
    feats = inception_features(images, weights=weights, dims=int(dims), device=device,
                               batch_size=batch_size, num_workers=num_workers, quiet=quiet,
                               preset=preset)
    per = per_condition_vendi(images, feats)
    gated = None
    if real is not None:
        from .gate import gated_vendi, realism_gate_of

        gate = realism_gate_of(images, real, k=realism_k, preset=preset,
                               inception_weights=inception_weights, device=device,
                               batch_size=batch_size, num_workers=num_workers, skip_bad=skip_bad,
                               quiet=quiet)
        gated = gated_vendi(feats, images.groups(), gate)
    return VendiResult(vendi=mean_vendi(per), per_condition=per, n=len(images), dims=int(dims),
                       weights=weights.as_dict(), path=describe(x), preset=preset,
                       duplicates=duplicate_table(images, feats), skipped=len(images.skipped),
                       skipped_files=list(images.skipped), gated=gated)
