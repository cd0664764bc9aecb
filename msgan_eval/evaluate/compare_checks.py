"""``compare``'s checks of every input and option, run before any extraction: a bad LPIPS image
size or a missing named weights file used to be found after minutes of FID work, and then no
report was written. A new metric family adds its row to :data:`PREFLIGHT`.
"""
from __future__ import annotations

import os
from typing import Dict, Optional

from msgan_eval import defaults
from msgan_eval.errors import ParameterError
from msgan_eval.images import ImageSet
from msgan_eval.report.compare import CompareConfig, Reference

from .inputs import check_output
from .runners import SIZE_FREE, cannot_run, named_weights


def check_out(out) -> None:
    """The report folder is writable and may be replaced (new, empty or a previous report)."""
    from msgan_eval.report.compare import check_report_folder

    if out is None:
        return
    check_output(out, "out", folder=True)
    problem = check_report_folder(out)
    if problem is not None:
        raise ParameterError(f"{{out}} {os.fspath(out)}: {problem}", "out")


def _preflight_fid(runs: Dict[str, ImageSet], ref: Reference, config: CompareConfig) -> None:
    for param, images in [*runs.items(), ("reference", ref.images)]:
        if images is not None and len(images) < 2:
            raise ParameterError(f"{{{param}}} {images.source}: FID needs at least 2 images, "
                                 f"found {len(images)}", param)


def _preflight_lpips(runs: Dict[str, ImageSet], ref: Reference, config: CompareConfig) -> None:
    from .lpips import check_lpips_inputs, check_lpips_options, check_pair_budget, pair_count
    from .runners import LPIPS_NAMES

    try:
        check_lpips_options(config.lpips_net, config.lpips_pairs, config.lpips_num_pairs,
                            config.seed, config.batch_size, config.lpips_resize)
        for images in runs.values():
            groups = images.groups()
            check_lpips_inputs(images, groups, config.lpips_net, config.lpips_resize)
            check_pair_budget(groups, config.lpips_pairs, config.lpips_num_pairs, str(images.source))
            largest = max(pair_count(len(i), config.lpips_pairs, config.lpips_num_pairs)
                          for i in groups.values())
            _check_bootstrap_draws(config.bootstrap, largest, "pairs of one condition")
    except ParameterError as exc:
        raise exc.renamed(LPIPS_NAMES) from None


def _preflight_ndb(runs: Dict[str, ImageSet], ref: Reference, config: CompareConfig) -> None:
    from .ndb_data import bins_info_for

    if ref.images is None:
        return                                # skipped with its reason (_cannot_run)
    bins_info_for(ref.images)                 # the reference images share one size
    if len(ref.images) < config.ndb_bins:
        raise ParameterError(f"{{reference}} {ref.images.source}: {len(ref.images)} images for "
                             f"{{ndb_bins}} {config.ndb_bins}; give at least as many reference "
                             "images as bins, or lower {ndb_bins}", "reference", "ndb_bins")


def _preflight_kid(runs: Dict[str, ImageSet], ref: Reference, config: CompareConfig) -> None:
    for param, images in [*runs.items(), ("reference", ref.images)]:
        if len(images) < 2:
            raise ParameterError(f"{{{param}}} {images.source}: KID needs at least 2 images, "
                                 f"found {len(images)}", param)


def _preflight_prdc(runs: Dict[str, ImageSet], ref: Reference, config: CompareConfig) -> None:
    from .prdc import check_k

    for run, images in runs.items():          # k-NN radii need prdc_k others in each set
        try:
            check_k(len(ref.images), len(images), config.prdc_k, "prdc_k")
        except ParameterError as exc:
            raise exc.renamed({"real": "reference", "gen": run}) from None


def _preflight_fid_per_class(runs: Dict[str, ImageSet], ref: Reference,
                             config: CompareConfig) -> None:
    from .per_class import pair_conditions

    for run, images in runs.items():
        pair_conditions(images, ref.images, params=(run, "reference"),
                        skip_missing=config.skip_missing)


