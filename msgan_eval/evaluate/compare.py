"""Baseline vs candidate: every metric with a bootstrap interval, a verdict each, one report.

The reference set is read once: its FID statistics (cached like ``msgan-eval fid``'s), its NDB
bins and its pixel vectors serve both runs. A metric that cannot run (weights missing offline, a
statistics file given where NDB needs images) is *skipped with its reason* in the report; the
other metrics still run. Nothing here imports training code.

Under torchrun every rank calls :func:`compare_runs`: FID features and LPIPS distances are measured
in shards and gathered, so rank 0 bootstraps exactly what one process would; NDB (one K-means fit)
runs on rank 0 alone, last, after the collectives. Rank 0 gets the report, the other ranks None.
"""
from __future__ import annotations

import dataclasses
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from msgan_eval import defaults, distributed
from msgan_eval.errors import ParameterError, UserError, WeightsUnavailable
from msgan_eval.images import ImageSet
from msgan_eval.metrics import bootstrap as bs
from msgan_eval.metrics.registry import FAMILIES, family_needs
from msgan_eval.report.compare import (
    CompareConfig,
    Log,
    MetricOutcome,
    Reference,
    assemble_report,
    run_rng,
    write_report,
)

from .compare_checks import check_out, preflight
from .inputs import ImagesLike, as_image_set, is_stats_path

# LPIPS diversity is a mean over pairs within a condition: its expectation does not depend on n,
# so it uses every image even when runs of unequal size are cut to a common n for the others.
SIZE_FREE = ("lpips",)
MAIN_PROCESS_ONLY = ("ndb",)    # families with no sharded work: rank 0 runs them alone
FEATURE_FAMILIES = ("fid", "fid-per-class", "vendi")   # families that extract Inception features
# lpips_diversity's parameters under the names compare gives them
LPIPS_NAMES = {"resize": "lpips_resize", "net": "lpips_net", "pairs": "lpips_pairs",
               "num_pairs": "lpips_num_pairs", "backbone_weights": "lpips_backbone"}
NDB_NAMES = {"train": "reference", "k": "ndb_bins"}


