"""The metric runners of ``compare``: one function per metric family of the registry, each
measuring both runs against the reference and returning bootstrap estimates (``MetricOutcome``).

A new metric family is a registry row, a runner here (added to :data:`RUNNERS`) and, where its
inputs can be checked before any work, a row of ``compare_checks.PREFLIGHT``.
"""
from __future__ import annotations

import os
import warnings
from typing import Dict, Optional

import numpy as np

from msgan_eval import defaults, distributed
from msgan_eval.errors import ParameterError
from msgan_eval.images import ImageSet
from msgan_eval.metrics import bootstrap as bs
from msgan_eval.metrics.registry import FAMILIES, family_needs
from msgan_eval.report.compare import CompareConfig, Log, MetricOutcome, Reference, run_rng

from .runners_inspect import run_degenerate, run_lpips_gated

# LPIPS diversity (plain and gated) is a mean over pairs within a condition, the degenerate fraction
# a share of the samples: their expectations do not depend on n, so they use every image even when runs of
# unequal size are cut to a common n for the others.
SIZE_FREE = ("lpips", "degenerate", "lpips-gated")
# lpips_diversity's parameters under the names compare gives them
LPIPS_NAMES = {"resize": "lpips_resize", "net": "lpips_net", "pairs": "lpips_pairs",
               "num_pairs": "lpips_num_pairs", "backbone_weights": "lpips_backbone"}
NDB_NAMES = {"train": "reference", "k": "ndb_bins"}


def feature_space(cfg: CompareConfig):
    """The comparison's feature space (``--features``, Inception by default), resolved."""
    from .features import feature_source

    return feature_source(cfg.features, preset=cfg.preset, dims=cfg.dims,
                          inception_weights=cfg.inception_weights,
                          feature_weights=cfg.feature_weights, device=cfg.device,
                          batch_size=cfg.batch_size, num_workers=cfg.num_workers)


def _outcome(source) -> MetricOutcome:
    out = MetricOutcome(weights={source.name: source.weights.as_dict()})
    out.notes += source.notes
    return out


# The families that read the reference's Inception pool3 rows through the feature memo
# (FeatureSource.of): when one runs, FID's reference statistics come from those rows too, so the
# network passes over the reference once, not twice (~30 s of the image-to-image demo's 412 s).
REFERENCE_ROW_READERS = ("degenerate", "lpips-gated", "kid", "prdc", "fid-per-class")


def _reference_rows_read(cfg: CompareConfig, source) -> bool:
    return (source.name == "inception" and source.dims == defaults.FID_DIMS
            and any(family in cfg.metrics for family in REFERENCE_ROW_READERS))


