"""KID of two image sets: images in, a typed result out (``msgan-eval kid``).

Inception pool3 features (the FID network and weights, shared with FID through the per-process
memo) or another feature space (``features=``: DINOv2, CLIP, VGG16 fc2), then
:func:`msgan_eval.metrics.kid.kid`: torch-fidelity's KID on the same features.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional, Tuple

from msgan_eval import __version__, defaults
from msgan_eval.errors import ParameterError
from msgan_eval.validate import seed as check_seed
from msgan_eval.validate import whole

from .features import check_inception_weights_used
from .inputs import ImagesLike, check_paths, describe
from .prdc import feature_source, load_set


@dataclass
class KidResult:
    """``msgan-eval kid --json``'s fields; ``to_dict()`` is that object."""

    kid: float
    kid_std: float
    subsets: int
    subset_size: int             # the size used (smaller than asked when a set is smaller)
    requested_subset_size: int
    n: List[int]
    features: str
    seed: int
    inputs: List[str]
    weights: Optional[dict]
    warnings: List[str]
    preset: Optional[str] = defaults.FID_PRESET     # whose preprocessing fed the network
    version: str = __version__

    def to_dict(self) -> dict:
        return {"kid": self.kid, "kid_std": self.kid_std, "subsets": self.subsets,
                "subset_size": self.subset_size, "n": self.n, "features": self.features,
                "seed": self.seed, "preset": self.preset, "version": self.version,
                "requested_subset_size": self.requested_subset_size, "inputs": self.inputs,
                "weights": self.weights, "warnings": self.warnings}


def subset_note(n_a: int, n_b: int, requested: int, used: int) -> List[str]:
    if used >= requested:
        return []
    return [f"subset size {requested} is larger than the sets ({n_a} and {n_b} images): used "
            f"{used}, the largest that fits" + (" (every subset is then the whole smaller set)"
                                                if used == min(n_a, n_b) else "")]


def check_kid_params(subsets, subset_size, seed) -> Tuple[int, int, int]:
    """(subsets, subset_size, seed) as integers, or a ParameterError naming the bad one."""
    return (whole(subsets, "subsets", min=1, max=defaults.KID_MAX_SUBSETS,
                  hint="torch-fidelity's default is 100"),
            whole(subset_size, "subset_size", min=2), check_seed(seed))


def check_kid_draws(subsets: int, size: int, param: str = "subsets") -> None:
    """The subsets' indices are drawn at once, (subsets, size) int64 twice: bounded up front
    (``--subsets 1000000000`` ran out of memory and blamed ``--batch-size``)."""
    cells = 2 * subsets * size
    if cells > defaults.MAX_BOOTSTRAP_CELLS:
        raise ParameterError(f"{{{param}}} {subsets} subsets of {size} images draw {cells} "
                             f"indices at once, more than {defaults.MAX_BOOTSTRAP_CELLS}; use fewer "
                             "subsets", param)


def kid(a: ImagesLike, b: ImagesLike, *, subsets: int = defaults.KID_SUBSETS,
        subset_size: int = defaults.KID_SUBSET_SIZE, seed: int = defaults.SEED,
        preset: Optional[str] = None, features: str = defaults.FEATURES,
        inception_weights: "str | os.PathLike[str] | None" = None,
        feature_weights: "str | os.PathLike[str] | None" = None, device: str = defaults.DEVICE,
        batch_size: int = defaults.BATCH_SIZE, num_workers: int = defaults.NUM_WORKERS,
        skip_bad: bool = False, quiet: bool = True) -> KidResult:
    """Kernel Inception Distance between ``a`` and ``b``, as torch-fidelity computes it.

    Args:
        a, b: images (path, ImageSet, array, tensor, mapping; see ``evaluate.inputs``); not
            statistics files (KID needs every image's features).
        subsets, subset_size, seed: torch-fidelity's ``kid_subsets`` (100), ``kid_subset_size``
            (1000) and ``rng_seed``. A set smaller than ``subset_size`` is not an error: the
            largest size that fits is used, recorded in ``subset_size`` and ``warnings``.
        preset: whose preprocessing feeds the network (None: the feature space's default):
            ``pytorch-fid`` (Inception's default), ``torch-fidelity`` (the features its KID is
            computed on), ``clean-fid``... as :func:`msgan_eval.fid`'s.
        features: ``inception`` (default), ``dinov2-vit-s14``/``b14``/``l14``/``g14``,
            ``clip-vit-b32``/``l14``/``l14-336`` or ``vgg16-fc2``; ``feature_weights`` names the
            non-Inception network's file (else ``$TORCH_HOME/hub/checkpoints/<official name>``).

    Returns:
        KidResult: ``.kid`` (mean over subsets), ``.kid_std``, ``.subset_size``...;
        ``to_dict()`` is ``msgan-eval kid --json``.

    Example:
        >>> msgan_eval.kid("real/", "fake/", subsets=100).kid      # doctest: +SKIP
    """
    from msgan_eval.metrics.kid import kid as kid_of_features
    from msgan_eval.metrics.kid import subset_size_for

    subsets, subset_size, seed = check_kid_params(subsets, subset_size, seed)
    check_paths(a, b)                 # both inputs before the weights and either scan
    check_inception_weights_used(features, inception_weights)
    source = feature_source(features, preset=preset, inception_weights=inception_weights,
                            feature_weights=feature_weights, device=device,
                            batch_size=batch_size, num_workers=num_workers)
    sets = [load_set(x, param=p, metric="KID", skip_bad=skip_bad, quiet=quiet)
            for p, x in (("a", a), ("b", b))]
    for param, s in zip(("a", "b"), sets):
        if len(s) < 2:
            raise ParameterError(f"{{{param}}} holds {len(s)} image(s); KID needs at least 2", param)
    check_kid_draws(subsets, subset_size_for(len(sets[0]), len(sets[1]), subset_size))
    feats = [source.of(s, quiet=quiet) for s in sets]
    est = kid_of_features(feats[0], feats[1], subsets=subsets, subset_size=subset_size, seed=seed)
    n = [len(s) for s in sets]
    return KidResult(kid=est.kid, kid_std=est.kid_std, subsets=subsets,
                     subset_size=est.subset_size, requested_subset_size=subset_size, n=n,
                     features=source.recorded_name, seed=seed, inputs=[describe(a), describe(b)],
                     weights=source.weights.as_dict(),
                     warnings=source.notes + subset_note(n[0], n[1], subset_size, est.subset_size),
                     preset=source.preset)
