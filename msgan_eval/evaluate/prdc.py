"""Precision, recall, density and coverage of generated images against real ones: images in, a
typed result out (``msgan-eval prdc``).

Features are Inception pool3 (2048-d, the FID network, shared with FID through the per-process
memo) unless ``features="vgg16-fc2"`` asks for the papers' VGG16 embedding, which needs a full
torchvision VGG16 file, or a DINOv2 / CLIP tower (``dinov2-vit-l14``, ``clip-vit-l14``...;
:mod:`msgan_eval.features.networks`). Every result says which (``features``): they give different
numbers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

from msgan_eval import __version__, defaults
from msgan_eval.errors import ParameterError
from msgan_eval.images import ImageSet
from msgan_eval.validate import whole

from .features import FeatureSource, check_inception_weights_used
from .features import feature_source as _feature_source
from .inputs import ImagesLike, as_image_set, check_paths, describe, is_stats_path


@dataclass
class PrdcResult:
    """``msgan-eval prdc --json``'s fields; ``to_dict()`` is that object."""

    precision: float
    recall: float
    density: float
    coverage: float
    k: int
    features: str
    n: List[int]                 # [real, generated]
    inputs: List[str]
    weights: Optional[dict]
    warnings: List[str]
    preset: Optional[str] = defaults.FID_PRESET   # whose preprocessing; None for vgg16-fc2
    version: str = __version__

    def to_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "density": self.density,
                "coverage": self.coverage, "k": self.k, "features": self.features, "n": self.n,
                "preset": self.preset, "version": self.version, "inputs": self.inputs,
                "weights": self.weights, "warnings": self.warnings}


def load_set(x: ImagesLike, *, param: str, metric: str, skip_bad: bool, quiet: bool) -> ImageSet:
    """The images of ``x``; a FID statistics file is refused (per-image features are needed)."""
    if is_stats_path(x):
        raise ParameterError(f"{{{param}}} {os.fspath(x)} is a FID statistics file; {metric} needs "
                             "the images themselves (mean and covariance are not enough)", param)
    return as_image_set(x, param=param, skip_bad=skip_bad, quiet=quiet)


def feature_source(features: str, *, preset: Optional[str] = None, inception_weights=None,
                   vgg16_weights=None, feature_weights=None, device: str = defaults.DEVICE,
                   batch_size: int = defaults.BATCH_SIZE,
                   num_workers: int = defaults.NUM_WORKERS) -> FeatureSource:
    """The options checked, the device too, and the weights of ``features`` resolved (exit 3
    when missing): :func:`msgan_eval.evaluate.features.feature_source` on pool3 for Inception."""
    return _feature_source(features, preset=preset, inception_weights=inception_weights,
                           vgg16_weights=vgg16_weights, feature_weights=feature_weights,
                           device=device, batch_size=batch_size, num_workers=num_workers)


def check_k(n_real: int, n_gen: int, k: int, k_param: "str | None" = None) -> None:
    """k-NN radii need k other samples in each set: a clear error instead of an index error.
    ``k_param``: the caller's name for k where it is not ``k`` (compare's ``prdc_k``)."""
    k_text, params = (f"{{{k_param}}} {k}", (k_param,)) if k_param else (f"k = {k}", ())
    smaller = f"a smaller {{{k_param}}}" if k_param else "a smaller k"
    for param, n in (("real", n_real), ("gen", n_gen)):
        if n < k + 1:
            raise ParameterError(f"{{{param}}} has {n} images; {k_text} nearest neighbours need at "
                                 f"least {k + 1} (use more images or {smaller})", param, *params)


def prdc(real: ImagesLike, gen: ImagesLike, *, k: int = defaults.PRDC_K,
         features: str = defaults.PRDC_FEATURES, preset: Optional[str] = None,
         inception_weights: "str | os.PathLike[str] | None" = None,
         vgg16_weights: "str | os.PathLike[str] | None" = None,
         feature_weights: "str | os.PathLike[str] | None" = None, device: str = defaults.DEVICE,
         batch_size: int = defaults.BATCH_SIZE, num_workers: int = defaults.NUM_WORKERS,
         skip_bad: bool = False, quiet: bool = True) -> PrdcResult:
    """Precision, recall (Kynkaanniemi 2019), density and coverage (Naeem 2020) of ``gen``
    against ``real``: the numbers of ``prdc.compute_prdc(real_features, gen_features, k)``.

    Args:
        real: the reference images (path, ImageSet, array, tensor, mapping; see ``evaluate.inputs``).
        gen: the generated images. Conditions do not matter: all images are pooled.
        k: nearest neighbours of the radii, one k for all four (3 is Kynkaanniemi's setting, 5
            Naeem's and the default).
        features: ``inception-pool3`` (default, the FID network; ``inception`` is the same),
            ``vgg16-fc2`` (the papers' embedding; needs ``vgg16_weights`` or torchvision's cached
            vgg16-397923af.pth), or a DINOv2 / CLIP tower (``dinov2-vit-l14``, ``clip-vit-b32``...;
            weights from ``feature_weights`` or the hub cache).
        preset: whose preprocessing (None: the feature space's default; as :func:`msgan_eval.fid`).

    Returns:
        PrdcResult: ``.precision``, ``.recall``, ``.density``, ``.coverage``, ``.n`` [real, gen];
        ``to_dict()`` is ``msgan-eval prdc --json``.

    Example:
        >>> r = msgan_eval.prdc("real/", "fake/", k=5)          # doctest: +SKIP
        >>> r.precision, r.recall                              # doctest: +SKIP
    """
    from msgan_eval.metrics.prdc import prdc_counts

    k = whole(k, "k", min=1, hint="the nearest neighbours of each image")
    check_paths(real, gen)            # both inputs before the weights and either scan
    check_inception_weights_used(features, inception_weights)
    source = feature_source(features, preset=preset, inception_weights=inception_weights,
                            vgg16_weights=vgg16_weights, feature_weights=feature_weights,
                            device=device, batch_size=batch_size, num_workers=num_workers)
    sets = [load_set(x, param=p, metric="PRDC", skip_bad=skip_bad, quiet=quiet)
            for p, x in (("real", real), ("gen", gen))]
    check_k(len(sets[0]), len(sets[1]), k)
    feats = [source.of(s, quiet=quiet) for s in sets]
    counts = prdc_counts(feats[0], feats[1], k=k)
    return PrdcResult(**counts.as_dict(), k=k, features=source.recorded_name,
                      n=[len(s) for s in sets], inputs=[describe(real), describe(gen)],
                      weights=source.weights.as_dict(),
                      warnings=source.notes + small_sample_notes(len(sets[0]), len(sets[1]), k),
                      preset=source.preset)


def small_sample_notes(n_real: int, n_gen: int, k: int) -> List[str]:
    """k-NN manifolds of a few hundred samples are coarse (see the README's table of n)."""
    small = [f"{name} has {n}" for name, n in (("real", n_real), ("gen", n_gen)) if n < 1000]
    if not small:
        return []
    return [f"{' and '.join(small)} images: k-NN precision/recall/density/coverage move with n "
            f"at this size (k = {k}); compare sets of equal size, ideally thousands"]