def _preflight_vendi(runs: Dict[str, ImageSet], ref: Reference, config: CompareConfig) -> None:
    from .vendi import check_vendi_conditions

    for run, images in runs.items():
        check_vendi_conditions(images, run)


def _preflight_degenerate(runs: Dict[str, ImageSet], ref: Reference, config: CompareConfig) -> None:
    """Every image of each run is resampled (``runners.SIZE_FREE``): its draws bounded too."""
    _check_realism_k(ref, config)
    for images in runs.values():
        _check_bootstrap_draws(config.bootstrap, len(images), "images")


def _preflight_lpips_gated(runs: Dict[str, ImageSet], ref: Reference, config: CompareConfig) -> None:
    _check_realism_k(ref, config)
    _preflight_lpips(runs, ref, config)       # the gate keeps a subset of what LPIPS measures


def _check_realism_k(ref: Reference, config: CompareConfig) -> None:
    """inspect's realism balls (the unrealistic flag, the gate) use {prdc_k} neighbours."""
    if len(ref.images) <= config.prdc_k:
        raise ParameterError(f"{{reference}} has {len(ref.images)} images for {{prdc_k}} "
                             f"{config.prdc_k} nearest neighbours of the realism balls; lower "
                             "{prdc_k} or give more reference images", "reference", "prdc_k")


def _check_bootstrap_draws(n_boot: int, n: int, what: str) -> None:
    """The bootstrap draws (n_boot, n) int64 indices at once: bounded (--bootstrap 1e8 asked for
    tens of GB)."""
    if n_boot * n > defaults.MAX_BOOTSTRAP_CELLS:
        raise ParameterError(f"{{bootstrap}} {n_boot} on {n} {what} draws {n_boot * n} indices at "
                             f"once, more than {defaults.MAX_BOOTSTRAP_CELLS}; use fewer resamples",
                             "bootstrap")


def _preflight_cmmd(runs: Dict[str, ImageSet], ref: Reference, config: CompareConfig) -> None:
    from .features import check_features

    check_features(config.cmmd_features, param="cmmd_features")
    for param, images in [*runs.items(), ("reference", ref.images)]:
        if len(images) < 1:
            raise ParameterError(f"{{{param}}} {images.source}: CMMD needs images", param)


PREFLIGHT = {"fid": _preflight_fid, "lpips": _preflight_lpips, "ndb": _preflight_ndb,
             "kid": _preflight_kid, "prdc": _preflight_prdc, "degenerate": _preflight_degenerate,
             "lpips-gated": _preflight_lpips_gated, "cmmd": _preflight_cmmd,
             "vendi": _preflight_vendi, "fid-per-class": _preflight_fid_per_class}


def preflight(runs: Dict[str, ImageSet], ref: Reference, config: CompareConfig,
              full: Optional[Dict[str, ImageSet]] = None) -> None:
    """Every input and option of every requested metric, the device, and the weights files the
    user named, checked before the work starts. ``full``: the runs before an equal-size cut,
    which the families in ``runners.SIZE_FREE`` measure (default: ``runs``)."""
    from msgan_eval.device import resolve_device

    resolve_device(config.device)
    _check_bootstrap_draws(config.bootstrap, max(len(images) for images in runs.values()), "images")
    for family in config.metrics:
        if cannot_run(family, ref) is None and family in PREFLIGHT:
            PREFLIGHT[family](full if full is not None and family in SIZE_FREE else runs, ref, config)
    for family in config.metrics:            # inputs first: they are cheaper to check
        for need in named_weights(family, config):   # a file the user named must work: say so now
            _resolve_named_weights(need, config)


def _resolve_named_weights(need: str, config: CompareConfig) -> None:
    if need == "cmmd_weights":
        from .runners import cmmd_space

        cmmd_space(config)
    if need == "inception_weights" and config.features != "inception":
        from .runners import feature_space

        feature_space(config)
    elif need == "inception_weights":
        from msgan_eval.features.inception import resolve_inception_weights

        resolve_inception_weights(config.inception_weights)
    if need == "lpips_backbone":
        from msgan_eval.features.lpips_net import resolve_lpips_backbone

        resolve_lpips_backbone(config.lpips_net, config.lpips_backbone)
