"""FID of two inputs, and FID statistics of one: images in, a typed result out.

The numbers are pytorch-fid's (``calculate_fid_given_paths``): Inception pool3 features (or the
64/192/768-d blocks) of every image, their mean and covariance, and the Fréchet distance; with
``preset=`` torch-fidelity's or clean-fid's instead (their preprocessing, the same network and
weights: :mod:`msgan_eval.features.preprocess`). Inputs
are anything :func:`msgan_eval.evaluate.inputs.as_image_set` takes, or a statistics ``.npz``
(``msgan-eval stats`` or pytorch-fid's ``--save-stats``).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from msgan_eval import __version__, defaults, distributed
from msgan_eval.cache import check_settings
from msgan_eval.errors import ParameterError, UserError
from msgan_eval.features.stats_cache import FidStats as _StoredStats
from msgan_eval.features.stats_cache import should_cache
from msgan_eval.validate import loader_numbers
from msgan_eval.weights import ResolvedWeights

from .inputs import ImagesLike, Input, check_output, take_inputs


@dataclass
class FidResult:
    """``msgan-eval fid --json``'s fields; ``to_dict()`` is that object."""

    fid: float
    n: List[Optional[int]]
    dims: int
    weights_sha256: Optional[str]
    weights: Optional[dict]
    inputs: List[str]
    cached: List[bool]
    skipped: List[int]
    device: str
    batch_size: int
    num_workers: int
    processes: int
    warnings: List[str]
    preset: str = defaults.FID_PRESET
    version: str = __version__
    skipped_files: List[Tuple[str, str]] = field(default_factory=list, repr=False)
    features: str = defaults.FEATURES   # the feature network (FD on DINOv2 / CLIP features)
    per_class: Optional[Dict[str, float]] = None      # condition -> FID (per_class=True only)
    fid_per_class_mean: Optional[float] = None
    missing_classes: Optional[Dict[str, List[str]]] = None   # side -> conditions left out

    def to_dict(self) -> dict:
        out = {"fid": self.fid, "n": self.n, "dims": self.dims, "features": self.features,
               "preset": self.preset,
               "weights_sha256": self.weights_sha256, "weights": self.weights,
               "version": self.version, "inputs": self.inputs, "cached": self.cached,
               "skipped": self.skipped, "device": self.device, "batch_size": self.batch_size,
               "num_workers": self.num_workers, "processes": self.processes,
               "warnings": self.warnings}
        if self.per_class is not None:
            out.update(per_class=self.per_class, fid_per_class_mean=self.fid_per_class_mean,
                       missing_classes=self.missing_classes)
        return out