def _fid(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
         log: Log) -> MetricOutcome:
    from msgan_eval.features.extract import image_set_statistics
    from msgan_eval.features.inception import resolve_inception_weights
    from msgan_eval.metrics.fid import RankDeficientCovarianceWarning

    from .features import inception_features
    from .fid import load_statistics

    weights = resolve_inception_weights(cfg.inception_weights)
    out = MetricOutcome(weights={"inception": weights.as_dict()})
    if ref.stats_path is not None:
        stats = load_statistics(ref.stats_path, param="reference", dims=cfg.dims, weights=weights,
                                preset=cfg.preset)
    else:
        log("fid: reference statistics (cached after the first run)")
        stats = image_set_statistics(ref.images, weights=weights, dims=cfg.dims, device=cfg.device,
                                     batch_size=cfg.batch_size, num_workers=cfg.num_workers,
                                     quiet=quiet, preset=cfg.preset)
    est = {}
    for run, images in runs.items():
        log(f"fid: {run} features ({len(images)} images)")
        feats = inception_features(images, weights=weights, dims=cfg.dims, device=cfg.device,
                                   batch_size=cfg.batch_size, num_workers=cfg.num_workers,
                                   quiet=quiet, preset=cfg.preset)
        if not distributed.is_main_process():
            continue                      # rank 0 alone bootstraps
        if len(feats) <= cfg.dims:
            out.notes.append(f"fid: {run} has {len(feats)} images for {cfg.dims} feature dimensions; "
                             "its FID is biased upwards (compare runs of equal size only)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
            est[run] = bs.bootstrap_fid(feats, stats.mu, stats.sigma, rng=run_rng(cfg.seed, run, "fid"),
                                        n_boot=cfg.bootstrap, confidence=cfg.confidence)
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


def _run_features(images: ImageSet, cfg: CompareConfig, quiet: bool, weights) -> "object":
    from .features import inception_features

    return inception_features(images, weights=weights, dims=cfg.dims, device=cfg.device,
                              batch_size=cfg.batch_size, num_workers=cfg.num_workers, quiet=quiet,
                              preset=cfg.preset)


def _fid_per_class(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
                   log: Log) -> MetricOutcome:
    from msgan_eval.features.inception import resolve_inception_weights
    from msgan_eval.metrics.bootstrap_classes import bootstrap_per_class_fid

    from .per_class import class_indices, class_statistics, pair_conditions

    weights = resolve_inception_weights(cfg.inception_weights)
    out = MetricOutcome(weights={"inception": weights.as_dict()})
    log("fid-per-class: reference features (shared with fid)")
    ref_feats = _run_features(ref.images, cfg, quiet, weights)
    est, table, missing = {}, {}, {}
    for run, images in runs.items():
        feats = _run_features(images, cfg, quiet, weights)
        if not distributed.is_main_process():
            continue
        pairing = pair_conditions(images, ref.images, params=(run, "reference"),
                                  skip_missing=cfg.skip_missing)
        ref_stats = class_statistics(ref.images, ref_feats, pairing.shared)
        est[run], table[run] = bootstrap_per_class_fid(
            feats, class_indices(images, pairing.shared), ref_stats,
            rng=run_rng(cfg.seed, run, "fid-per-class"), n_boot=cfg.bootstrap,
            confidence=cfg.confidence)
        missing[run] = pairing.as_dict()
        small = [c for c, idx in images.groups().items() if c in table[run] and len(idx) <= cfg.dims]
        if small:
            out.notes.append(f"fid-per-class: {run} has {len(small)} classes with no more images than "
                             f"the {cfg.dims} feature dimensions; their FIDs are biased upwards")
    out.estimates["fid_per_class"] = est
    out.details["fid_per_class"] = {"per_class": table, "missing": missing}
    return out


def _vendi(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
           log: Log) -> MetricOutcome:
    from msgan_eval.features.inception import resolve_inception_weights
    from msgan_eval.metrics.bootstrap_classes import bootstrap_vendi

    weights = resolve_inception_weights(cfg.inception_weights)
    out = MetricOutcome(weights={"inception": weights.as_dict()})
    est, table = {}, {}
    for run, images in runs.items():
        log(f"vendi: {run} ({len(images)} images, cosine kernel on Inception features)")
        feats = _run_features(images, cfg, quiet, weights)
        if not distributed.is_main_process():
            continue
        groups = {c: np.asarray(idx) for c, idx in images.groups().items()}
        est[run], table[run] = bootstrap_vendi(feats, groups, rng=run_rng(cfg.seed, run, "vendi"),
                                               n_boot=cfg.bootstrap, confidence=cfg.confidence)
    out.estimates["vendi"] = est
    out.details["vendi"] = {"per_condition": table, "kernel": "cosine", "features": "inception-pool3"}
    return out



def _feature_rows(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
                  log: Log, family: str):
    """(weights, reference features, run -> features) from the shared Inception memo: FID, KID
    and PRDC of one comparison extract each set once. Every torchrun rank must call this."""
    from msgan_eval.features.inception import resolve_inception_weights

    from .features import inception_features

    weights = resolve_inception_weights(cfg.inception_weights)
    kw = dict(weights=weights, dims=defaults.FID_DIMS, device=cfg.device,
              batch_size=cfg.batch_size, num_workers=cfg.num_workers, quiet=quiet,
              preset=cfg.preset)
    log(f"{family}: reference features ({len(ref.images)} images)")
    ref_feats = inception_features(ref.images, **kw)
    feats = {}
    for run, images in runs.items():
        log(f"{family}: {run} features ({len(images)} images)")
        feats[run] = inception_features(images, **kw)
    return weights, ref_feats, feats


def _kid(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
         log: Log) -> MetricOutcome:
    from msgan_eval.metrics.kid import bootstrap_kid, kid

    from .kid import subset_note

    weights, ref_feats, feats = _feature_rows(runs, ref, cfg, quiet, log, "kid")
    out = MetricOutcome(weights={"inception": weights.as_dict()})
    out.details["kid"] = {"subsets": defaults.KID_SUBSETS, "features": "inception-pool3"}
    est = {}
    for run, f in feats.items():
        if not distributed.is_main_process():
            continue                      # rank 0 alone computes and bootstraps
        if min(len(f), len(ref_feats)) < 2:
            raise ParameterError(f"{{{run}}} and {{reference}} need at least 2 images each for KID "
                                 f"(got {len(f)} and {len(ref_feats)})", run, "reference")
        value = kid(f, ref_feats, subsets=defaults.KID_SUBSETS,
                    subset_size=defaults.KID_SUBSET_SIZE, seed=cfg.seed)
        out.details["kid"][f"{run}_subset_size"] = value.subset_size
        out.notes += [f"kid: {run}: {n}" for n in subset_note(len(f), len(ref_feats),
                                                             defaults.KID_SUBSET_SIZE,
                                                             value.subset_size)]
        est[run] = bootstrap_kid(f, ref_feats, value.kid, rng=run_rng(cfg.seed, run, "kid"),
                                 n_boot=cfg.bootstrap, confidence=cfg.confidence)
    out.estimates["kid"] = est
    return out


def _prdc(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
          log: Log) -> MetricOutcome:
    from msgan_eval.metrics.prdc import PRDC_METRICS, bootstrap_prdc, prdc_counts

    from .prdc import check_k, small_sample_notes

    weights, ref_feats, feats = _feature_rows(runs, ref, cfg, quiet, log, "prdc")
    out = MetricOutcome(weights={"inception": weights.as_dict()})
    out.details["prdc"] = {"k": defaults.PRDC_K, "features": "inception-pool3"}
    est: Dict[str, Dict[str, bs.BootstrapEstimate]] = {m: {} for m in PRDC_METRICS}
    for run, f in feats.items():
        if not distributed.is_main_process():
            continue
        try:
            check_k(len(ref_feats), len(f), defaults.PRDC_K)
        except ParameterError as exc:
            raise exc.renamed({"real": "reference", "gen": run}) from None
        counts = prdc_counts(ref_feats, f, k=defaults.PRDC_K, keep_pairs=True)
        out.notes += [f"prdc: {run}: {n}" for n in small_sample_notes(len(ref_feats), len(f),
                                                                     defaults.PRDC_K)]
        for metric, e in bootstrap_prdc(counts, rng=run_rng(cfg.seed, run, "prdc"),
                                        n_boot=cfg.bootstrap, confidence=cfg.confidence).items():
            est[metric][run] = e
    out.estimates.update(est)
    return out


RUNNERS = {"fid": _fid, "lpips": _lpips, "ndb": _ndb, "fid-per-class": _fid_per_class,
           "vendi": _vendi, "kid": _kid, "prdc": _prdc}
assert set(RUNNERS) == set(FAMILIES), "every metric family of the registry needs a runner"


def _cannot_run(family: str, reference: Reference) -> Optional[str]:
    if "reference_images" in family_needs(family) and reference.images is None:
        return (f"--ref {reference.stats_path} is a FID statistics file; "
                f"{family.upper()} needs reference images")
    return None


def _weights_named(family: str, config: CompareConfig) -> bool:
    """Whether the user named this family's weights file (option or environment variable)."""
    from msgan_eval.weights import INCEPTION, LPIPS_BACKBONES

    needs = family_needs(family)
    if "inception_weights" in needs:
        return bool(config.inception_weights or os.environ.get(INCEPTION.env_var))
    if "lpips_backbone" in needs:
        spec = LPIPS_BACKBONES[config.lpips_net]
        return bool(config.lpips_backbone or os.environ.get(spec.env_var))
    return False


def _check_config(config: CompareConfig) -> None:
    unknown = [m for m in config.metrics if m not in FAMILIES]
    if unknown or not config.metrics:
        raise ParameterError(f"{{metrics}} {','.join(config.metrics)}: use a comma-separated subset "
                             f"of {', '.join(FAMILIES)}", "metrics")
    if config.preset not in defaults.FID_PRESET_CHOICES:
        raise ParameterError(f"{{preset}} {config.preset!r} is not a FID preset; choose one of "
                             f"{', '.join(defaults.FID_PRESET_CHOICES)}", "preset")
    if not 0 <= config.seed < 2 ** 32:
        raise ParameterError(f"{{seed}} {config.seed}: use a seed from 0 to {2 ** 32 - 1}", "seed")
    if not 1 <= config.bootstrap <= defaults.MAX_BOOTSTRAP or not 0 < config.confidence < 1:
        raise ParameterError(f"{{bootstrap}} must be from 1 to {defaults.MAX_BOOTSTRAP} and the "
                             "confidence between 0 and 1", "bootstrap")
    if not 0 < config.ndb_alpha < 1:
        raise ParameterError(f"{{ndb_alpha}} {config.ndb_alpha}: use a level between 0 and 1",
                             "ndb_alpha")
    if config.protocol not in (None, "msgan"):
        raise ParameterError(f"{{protocol}} {config.protocol}: use msgan", "protocol")


def compare_runs(baseline: ImageSet, candidate: ImageSet, reference: Reference,
                 config: CompareConfig, *, quiet: bool = True, log: Optional[Log] = None,
                 command: Optional[List[str]] = None) -> Optional[dict]:
    """Run every requested metric on both runs and return the report dict (see ``schema``).

    Under torchrun every rank must call this with the same inputs; rank 0 gets the report and the
    other ranks None.
    """
    from .compare_sizes import duplicates_outcome, equal_size_runs, ndb_bin_notes

    log = log or (lambda msg: None)
    _check_config(config)
    full = {"baseline": baseline, "candidate": candidate}
    runs, sized = equal_size_runs(full, config.seed)
    sized.notes.extend(ndb_bin_notes(runs, config))
    if config.protocol is not None:
        from .protocol import MSGAN_LPIPS, MSGAN_NDB, record

        sized.details["protocol"] = record(config.protocol, ndb=MSGAN_NDB, lpips=MSGAN_LPIPS)
        sized.notes.append(f"protocol: {config.protocol} (NDB whitened, K = {MSGAN_NDB['k']}; LPIPS "
                           f"{MSGAN_LPIPS['samples']} samples, {MSGAN_LPIPS['num_pairs']} random "
                           "pairs per condition)")
    for families, sets in ((tuple(f for f in config.metrics if f not in SIZE_FREE), runs),
                           (tuple(f for f in config.metrics if f in SIZE_FREE), full)):
        if families:
            preflight(sets, reference, dataclasses.replace(config, metrics=families))
    outcomes: Dict[str, MetricOutcome] = {}
    skipped: Dict[str, str] = {}
    seconds: Dict[str, float] = {}
    for family in (f for f in FAMILIES if f in config.metrics):
        if family in MAIN_PROCESS_ONLY and not distributed.is_main_process():
            continue
        reason = _cannot_run(family, reference)
        start = time.perf_counter()
        if reason is None:
            try:
                outcomes[family] = RUNNERS[family](full if family in SIZE_FREE else runs,
                                                   reference, config, quiet, log)
            except WeightsUnavailable as exc:     # offline without weights: skip, keep going
                if _weights_named(family, config):
                    raise                         # a file the user named must work
                reason = str(exc)
        if reason is not None:
            log(f"{family}: skipped: {reason}")
            skipped.update({metric: reason for metric in FAMILIES[family]})
        seconds[family] = round(time.perf_counter() - start, 3)
    features_ready = any(f in outcomes for f in FEATURE_FAMILIES)
    extras = {"_sizes": sized, "_duplicates": duplicates_outcome(runs, config, quiet, features_ready)}
    if not distributed.is_main_process():
        return None
    inputs = {"baseline": baseline, "candidate": candidate}     # the report keeps the full sizes
    return assemble_report(inputs, reference, config, {**outcomes, **extras}, skipped, seconds,
                           command or [], processes=distributed.world_size())


@dataclass
class Report:
    """A compare report: ``report`` is the schema'd dict (``report.json``); ``to_dict()`` is
    ``msgan-eval compare --json`` (the report and the files written)."""

    report: dict
    files: Dict[str, Path] = field(default_factory=dict)
    sets: Dict[str, ImageSet] = field(default_factory=dict, repr=False)

    @property
    def verdicts(self) -> Dict[str, str]:
        return self.report["verdicts"]

    @property
    def deltas(self) -> Dict[str, dict]:
        return self.report["deltas"]

    @property
    def runs(self) -> Dict[str, Dict[str, dict]]:
        return self.report["runs"]

    @property
    def skipped(self) -> Dict[str, str]:
        return self.report["skipped"]

    def __getitem__(self, key: str):
        return self.report[key]

    def write(self, out_dir: "str | os.PathLike[str]") -> Dict[str, Path]:
        """Write report.json, report.md and report.html to ``out_dir`` (atomically)."""
        self.files = write_report(out_dir, self.report, self.sets)
        return self.files

    def to_dict(self) -> dict:
        return {**self.report, "files": {k: str(v) for k, v in self.files.items()}}


def _load(param: str, x, skip_bad: bool, quiet: bool) -> ImageSet:
    """One input through the one road; errors of a path name its parameter too."""
    try:
        return as_image_set(x, param=param, skip_bad=skip_bad, quiet=quiet)
    except ParameterError:
        raise
    except UserError as exc:
        raise ParameterError(f"{{{param}}} {exc}", param) from None


def _reference(reference, skip_bad: bool, quiet: bool) -> Reference:
    return (Reference(stats_path=Path(reference)) if is_stats_path(reference)
            else Reference(images=_load("reference", reference, skip_bad, quiet)))


def _inputs(baseline, candidate, reference, skip_bad: bool,
            quiet: bool) -> Tuple[Dict[str, ImageSet], Reference]:
    sets = {"baseline": _load("baseline", baseline, skip_bad, quiet),
            "candidate": _load("candidate", candidate, skip_bad, quiet)}
    return sets, _reference(reference, skip_bad, quiet)


def _several(arm) -> list:
    """An arm's runs: a list or tuple holds several runs (training seeds), anything else is one."""
    return list(arm) if isinstance(arm, (list, tuple)) else [arm]


def _compare_several(arms: Dict[str, list], reference, config: CompareConfig, *, skip_bad: bool,
                     quiet: bool, log: Optional[Log], command) -> Tuple[dict, Dict[str, ImageSet]]:
    """The pooled report of several runs per arm (see ``evaluate.multirun``) and each arm's first
    run (shown in the report)."""
    from .multirun import compare_multirun

    if distributed.world_size() > 1:
        raise ParameterError("several runs per arm are compared in one process; run without "
                             "torchrun", "baseline")
    loaded = {arm: [_load(arm, x, skip_bad, quiet) for x in runs] for arm, runs in arms.items()}
    ref = _reference(reference, skip_bad, quiet)
    for arm, sets in loaded.items():                 # every run checked before any work
        for images in sets:
            preflight({arm: images}, ref, config)
    report = compare_multirun(loaded["baseline"], loaded["candidate"], ref, config, quiet=quiet,
                              log=log, command=command)
    return report, {arm: sets[0] for arm, sets in loaded.items()}


def compare(baseline: ImagesLike, candidate: ImagesLike, reference: ImagesLike, *,
            metrics: Sequence[str] = defaults.COMPARE_METRICS, bootstrap: int = defaults.BOOTSTRAP,
            seed: int = defaults.SEED, confidence: float = defaults.CONFIDENCE,
            dims: int = defaults.FID_DIMS, inception_weights: Optional[str] = None,
            preset: str = defaults.FID_PRESET, lpips_net: str = defaults.LPIPS_NET, lpips_pairs: str = defaults.LPIPS_PAIRS,
            lpips_num_pairs: int = defaults.LPIPS_NUM_PAIRS, lpips_resize: Optional[int] = None,
            lpips_backbone: Optional[str] = None, ndb_bins: int = defaults.NDB_BINS,
            ndb_alpha: float = defaults.NDB_ALPHA, device: str = defaults.DEVICE,
            batch_size: int = defaults.BATCH_SIZE, num_workers: int = defaults.NUM_WORKERS,
            out: "str | os.PathLike[str] | None" = None, skip_bad: bool = False,
            quiet: bool = True, log: Optional[Log] = None,
            command: Optional[List[str]] = None, skip_missing: bool = False,
            protocol: Optional[str] = None) -> Optional[Report]:
    """Baseline vs candidate on FID, LPIPS diversity and NDB/JSD, with bootstrap intervals.

    Args:
        baseline, candidate: generated images (path, ImageSet, uint8 array, tensor, or mapping
            condition -> array/tensor; see ``msgan_eval.evaluate.inputs``); a list or tuple of
            those is several training runs of one arm, pooled by ``evaluate.multirun``.
        reference: real images, or a FID statistics ``.npz`` (then NDB/JSD are skipped).
        metrics: a subset of ``fid``, ``lpips``, ``ndb`` (``ndb`` also gives ``jsd``), ``kid`` and
            ``prdc`` (precision, recall, density, coverage; k = 5 on Inception pool3).
        bootstrap, seed, confidence: resamples per run and metric, their seed, the interval level.
        dims, inception_weights, preset: as for :func:`msgan_eval.fid` (the preset applies to
            every Inception-feature metric).
        lpips_*: as ``net``, ``pairs``, ``num_pairs``, ``resize``, ``backbone_weights`` of
            :func:`msgan_eval.lpips_diversity`; ndb_bins, ndb_alpha: ``k`` and ``alpha`` of
            :func:`msgan_eval.ndb` (bins fitted on the reference).
        out: write report.json, report.md and report.html to this folder.
        skip_missing: ``fid-per-class`` leaves out conditions a run or the reference lacks.
        protocol: ``"msgan"``: NDB whitened with 100 bins, LPIPS on 50 samples and 50 random
            pairs per condition (``msgan_eval.evaluate.protocol``); contradicting values refused.
        Runs of unequal size are cut to the smaller n first (``evaluate.compare_sizes``).
        command: recorded in the report's provenance (the CLI passes its argv).

    Returns:
        Report: ``.verdicts``, ``.deltas``, ``.runs`` (estimates with intervals), ``.skipped``;
        ``to_dict()`` is ``msgan-eval compare --json``. None on torchrun ranks other than 0.

    Example:
        >>> r = msgan_eval.compare("dcgan/", "msgan/", "real/", metrics=("fid", "ndb"))  # doctest: +SKIP
        >>> r.verdicts                                                              # doctest: +SKIP
        {'fid': 'candidate-better', 'ndb': 'no-significant-difference', ...}
    """
    config = CompareConfig(metrics=tuple(m for m in FAMILIES if m in metrics) or tuple(metrics),
                           bootstrap=bootstrap, seed=seed, confidence=confidence, dims=int(dims),
                           preset=preset, inception_weights=inception_weights, lpips_net=lpips_net,
                           lpips_pairs=lpips_pairs, lpips_num_pairs=lpips_num_pairs,
                           lpips_resize=lpips_resize, lpips_backbone=lpips_backbone,
                           ndb_bins=ndb_bins, ndb_alpha=ndb_alpha, device=device,
                           batch_size=batch_size, num_workers=num_workers,
                           skip_missing=skip_missing, protocol=protocol)
    if protocol is not None:
        from .protocol import MSGAN_LPIPS, MSGAN_NDB, settle

        settle(protocol, {"ndb_bins": MSGAN_NDB["k"], "lpips_pairs": MSGAN_LPIPS["pairs"],
                          "lpips_num_pairs": MSGAN_LPIPS["num_pairs"]},
               {"ndb_bins": ndb_bins, "lpips_pairs": lpips_pairs, "lpips_num_pairs": lpips_num_pairs})
    if any(m not in FAMILIES for m in metrics):
        config.metrics = tuple(metrics)               # refused by _check_config, by name
    _check_config(config)
    check_out(out)
    arms = {"baseline": _several(baseline), "candidate": _several(candidate)}
    if len(arms["baseline"]) > 1 or len(arms["candidate"]) > 1:
        report, sets = _compare_several(arms, reference, config, skip_bad=skip_bad, quiet=quiet,
                                        log=log, command=command)
    else:
        sets, ref = _inputs(arms["baseline"][0], arms["candidate"][0], reference, skip_bad, quiet)
        report = compare_runs(sets["baseline"], sets["candidate"], ref, config, quiet=quiet,
                              log=log, command=command)
    if report is None:
        return None
    result = Report(report, sets=sets)
    if out is not None:
        result.write(out)
    return result