def _fid(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
         log: Log) -> MetricOutcome:
    from msgan_eval.metrics.fid import RankDeficientCovarianceWarning

    from .features import set_statistics
    from .fid import load_statistics

    source = feature_space(cfg)
    weights, dims = source.weights, source.dims
    out = _outcome(source)
    if ref.stats_path is not None:
        stats = load_statistics(ref.stats_path, param="reference", dims=dims, weights=weights,
                                preset=source.preset, features=source.name)
    else:
        log("fid: reference statistics (cached after the first run)")
        rows = source.of(ref.images, quiet=quiet) if _reference_rows_read(cfg, source) else None
        stats = set_statistics(ref.images, weights=weights, dims=dims, device=cfg.device,
                                batch_size=cfg.batch_size, num_workers=cfg.num_workers,
                                use_cache=True, quiet=quiet, preset=source.preset,
                                features=source.name, rows=rows)
    est = {}
    for run, images in runs.items():
        log(f"fid: {run} features ({len(images)} images)")
        feats = source.of(images, quiet=quiet)
        if not distributed.is_main_process():
            continue                      # rank 0 alone bootstraps
        if len(feats) <= dims:
            out.notes.append(f"fid: {run} has {len(feats)} images for {dims} feature dimensions; "
                             "its FID is biased upwards (compare runs of equal size only)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
            # the run's statistics come from its features, the reference's from features or
            # through stats_problem: their covariances are checked already
            est[run] = bs.bootstrap_fid(feats, stats.mu, stats.sigma, rng=run_rng(cfg.seed, run, "fid"),
                                        n_boot=cfg.bootstrap, confidence=cfg.confidence,
                                        check_covariances=False)
    out.estimates["fid"] = est
    return out


def _lpips(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
           log: Log) -> MetricOutcome:
    from msgan_eval.features.lpips_net import heads_sha256, resolve_lpips_backbone

    from .lpips import sharded_pair_distances

    backbone = resolve_lpips_backbone(cfg.lpips_net, cfg.lpips_backbone)   # skip before any work
    out = MetricOutcome(weights={backbone.spec.key: backbone.as_dict(),
                                 f"lpips-{cfg.lpips_net}-heads": {"sha256": heads_sha256(cfg.lpips_net)}})
    if backbone.status != "verified":
        out.notes.append(f"lpips: UNVERIFIED backbone {backbone.path} (neither torchvision's "
                         "published file nor our conversion): not standard LPIPS numbers")
    est = {}
    for run, images in runs.items():
        if cfg.protocol == "msgan":        # 50 samples per condition (MSGAN appendix)
            from .protocol import MSGAN_LPIPS, lpips_samples

            images = lpips_samples(images, per_condition=MSGAN_LPIPS["samples"], seed=cfg.seed)
        log(f"lpips: {run} ({cfg.lpips_net}, {cfg.lpips_pairs} pairs)")
        try:
            distances = sharded_pair_distances(images, net=cfg.lpips_net, pairs=cfg.lpips_pairs,
                                               num_pairs=cfg.lpips_num_pairs, seed=cfg.seed,
                                               device=cfg.device, batch_size=cfg.batch_size,
                                               resize=cfg.lpips_resize,
                                               backbone_weights=backbone.path, quiet=quiet)
        except ParameterError as exc:
            raise exc.renamed(LPIPS_NAMES) from None
        if distributed.is_main_process():     # rank 0 alone bootstraps
            est[run] = bs.bootstrap_lpips(distances, rng=run_rng(cfg.seed, run, "lpips"),
                                          n_boot=cfg.bootstrap, confidence=cfg.confidence)
            # each condition's mean: the report's per-condition quality-diversity scatter
            out.details.setdefault("lpips", {})[run] = {
                "per_condition": {c: float(np.mean(d)) for c, d in sorted(distances.items())}}
    out.estimates["lpips"] = est
    return out


def _ndb(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
         log: Log) -> MetricOutcome:
    from msgan_eval.metrics.ndb import assign_bins, bin_counts, ndb_from_counts

    from .ndb import fit_or_load_bins
    from .ndb_data import images_to_vectors

    try:
        bins, _, _ = fit_or_load_bins(ref.images, k=cfg.ndb_bins, seed=cfg.seed, use_cache=True,
                                      whiten=True if cfg.protocol == "msgan" else None,  # MSGAN #18
                                      quiet=quiet, log=lambda msg: log(f"ndb: {msg}"))
    except ParameterError as exc:
        raise exc.renamed(NDB_NAMES) from None
    out = MetricOutcome()
    details = {"k": bins.k, "reference": bins.proportions.tolist()}
    ndb, jsd = {}, {}
    for run, images in runs.items():
        log(f"ndb: {run} bin assignments")
        labels = assign_bins(bins, images_to_vectors(images, ref.images, quiet=quiet))
        full = ndb_from_counts(bins, bin_counts(labels, bins.k), cfg.ndb_alpha)
        details[run] = [b.generated_proportion for b in full.per_bin]
        details[f"{run}_different"] = [b.different for b in full.per_bin]
        ndb[run], jsd[run] = bs.bootstrap_ndb(bins, labels, rng=run_rng(cfg.seed, run, "ndb"),
                                              n_boot=cfg.bootstrap, alpha=cfg.ndb_alpha,
                                              confidence=cfg.confidence)
    out.estimates.update(ndb=ndb, jsd=jsd)
    out.details["ndb"] = details
    return out


def _fid_per_class(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
                   log: Log) -> MetricOutcome:
    from msgan_eval.metrics.bootstrap_classes import bootstrap_per_class_fid

    from .per_class import class_indices, class_statistics, pair_conditions

    source = feature_space(cfg)
    out = _outcome(source)
    log("fid-per-class: reference features (shared with fid)")
    ref_feats = source.of(ref.images, quiet=quiet)
    est, table, missing = {}, {}, {}
    for run, images in runs.items():
        feats = source.of(images, quiet=quiet)
        if not distributed.is_main_process():
            continue
        pairing = pair_conditions(images, ref.images, params=(run, "reference"),
                                  skip_missing=cfg.skip_missing)
        ref_stats = class_statistics(ref.images, ref_feats, pairing.shared)
        est[run], table[run] = bootstrap_per_class_fid(
            feats, class_indices(images, pairing.shared), ref_stats,
            rng=run_rng(cfg.seed, run, "fid-per-class"), n_boot=cfg.bootstrap,
            confidence=cfg.confidence, check_covariances=False)      # all from features
        missing[run] = pairing.as_dict()
        small = [c for c, idx in images.groups().items() if c in table[run] and len(idx) <= source.dims]
        if small:
            out.notes.append(f"fid-per-class: {run} has {len(small)} classes with no more images than "
                             f"the {source.dims} feature dimensions; their FIDs are biased upwards")
    out.estimates["fid_per_class"] = est
    out.details["fid_per_class"] = {"per_class": table, "missing": missing}
    return out


def _vendi(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
           log: Log) -> MetricOutcome:
    from msgan_eval.metrics.bootstrap_classes import bootstrap_vendi

    from .vendi import not_computable_note

    source = feature_space(cfg)
    out = _outcome(source)
    est, table = {}, {}
    for run, images in runs.items():
        log(f"vendi: {run} ({len(images)} images, cosine kernel on {source.name} features)")
        feats = source.of(images, quiet=quiet)
        if not distributed.is_main_process():
            continue
        groups = {c: np.asarray(idx) for c, idx in images.groups().items()}
        est[run], table[run] = bootstrap_vendi(feats, groups, rng=run_rng(cfg.seed, run, "vendi"),
                                               n_boot=cfg.bootstrap, confidence=cfg.confidence)
        out.notes += not_computable_note(table[run], f" ({run})")
    out.estimates["vendi"] = est
    out.details["vendi"] = {"per_condition": table, "kernel": "cosine",
                            "features": source.recorded_name}
    return out



def _feature_rows(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
                  log: Log, family: str, source=None):
    """(source, reference features, run -> features) from the shared feature memo: FID, KID
    and PRDC of one comparison extract each set once. KID and PRDC read Inception's pool3 (the
    2048-d block whatever ``--dims`` says). Every torchrun rank must call this."""
    from .features import feature_source

    if source is None:
        source = feature_source(cfg.features, preset=cfg.preset, dims=defaults.FID_DIMS,
                                inception_weights=cfg.inception_weights,
                                feature_weights=cfg.feature_weights, device=cfg.device,
                                batch_size=cfg.batch_size, num_workers=cfg.num_workers)
    log(f"{family}: reference features ({len(ref.images)} images)")
    ref_feats = source.of(ref.images, quiet=quiet)
    feats = {}
    for run, images in runs.items():
        log(f"{family}: {run} features ({len(images)} images)")
        feats[run] = source.of(images, quiet=quiet)
    return source, ref_feats, feats


def _kid(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
         log: Log) -> MetricOutcome:
    from msgan_eval.metrics.kid import kid_and_bootstrap

    from .kid import subset_note

    source, ref_feats, feats = _feature_rows(runs, ref, cfg, quiet, log, "kid")
    out = _outcome(source)
    out.details["kid"] = {"subsets": cfg.kid_subsets, "requested_subset_size": cfg.kid_subset_size,
                          "features": source.recorded_name}
    est = {}
    for run, f in feats.items():
        if not distributed.is_main_process():
            continue                      # rank 0 alone computes and bootstraps
        if min(len(f), len(ref_feats)) < 2:
            raise ParameterError(f"{{{run}}} and {{reference}} need at least 2 images each for KID "
                                 f"(got {len(f)} and {len(ref_feats)})", run, "reference")
        # One pass over the kernel matrices gives both the value and its bootstrap (same numbers).
        value, est[run] = kid_and_bootstrap(f, ref_feats, subsets=cfg.kid_subsets,
                                            subset_size=cfg.kid_subset_size, seed=cfg.seed,
                                            rng=run_rng(cfg.seed, run, "kid"),
                                            n_boot=cfg.bootstrap, confidence=cfg.confidence)
        out.details["kid"][f"{run}_subset_size"] = value.subset_size
        out.notes += [f"kid: {run}: {n}" for n in subset_note(len(f), len(ref_feats),
                                                             cfg.kid_subset_size,
                                                             value.subset_size)]
    out.estimates["kid"] = est
    return out


def _prdc(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
          log: Log) -> MetricOutcome:
    from msgan_eval.metrics.prdc import PRDC_METRICS, bootstrap_prdc, prdc_counts

    from .prdc import check_k, small_sample_notes

    source, ref_feats, feats = _feature_rows(runs, ref, cfg, quiet, log, "prdc")
    out = _outcome(source)
    out.details["prdc"] = {"k": cfg.prdc_k, "features": source.recorded_name}
    est: Dict[str, Dict[str, bs.BootstrapEstimate]] = {m: {} for m in PRDC_METRICS}
    for run, f in feats.items():
        if not distributed.is_main_process():
            continue
        try:
            check_k(len(ref_feats), len(f), cfg.prdc_k, "prdc_k")
        except ParameterError as exc:
            raise exc.renamed({"real": "reference", "gen": run}) from None
        counts = prdc_counts(ref_feats, f, k=cfg.prdc_k, keep_pairs=True)
        out.notes += [f"prdc: {run}: {n}" for n in small_sample_notes(len(ref_feats), len(f),
                                                                     cfg.prdc_k)]
        for metric, e in bootstrap_prdc(counts, rng=run_rng(cfg.seed, run, "prdc"),
                                        n_boot=cfg.bootstrap, confidence=cfg.confidence).items():
            est[metric][run] = e
    out.estimates.update(est)
    return out


def cmmd_space(cfg: CompareConfig):
    """CMMD's feature space: ``--cmmd-features`` with its CMMD preprocessing (features/cmmd)."""
    from msgan_eval.errors import ParameterError, WeightsUnavailable

    from .cmmd import cmmd_source

    try:
        return cmmd_source(cfg.cmmd_features, feature_weights=cfg.cmmd_weights, device=cfg.device,
                           batch_size=cfg.batch_size, num_workers=cfg.num_workers,
                           param="cmmd_features")
    except ParameterError as exc:       # compare's names, not cmmd's (#23 item 15's class)
        raise exc.renamed({"feature_weights": "cmmd_weights", "features": "cmmd_features"}) from None
    except WeightsUnavailable as exc:   # the weight spec names cmmd's own --feature-weights
        raise WeightsUnavailable(str(exc).replace("(from --feature-weights)",
                                                  "(from --cmmd-weights)")) from None


def _cmmd(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
          log: Log) -> MetricOutcome:
    from msgan_eval.metrics.cmmd import bootstrap_cmmd, cmmd

    source, ref_feats, feats = _feature_rows(runs, ref, cfg, quiet, log, "cmmd", cmmd_space(cfg))
    out = _outcome(source)
    out.details["cmmd"] = {"features": source.name, "preset": source.preset,
                           "sigma": defaults.CMMD_SIGMA, "scale": defaults.CMMD_SCALE}
    est = {}
    for run, f in feats.items():
        if distributed.is_main_process():
            est[run] = bootstrap_cmmd(f, ref_feats, cmmd(f, ref_feats),
                                      rng=run_rng(cfg.seed, run, "cmmd"), n_boot=cfg.bootstrap,
                                      confidence=cfg.confidence)
    out.estimates["cmmd"] = est
    return out


RUNNERS = {"fid": _fid, "lpips": _lpips, "ndb": _ndb, "fid-per-class": _fid_per_class,
           "vendi": _vendi, "kid": _kid, "prdc": _prdc, "degenerate": run_degenerate,
           "lpips-gated": run_lpips_gated, "cmmd": _cmmd}
assert set(RUNNERS) == set(FAMILIES), "every metric family of the registry needs a runner"


def cannot_run(family: str, reference: Reference) -> Optional[str]:
    needs = family_needs(family)
    if "reference_images" in needs and reference.images is None:
        return (f"--ref {reference.stats_path} is a FID statistics file; "
                f"{family.upper()} needs reference images")
    least = defaults.INSPECT_MIN_REFERENCE
    if "calibration_images" in needs and len(reference.images) < least:
        return (f"--ref has {len(reference.images)} images; {family} needs at least {least} "
                "(inspect calibrates its flags and the realism gate on them); use more real images")
    return None


WEIGHT_NEEDS = ("inception_weights", "lpips_backbone", "cmmd_weights")


def named_weights(family: str, config: CompareConfig) -> tuple:
    """The family's weights whose file the user named (option or environment variable).
    ``inception_weights`` stands for the ``--features`` network's file when it is not Inception."""
    from msgan_eval.features.networks import NETWORKS
    from msgan_eval.weights import INCEPTION, LPIPS_BACKBONES

    net, cmmd_net = NETWORKS.get(config.features), NETWORKS.get(config.cmmd_features)
    features_named = (bool(config.feature_weights or os.environ.get(net.spec.env_var)) if net
                      else bool(config.inception_weights or os.environ.get(INCEPTION.env_var)))
    named = {"inception_weights": features_named,
             "lpips_backbone": bool(config.lpips_backbone
                                    or os.environ.get(LPIPS_BACKBONES[config.lpips_net].env_var)),
             "cmmd_weights": bool(config.cmmd_weights
                                  or (cmmd_net and os.environ.get(cmmd_net.spec.env_var)))}
    return tuple(n for n in family_needs(family) if named.get(n))


def weights_named(family: str, config: CompareConfig) -> bool:
    """Whether the user named every weights file this family needs: a failure to find them is then
    an error, not a skip (gated LPIPS with a named Inception file still skips without LPIPS weights)."""
    wanted = [n for n in family_needs(family) if n in WEIGHT_NEEDS]
    return bool(wanted) and len(named_weights(family, config)) == len(wanted)