@dataclass
class FidStats(_StoredStats):
    """FID statistics (mu, sigma, n, ...) with ``msgan-eval stats --json``'s fields."""

    weights: Optional[dict] = None
    input: str = ""
    skipped: int = 0
    out: Optional[str] = None
    processes: int = 1
    skipped_files: List[Tuple[str, str]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return {"out": self.out, "n": self.n, "dims": self.dims,
                "features": self.features or defaults.FEATURES, "preset": self.preset,
                "weights_sha256": self.weights_sha256, "weights": self.weights,
                "version": __version__, "input": self.input, "cached": self.cached,
                "skipped": self.skipped, "processes": self.processes}


def resolve_weights_for(inputs: Sequence[Input], inception_weights, device: str,
                        features: str = defaults.FEATURES, feature_weights=None):
    """The network's weights, resolved before any long work, or None when every input is a
    statistics file (then no network runs). The device is checked first: it is cheaper."""
    if all(x.is_stats for x in inputs):
        return None
    from msgan_eval.device import resolve_device

    from .features import resolve_feature_weights

    resolve_device(device)
    return resolve_feature_weights(features, inception_weights=inception_weights,
                                   feature_weights=feature_weights)


def check_inception_weights_used(features: str, inception_weights) -> None:
    """See :func:`msgan_eval.evaluate.features.check_inception_weights_used`."""
    from .features import check_inception_weights_used as check

    check(features, inception_weights)


def feature_space(features: str, preset: Optional[str], dims: int) -> Tuple[str, Optional[str], int]:
    """(canonical features, preset, feature size) checked: unknown names list the valid ones."""
    from .features import check_features, feature_dims, resolve_preset

    features = check_features(features)
    return features, resolve_preset(features, preset), feature_dims(features, dims)


def check_preset(preset: str) -> str:
    """``preset`` if it names a preset, else a ParameterError listing them."""
    if preset not in defaults.FID_PRESET_CHOICES:
        raise ParameterError(f"{{preset}} {preset!r} is not a FID preset; choose one of "
                             f"{', '.join(defaults.FID_PRESET_CHOICES)}", "preset")
    return preset


def load_statistics(path, *, param: str, dims: int,
                    weights: Optional[ResolvedWeights] = None,
                    preset: Optional[str] = None, features: str = defaults.FEATURES) -> _StoredStats:
    """A statistics file, refused when its dims, Inception weights or preset differ from the run's.

    Statistics of other weights give a FID of nothing in particular, so this is an error (in
    ``fid`` and ``compare`` alike), naming both SHA-256s and what to do. Statistics made under
    another preset (another tool's resize) are refused the same way, naming both presets; a file
    that records no preset (pytorch-fid's own) is taken as it is.
    """
    from msgan_eval.features.stats_cache import load_fid_stats

    stats = load_fid_stats(path)
    theirs = stats.features or defaults.FEATURES
    if theirs != features:
        raise ParameterError(
            f"{{{param}}} {path}: statistics of {theirs} features, but this run uses {features}; "
            f"pass {{features}} {theirs} or recompute them with {{features}} {features}",
            param, "features")
    if preset is not None and stats.preset and stats.preset != preset:
        raise ParameterError(
            f"{{{param}}} {path}: statistics made with the {stats.preset} preset, but this run "
            f"uses {preset}; pass {{preset}} {stats.preset} or recompute them under {preset}",
            param, "preset")
    if stats.dims != dims:
        raise ParameterError(f"{path}: holds {stats.dims}-d statistics but {{dims}} is {dims}; "
                             f"pass {{dims}} {stats.dims} or re-create the file", "dims")
    return check_statistics_weights(stats, path, param=param, weights=weights, features=features)


def check_statistics_weights(stats: _StoredStats, path, *, param: str,
                             weights: Optional[ResolvedWeights], features: str) -> _StoredStats:
    """``stats`` (of the file at ``path``), refused when they record other weights than ``weights``."""
    if weights is not None and stats.weights_sha256 and stats.weights_sha256 != weights.sha256:
        raise ParameterError(
            f"{{{param}}} {path}: computed with {_label(features)} weights sha256 {stats.weights_sha256}, "
            f"but this run uses {weights.sha256} ({weights.path}); recompute the statistics with "
            f"these weights, or pass the weights they were made with as {{{_weights_param(features)}}}",
            param, _weights_param(features))
    return stats


def _label(features: str) -> str:
    return "Inception" if features == "inception" else features


def _weights_param(features: str) -> str:
    return "inception_weights" if features == "inception" else "feature_weights"


def _agree(stats: Sequence[_StoredStats], params: Sequence[str]) -> None:
    """Two statistics files made with different weights (no network run to compare them with)."""
    spaces = [s.features or defaults.FEATURES for s in stats]
    if len(stats) == 2 and spaces[0] != spaces[1]:
        (pa, a), (pb, b) = zip(params, stats)
        raise ParameterError(f"{{{pa}}} {a.source} holds {spaces[0]} statistics and {{{pb}}} "
                             f"{b.source} {spaces[1]} statistics: the two feature spaces cannot be "
                             "compared; recompute one with the other's {features}", pa, pb,
                             "features")
    known = [(p, s) for p, s in zip(params, stats) if s.weights_sha256]
    if len(known) == 2 and known[0][1].weights_sha256 != known[1][1].weights_sha256:
        (pa, a), (pb, b) = known
        raise ParameterError(f"{{{pa}}} {a.source} and {{{pb}}} {b.source} were computed with "
                             f"different {_label(spaces[0])} weights (sha256 {a.weights_sha256} and "
                             f"{b.weights_sha256}); recompute one with the other's weights", pa, pb)
    named = [(p, s) for p, s in zip(params, stats) if s.preset]
    if len(named) == 2 and named[0][1].preset != named[1][1].preset:
        (pa, a), (pb, b) = named
        raise ParameterError(f"{{{pa}}} {a.source} and {{{pb}}} {b.source} were made with "
                             f"different FID presets ({a.preset} and {b.preset}); recompute one "
                             "under the other's {preset}", pa, pb, "preset")


def _image_statistics(x: Input, *, weights: ResolvedWeights, dims: int, device: str,
                      batch_size: int, num_workers: int, use_cache: bool, skip_bad: bool,
                      quiet: bool, preset, features: str = defaults.FEATURES) -> FidStats:
    from .features import set_statistics

    image_set = x.images(skip_bad=skip_bad, quiet=quiet)
    s = set_statistics(image_set, weights=weights, dims=dims, device=device,
                        batch_size=batch_size, num_workers=num_workers, use_cache=use_cache,
                        quiet=quiet, preset=preset, features=features)
    return FidStats(s.mu, s.sigma, s.n, s.dims, s.weights_sha256, x.name, s.cached, preset,
                    features, weights=weights.as_dict(), input=x.name,
                    skipped=len(image_set.skipped), processes=distributed.world_size(),
                    skipped_files=list(image_set.skipped))


def statistics(x: ImagesLike, *, out: "str | os.PathLike[str] | None" = None,
               dims: int = defaults.FID_DIMS, device: str = defaults.DEVICE,
               batch_size: int = defaults.BATCH_SIZE, num_workers: int = defaults.NUM_WORKERS,
               inception_weights: "str | os.PathLike[str] | None" = None, use_cache: bool = True,
               skip_bad: bool = False, quiet: bool = True, preset: Optional[str] = None,
               features: str = defaults.FEATURES,
               feature_weights: "str | os.PathLike[str] | None" = None) -> FidStats:
    """FID statistics (mu, sigma) of the images ``x``, written to ``out`` when given.

    Args:
        x: images (path, ImageSet, uint8 array, tensor, mapping; see ``evaluate.inputs``) or a
            statistics ``.npz`` (loaded and checked).
        out: a ``.npz`` to write (pytorch-fid reads it), atomically; None writes nothing.
        dims: 64, 192, 768 or 2048 (pool3, standard FID).
        inception_weights: the FID Inception state dict; None resolves it as ``msgan-eval`` does.
        use_cache: read and write the statistics cache (keyed by file list or pixels).
        preset: whose preprocessing: ``pytorch-fid`` (Inception's default), ``torch-fidelity``,
            ``clean-fid`` or ``clean-fid-legacy-tensorflow``; for DINOv2 ``dgm-eval`` (default)
            or ``torch-fidelity``; for CLIP ``openai-clip`` (default), ``cmmd`` or
            ``torch-fidelity``; recorded in ``out``. None: the feature space's default.
        features: ``inception`` (default), ``dinov2-vit-s14``/``b14``/``l14``/``g14``,
            ``clip-vit-b32``/``l14``/``l14-336`` or ``vgg16-fc2``; recorded in ``out``.
        feature_weights: the non-Inception network's file (else the hub cache's official name).

    Returns:
        FidStats: ``.mu``, ``.sigma``, ``.n``, ``.dims``, ``.weights_sha256``; ``to_dict()`` is
        ``msgan-eval stats --json``.

    Example:
        >>> s = msgan_eval.statistics("real/", out="real.npz", dims=2048)   # doctest: +SKIP
        >>> s.n, s.mu.shape                                                 # doctest: +SKIP
    """
    features, preset, dims = feature_space(features, preset, dims)
    check_inception_weights_used(features, inception_weights)
    batch_size, num_workers = loader_numbers(batch_size, num_workers)
    check_settings(use_cache)
    if out is not None and not os.fspath(out).lower().endswith(".npz"):
        raise ParameterError(f"{{out}} {os.fspath(out)}: must end with .npz (pytorch-fid only "
                             "reads .npz statistics)", "out")
    check_output(out, "out")          # before the extraction, not after it
    [given] = take_inputs(x=x)
    weights = resolve_weights_for([given], inception_weights, device, features, feature_weights)
    if weights is None:
        s = load_statistics(x, param="x", dims=dims, preset=preset, features=features)
        stats = FidStats(s.mu, s.sigma, s.n, s.dims, s.weights_sha256, s.source, s.cached,
                         s.preset or preset, features, input=given.name,
                         processes=distributed.world_size())
    else:
        stats = _image_statistics(given, weights=weights, dims=dims, device=device,
                                  batch_size=batch_size, num_workers=num_workers,
                                  use_cache=use_cache, skip_bad=skip_bad, quiet=quiet,
                                  preset=preset, features=features)
    if out is not None:
        from msgan_eval.features.stats_cache import save_fid_stats

        stats.out = os.fspath(out)
        if distributed.is_main_process():
            save_fid_stats(out, stats)
    return stats


def _rank_deficiency_notes(stats_list) -> List[str]:
    return [f"{s.source}: {s.n} images for {s.dims} dimensions: the covariance is rank-deficient, "
            "so the FID is biased and noisy (use more images than dimensions"
            + (", or a smaller --dims)" if s.dims > 64 and s.features in (None, "inception") else ")")
            for s in stats_list if s.n is not None and s.n <= s.dims]


def frechet_with_notes(a, b) -> Tuple[float, List[str]]:
    """FID of two statistics and the warnings it raised, as text."""
    from msgan_eval.metrics.fid import RankDeficientCovarianceWarning, frechet_distance

    notes = _rank_deficiency_notes([a, b])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # Statistics reach here computed from finite features or read through stats_problem
            # (statistics files and the cache): their covariances are checked already.
            value = frechet_distance(a.mu, a.sigma, b.mu, b.sigma, check_covariances=False)
        except ParameterError as exc:     # name the inputs, not frechet_distance's arguments
            raise UserError(f"FID of {a.source} and {b.source}: {exc}") from None
    for w in caught:
        # The per-set note above already says it better when n is known.
        if issubclass(w.category, RankDeficientCovarianceWarning) and notes:
            continue
        notes.append(str(w.message))
    return value, notes


def fid(a: ImagesLike, b: ImagesLike, *, dims: int = defaults.FID_DIMS,
        device: str = defaults.DEVICE, batch_size: int = defaults.BATCH_SIZE,
        num_workers: int = defaults.NUM_WORKERS,
        inception_weights: "str | os.PathLike[str] | None" = None, use_cache: bool = True,
        cache_generated: bool = defaults.CACHE_GENERATED, skip_bad: bool = False,
        quiet: bool = True, preset: Optional[str] = None, per_class: bool = False,
        skip_missing: bool = False, features: str = defaults.FEATURES,
        feature_weights: "str | os.PathLike[str] | None" = None) -> FidResult:
    """FID between ``a`` and ``b``, the number pytorch-fid (or the preset's tool) gives.

    Args:
        a, b: images (a folder, .npy/.npz, ImageSet, uint8 array (N, H, W, C), tensor
            (N, C, H, W) uint8 or float in [0, 1], or a mapping condition -> those) or a
            statistics ``.npz``. Conditions do not matter to FID: all images are pooled.
        dims: 64, 192, 768 or 2048 (pool3, standard FID).
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        inception_weights: the FID Inception state dict; None resolves it as ``msgan-eval``
            does (``$MSGAN_EVAL_INCEPTION_WEIGHTS``, hub cache, offline conversion, download).
        use_cache: reuse cached statistics of an input seen before. Only ``a`` (the reference,
            as in ``fid real/ fake/``) is cached unless ``cache_generated``: each new sample
            folder would add 33.5 MB that is never read again.
        preset: whose FID: ``pytorch-fid`` (default), ``torch-fidelity``, ``clean-fid`` (its
            ``clean`` mode) or ``clean-fid-legacy-tensorflow``; a statistics file of another
            preset is refused. None: the feature space's default (DINOv2: ``dgm-eval``; CLIP:
            ``openai-clip``; see :func:`statistics`).
        features: the feature space (``inception`` default; ``dinov2-vit-l14`` gives
            FD_DINOv2, ``clip-vit-l14`` CLIP-FD...); statistics of another space are refused.
        feature_weights: the non-Inception network's file (else the hub cache's official name).
        per_class: also the FID of each condition of ``a`` against ``b``'s condition of the same
            name (``.per_class``) and their mean (``.fid_per_class_mean``); images on both sides.
        skip_missing: leave out conditions one side lacks (listed in ``.missing_classes``)
            instead of refusing.

    Returns:
        FidResult: ``.fid``, ``.n`` (both sets), ``.warnings``...; ``to_dict()`` is
        ``msgan-eval fid --json``.

    Example:
        >>> msgan_eval.fid("real/", "fake/").fid                     # doctest: +SKIP
        12.3
    """
    features, preset, dims = feature_space(features, preset, dims)
    check_inception_weights_used(features, inception_weights)
    batch_size, num_workers = loader_numbers(batch_size, num_workers)
    check_settings(use_cache)
    inputs = take_inputs(a=a, b=b)    # both checked before either is read; looked at once
    if skip_missing and not per_class:
        raise ParameterError("{skip_missing} applies to {per_class} only (it leaves out classes "
                             "one side lacks); add {per_class} or drop {skip_missing}",
                             "skip_missing", "per_class")
    if per_class:
        return _fid_per_class(inputs, dims=dims, device=device, batch_size=batch_size,
                              num_workers=num_workers, inception_weights=inception_weights,
                              skip_bad=skip_bad, skip_missing=skip_missing, quiet=quiet,
                              preset=preset, features=features, feature_weights=feature_weights)
    # Statistics files read once, before the weights: a file of another space is said first.
    loaded = {x.param: load_statistics(x.value, param=x.param, dims=dims, preset=preset,
                                       features=features) for x in inputs if x.is_stats}
    weights = resolve_weights_for(inputs, inception_weights, device, features, feature_weights)
    stats = []
    for x in inputs:
        if x.is_stats:
            stats.append(check_statistics_weights(loaded[x.param], x.value, param=x.param,
                                                  weights=weights, features=features))
        else:
            cache = use_cache and should_cache(x.param == "a", cache_generated=cache_generated)
            stats.append(_image_statistics(x, weights=weights, dims=dims, device=device,
                                           batch_size=batch_size, num_workers=num_workers,
                                           use_cache=cache, skip_bad=skip_bad, quiet=quiet,
                                           preset=preset, features=features))
    _agree(stats, [x.param for x in inputs])
    value, notes = frechet_with_notes(*stats)
    notes += [f"{s.source}: records no FID preset (a file of pytorch-fid or an older msgan-eval: "
              f"pytorch-fid's preprocessing); this run uses {preset}"
              for s in stats if not s.preset and preset != defaults.FID_PRESET]
    if weights is not None and weights.status != "verified" and features not in ("inception", "vgg16-fc2"):
        notes.append(f"UNVERIFIED {features} weights {weights.path} (SHA-256 "
                     f"{weights.sha256[:16]}...): not the published file")
    sha = weights.sha256 if weights else next((s.weights_sha256 for s in stats if s.weights_sha256), None)
    return FidResult(fid=value, n=[s.n for s in stats], dims=dims, weights_sha256=sha,
                     weights=weights.as_dict() if weights else None,
                     inputs=[x.name for x in inputs], cached=[s.cached for s in stats],
                     skipped=[getattr(s, "skipped", 0) for s in stats], device=device,
                     batch_size=batch_size, num_workers=num_workers,
                     processes=distributed.world_size(), warnings=notes, preset=preset,
                     features=features,
                     skipped_files=[f for s in stats for f in getattr(s, "skipped_files", [])])


def _fid_per_class(inputs: Sequence[Input], *, dims: int, device: str, batch_size: int,
                   num_workers: int, inception_weights, skip_bad: bool, skip_missing: bool,
                   quiet: bool, preset, features: str, feature_weights) -> FidResult:
    """``fid(per_class=True)``: one feature extraction per set gives the pooled FID and each class's."""
    from msgan_eval.metrics.fid import feature_statistics

    from .features import FeatureSource
    from .per_class import pair_conditions, per_class_fid

    for x in inputs:
        if x.is_stats:
            raise ParameterError(f"{{{x.param}}} {x.name} is a statistics file; {{per_class}} needs "
                                 "images (class sub-folders) on both sides", x.param, "per_class")
    sets = [x.images(skip_bad=skip_bad, quiet=quiet) for x in inputs]
    pairing = pair_conditions(*sets, skip_missing=skip_missing)     # inputs before weights
    weights = resolve_weights_for(inputs, inception_weights, device, features, feature_weights)
    source = FeatureSource(features, weights, device, batch_size, num_workers, preset, dims)
    feats = [source.of(s, quiet=quiet) for s in sets]
    stats = [_StoredStats(*feature_statistics(np.asarray(f, dtype=np.float64)), len(f), dims,
                          weights.sha256, x.name, False, preset, features)
             for f, x in zip(feats, inputs)]
    value, notes = frechet_with_notes(*stats)
    per, class_notes = per_class_fid(sets[0], feats[0], sets[1], feats[1], pairing.shared)
    return FidResult(fid=value, n=[len(s) for s in sets], dims=dims, weights_sha256=weights.sha256,
                     weights=weights.as_dict(), inputs=[x.name for x in inputs],
                     cached=[False, False], skipped=[len(s.skipped) for s in sets], device=device,
                     batch_size=batch_size, num_workers=num_workers,
                     processes=distributed.world_size(), warnings=notes + class_notes,
                     skipped_files=[f for s in sets for f in s.skipped], per_class=per,
                     fid_per_class_mean=float(np.mean(list(per.values()))),
                     missing_classes=pairing.as_dict(), preset=preset, features=features)
