"""The Vendi score of one input, per condition, and the duplicates table of a set.

Features are the Inception pool3 features FID uses (one extraction per set per process, shared
with FID through :func:`msgan_eval.evaluate.features.inception_features`), or another feature space
(``features=``: DINOv2, CLIP, VGG16 fc2); the kernel is their cosine similarity (see
:mod:`msgan_eval.metrics.vendi`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from msgan_eval import __version__, defaults
from msgan_eval.errors import ParameterError
from msgan_eval.images import ImageSet
from msgan_eval.metrics.duplicates import exact_duplicate_fraction, near_duplicate_fraction, pixel_hash
from msgan_eval.metrics.vendi import KERNEL, MIN_IMAGES, mean_vendi, vendi_score

from .inputs import ImagesLike, as_image_set, check_paths, describe

FEATURES = "inception-pool3"


def exact_duplicates(images: ImageSet) -> Dict[str, float]:
    """Condition -> fraction of its images whose pixels repeat an earlier image's."""
    return {c: exact_duplicate_fraction([pixel_hash(images.read(i)) for i in idx])
            for c, idx in images.groups().items()}


def duplicate_table(images: ImageSet, features: Optional[np.ndarray],
                    threshold: float = defaults.NEAR_DUPLICATE_COSINE,
                    space: str = FEATURES) -> dict:
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
            "near_rule": (f"cosine similarity of {space} features >= {threshold}"
                          if features is not None else
                          "not measured here (needs Inception features: see msgan-eval vendi)")}


@dataclass
class VendiResult:
    """``msgan-eval vendi --json``'s fields; ``to_dict()`` is that object."""

    vendi: float                         # mean over conditions
    per_condition: Dict[str, Optional[float]]     # None: fewer than 2 images, not computable
    n: int
    dims: int
    weights: dict
    path: str
    duplicates: dict
    warnings: List[str] = field(default_factory=list)
    preset: Optional[str] = defaults.FID_PRESET     # whose preprocessing fed the network
    kernel: str = KERNEL
    features: str = FEATURES
    skipped: int = 0
    version: str = __version__
    skipped_files: List[Tuple[str, str]] = field(default_factory=list, repr=False)
    warnings: List[str] = field(default_factory=list)
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
                "skipped": self.skipped, "warnings": self.warnings, "version": self.version}


def per_condition_vendi(images: ImageSet, features: np.ndarray) -> Dict[str, Optional[float]]:
    """Condition -> Vendi score of its feature rows (conditions in sorted order); None where a
    condition has fewer than ``MIN_IMAGES`` images (one image scores 1.0 whatever it shows)."""
    return {c: vendi_score(features[idx]) if len(idx) >= MIN_IMAGES else None
            for c, idx in images.groups().items()}


def not_computable_note(per: Dict[str, Optional[float]], where: str = "") -> List[str]:
    """The note listing the conditions without a score, or nothing."""
    small = [c for c, v in per.items() if v is None]
    if not small:
        return []
    shown = ", ".join(repr(c) for c in small[:5]) + (f" and {len(small) - 5} more" if len(small) > 5 else "")
    return [f"vendi{where}: {len(small)} condition(s) with fewer than {MIN_IMAGES} images "
            f"({shown}) are not computable and left out of the mean"]


def check_vendi_conditions(images: ImageSet, param: str) -> None:
    """ParameterError naming ``param`` when no condition has ``MIN_IMAGES`` images."""
    if all(len(idx) < MIN_IMAGES for idx in images.groups().values()):
        raise ParameterError(f"{{{param}}} {images.source}: no condition has {MIN_IMAGES} or more "
                             "images; the Vendi score of a single image is always 1.0 and says "
                             "nothing", param)


def vendi(x: ImagesLike, *, dims: int = defaults.FID_DIMS, preset: Optional[str] = None,
          features: str = defaults.FEATURES, device: str = defaults.DEVICE,
          batch_size: int = defaults.BATCH_SIZE, num_workers: int = defaults.NUM_WORKERS,
          inception_weights: "str | os.PathLike[str] | None" = None,
          feature_weights: "str | os.PathLike[str] | None" = None, skip_bad: bool = False,
          quiet: bool = True, real: Optional[ImagesLike] = None,
          realism_k: int = defaults.REALISM_K) -> VendiResult:
    """The Vendi score of ``x`` per condition (cosine kernel on Inception features) and its mean.

    Args:
        x: images (path, ImageSet, uint8 array, tensor, mapping condition -> those).
        dims: the Inception block (2048 = pool3, the default and FID's).
        preset: whose preprocessing feeds the network (None: the feature space's default).
        features: ``inception`` (default), a DINOv2 / CLIP tower or ``vgg16-fc2``, as
            :func:`msgan_eval.kid`'s; ``feature_weights`` names the non-Inception network's file.
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
    from .features import check_inception_weights_used, feature_source

    check_paths(x, real)              # both inputs before the weights and either scan
    if real is None:                  # with ``real`` the realism gate reads them
        check_inception_weights_used(features, inception_weights)
    source = feature_source(features, preset=preset, dims=dims,
                            inception_weights=inception_weights, feature_weights=feature_weights,
                            device=device, batch_size=batch_size, num_workers=num_workers)
    if real is not None:
        from .gate import load_real

        real = load_real(real, realism_k, skip_bad=skip_bad, quiet=quiet)
    images = as_image_set(x, param="x", skip_bad=skip_bad, quiet=quiet)
    check_vendi_conditions(images, "x")
    feats = source.of(images, quiet=quiet)
    per = per_condition_vendi(images, feats)
    name = source.recorded_name
    gated = None
    if real is not None:       # the realism gate reads Inception pool3 whatever --features is
        from .gate import gated_vendi, realism_gate_of

        gate_preset = source.preset if source.name == "inception" else defaults.FID_PRESET
        gate = realism_gate_of(images, real, k=realism_k, preset=gate_preset,
                               inception_weights=inception_weights, device=device,
                               batch_size=batch_size, num_workers=num_workers, skip_bad=skip_bad,
                               quiet=quiet)
        gated = gated_vendi(feats, images.groups(), gate)
    return VendiResult(vendi=mean_vendi(per), per_condition=per, n=len(images), dims=source.dims,
                       weights=source.weights.as_dict(), path=describe(x), preset=source.preset,
                       duplicates=duplicate_table(images, feats, space=name),
                       skipped=len(images.skipped), skipped_files=list(images.skipped),
                       features=name, warnings=source.notes + not_computable_note(per),
                       gated=gated)
