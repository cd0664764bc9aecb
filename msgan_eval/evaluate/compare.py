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

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from msgan_eval import defaults, distributed
from msgan_eval.cache import check_settings
from msgan_eval.errors import ParameterError, UserError, WeightsUnavailable
from msgan_eval.images import ImageSet
from msgan_eval.metrics.registry import FAMILIES
from msgan_eval.report.compare import (
    CompareConfig,
    Log,
    MetricOutcome,
    Reference,
    assemble_report,
    write_report,
)
from msgan_eval.validate import check_dims, probability, whole
from msgan_eval.validate import seed as check_seed

from .compare_checks import check_out, preflight
from .inputs import ImagesLike, as_image_set, check_paths, is_stats_path
from .runners import RUNNERS, SIZE_FREE, cannot_run, weights_named

MAIN_PROCESS_ONLY = ("ndb",)    # families with no sharded work: rank 0 runs them alone
FEATURE_FAMILIES = ("fid", "fid-per-class", "vendi")   # families that extract --features features
def _check_config(config: CompareConfig) -> None:
    unknown = [m for m in config.metrics if m not in FAMILIES]
    if unknown or not config.metrics:
        raise ParameterError(f"{{metrics}} {','.join(config.metrics)}: use a comma-separated subset "
                             f"of {', '.join(FAMILIES)}", "metrics")
    from .features import check_features, resolve_preset

    config.features = check_features(config.features)
    config.preset = resolve_preset(config.features, config.preset)
    check_features(config.cmmd_features, param="cmmd_features")
    if config.protocol not in (None, "msgan"):
        raise ParameterError(f"{{protocol}} {config.protocol}: use msgan", "protocol")
    if config.skip_missing and "fid-per-class" not in config.metrics:
        raise ParameterError("{skip_missing} applies to the fid-per-class metric only; add it to "
                             "{metrics} or drop {skip_missing}", "skip_missing", "metrics")
    _check_numbers(config)


def _check_numbers(c: CompareConfig) -> None:
    """Every numeric setting through the shared validator (``msgan_eval.validate``), in place:
    ``kid_subsets=2.5`` or ``ndb_alpha=nan`` are refused by name, never truncated or carried on."""
    from .kid import check_kid_params
    from .lpips import check_lpips_options
    from .runners import LPIPS_NAMES

    c.seed = check_seed(c.seed)
    c.bootstrap = whole(c.bootstrap, "bootstrap", min=1, max=defaults.MAX_BOOTSTRAP)
    c.confidence = probability(c.confidence, "confidence")
    c.ndb_bins = whole(c.ndb_bins, "ndb_bins", min=2)
    c.ndb_alpha = probability(c.ndb_alpha, "ndb_alpha")
    c.dims = check_dims(c.dims) if c.features == "inception" else whole(c.dims, "dims", min=1)
    c.batch_size = whole(c.batch_size, "batch_size", min=1)
    c.num_workers = whole(c.num_workers, "num_workers", min=0, max=defaults.MAX_NUM_WORKERS)
    c.prdc_k = whole(c.prdc_k, "prdc_k", min=1, hint="the nearest neighbours of each image")
    try:
        c.kid_subsets, c.kid_subset_size, _ = check_kid_params(c.kid_subsets, c.kid_subset_size,
                                                               c.seed)
    except ParameterError as exc:
        raise exc.renamed({"subsets": "kid_subsets", "subset_size": "kid_subset_size"}) from None
    try:
        c.lpips_num_pairs, _, _, c.lpips_resize = check_lpips_options(
            c.lpips_net, c.lpips_pairs, c.lpips_num_pairs, c.seed, c.batch_size, c.lpips_resize)
    except ParameterError as exc:
        raise exc.renamed(LPIPS_NAMES) from None


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
    preflight(runs, reference, config, full)
    outcomes: Dict[str, MetricOutcome] = {}
    skipped: Dict[str, str] = {}
    seconds: Dict[str, float] = {}
    for family in (f for f in FAMILIES if f in config.metrics):
        if family in MAIN_PROCESS_ONLY and not distributed.is_main_process():
            continue
        reason = cannot_run(family, reference)
        start = time.perf_counter()
        if reason is None:
            try:
                outcomes[family] = RUNNERS[family](full if family in SIZE_FREE else runs,
                                                   reference, config, quiet, log)
            except WeightsUnavailable as exc:     # offline without weights: skip, keep going
                if weights_named(family, config):
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
    def overall(self) -> dict:
        """The joint verdict: ``{"verdict", "reasons", "better", "worse"}`` (``metrics.overall``)."""
        return self.report["overall"]

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


def _check_paths(arms: Dict[str, list], reference) -> None:
    """Every run and the reference refused by name if its path cannot be read, before any is
    scanned (a typo in ``--ref`` was found after decoding every run)."""
    for param, x in [(arm, x) for arm, runs in arms.items() for x in runs] + [("reference", reference)]:
        try:
            check_paths(x)
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


def _path_text(path) -> Optional[str]:
    """A file option as the report records it (JSON has no paths)."""
    return None if path is None else os.fspath(path)


def _several(arm) -> list:
    """An arm's runs: a list or tuple holds several runs (training seeds), anything else is one."""
    return list(arm) if isinstance(arm, (list, tuple)) else [arm]


def _compare_several(arms: Dict[str, list], reference, config: CompareConfig, *, skip_bad: bool,
                     quiet: bool, log: Optional[Log], command) -> Tuple[dict, Dict[str, ImageSet]]:
    """The pooled report of several runs per arm (see ``evaluate.multirun``) and each arm's first
    run (shown in the report)."""
    from .multirun import check_runs, compare_multirun

    if distributed.world_size() > 1:
        raise ParameterError("several runs per arm are compared in one process; run without "
                             "torchrun", "baseline")
    loaded = {arm: [_load(arm, x, skip_bad, quiet) for x in runs] for arm, runs in arms.items()}
    ref = _reference(reference, skip_bad, quiet)
    check_runs(loaded)
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
            preset: Optional[str] = None, lpips_net: str = defaults.LPIPS_NET, lpips_pairs: str = defaults.LPIPS_PAIRS,
            lpips_num_pairs: int = defaults.LPIPS_NUM_PAIRS, lpips_resize: Optional[int] = None,
            lpips_backbone: Optional[str] = None, ndb_bins: int = defaults.NDB_BINS,
            ndb_alpha: float = defaults.NDB_ALPHA, kid_subsets: int = defaults.KID_SUBSETS,
            kid_subset_size: int = defaults.KID_SUBSET_SIZE, prdc_k: int = defaults.PRDC_K,
            device: str = defaults.DEVICE,
            batch_size: int = defaults.BATCH_SIZE, num_workers: int = defaults.NUM_WORKERS,
            out: "str | os.PathLike[str] | None" = None, skip_bad: bool = False,
            quiet: bool = True, log: Optional[Log] = None,
            command: Optional[List[str]] = None, skip_missing: bool = False,
            protocol: Optional[str] = None, features: str = defaults.FEATURES,
            feature_weights: Optional[str] = None, cmmd_features: str = defaults.CMMD_FEATURES,
            cmmd_weights: Optional[str] = None) -> Optional[Report]:
    """Baseline vs candidate on FID, LPIPS diversity, NDB/JSD and the degenerate fraction, with
    bootstrap intervals, a verdict per metric and an overall verdict (``metrics.overall``).

    Args:
        baseline, candidate: generated images (path, ImageSet, uint8 array, tensor, or mapping
            condition -> array/tensor; see ``msgan_eval.evaluate.inputs``); a list or tuple of
            those is several training runs of one arm, pooled by ``evaluate.multirun``.
        reference: real images, or a FID statistics ``.npz`` (then NDB/JSD are skipped).
        metrics: a subset of ``fid``, ``lpips``, ``ndb`` (``ndb`` also gives ``jsd``), ``kid``,
            ``prdc`` (precision, recall, density, coverage), ``degenerate``
            (share of samples ``inspect`` flags blank, saturated or noise) and ``lpips-gated``
            (LPIPS among the samples that pass the realism gate); both need >= 50 reference
            images and are skipped with the reason otherwise; ``fid-per-class``, ``vendi`` and
            ``cmmd`` (CLIP embeddings, cmmd-pytorch's computation).
        features, feature_weights: the feature space of fid, fid-per-class, vendi, kid and prdc
            (``inception`` default; ``dinov2-vit-l14``, ``clip-vit-l14``...) and its file.
        cmmd_features, cmmd_weights: CMMD's network (``clip-vit-l14-336`` default) and its file.
        bootstrap, seed, confidence: resamples per run and metric, their seed, the interval level.
        dims, inception_weights, preset: as for :func:`msgan_eval.fid` (the preset applies to
            every Inception-feature metric).
        lpips_*: as ``net``, ``pairs``, ``num_pairs``, ``resize``, ``backbone_weights`` of
            :func:`msgan_eval.lpips_diversity`; ndb_bins, ndb_alpha: ``k`` and ``alpha`` of
            :func:`msgan_eval.ndb` (bins fitted on the reference).
        kid_subsets, kid_subset_size: ``subsets`` and ``subset_size`` of :func:`msgan_eval.kid`
            (a run smaller than the subset size uses the largest size that fits, noted).
        prdc_k: ``k`` of :func:`msgan_eval.prdc` (3 is Kynkaanniemi's setting, 5 Naeem's).
        out: write report.json, report.md and report.html to this folder.
        skip_missing: ``fid-per-class`` leaves out conditions a run or the reference lacks.
        protocol: ``"msgan"``: NDB whitened with 100 bins, LPIPS on 50 samples and 50 random
            pairs per condition (``msgan_eval.evaluate.protocol``); contradicting values refused.
        Runs of unequal size are cut to the smaller n first (``evaluate.compare_sizes``).
        command: recorded in the report's provenance (the CLI passes its argv).

    Returns:
        Report: ``.verdicts``, ``.overall`` (the joint verdict and its reasons), ``.deltas``,
        ``.runs`` (estimates with intervals), ``.skipped``;
        ``to_dict()`` is ``msgan-eval compare --json``. None on torchrun ranks other than 0.

    Example:
        >>> r = msgan_eval.compare("dcgan/", "msgan/", "real/", metrics=("fid", "ndb"))  # doctest: +SKIP
        >>> r.verdicts                                                              # doctest: +SKIP
        {'fid': 'candidate-better', 'ndb': 'no-significant-difference', ...}
    """
    config = CompareConfig(metrics=tuple(m for m in FAMILIES if m in metrics) or tuple(metrics),
                           bootstrap=bootstrap, seed=seed, confidence=confidence, dims=dims,
                           preset=preset, inception_weights=inception_weights, lpips_net=lpips_net,
                           lpips_pairs=lpips_pairs, lpips_num_pairs=lpips_num_pairs,
                           lpips_resize=lpips_resize, lpips_backbone=lpips_backbone,
                           ndb_bins=ndb_bins, ndb_alpha=ndb_alpha, kid_subsets=kid_subsets,
                           kid_subset_size=kid_subset_size, prdc_k=prdc_k, device=device,
                           batch_size=batch_size, num_workers=num_workers,
                           skip_missing=skip_missing, protocol=protocol, features=features,
                           feature_weights=_path_text(feature_weights),
                           cmmd_features=cmmd_features, cmmd_weights=_path_text(cmmd_weights))
    if protocol is not None:
        from .protocol import MSGAN_LPIPS, MSGAN_NDB, settle

        settle(protocol, {"ndb_bins": MSGAN_NDB["k"], "lpips_pairs": MSGAN_LPIPS["pairs"],
                          "lpips_num_pairs": MSGAN_LPIPS["num_pairs"]},
               {"ndb_bins": ndb_bins, "lpips_pairs": lpips_pairs, "lpips_num_pairs": lpips_num_pairs})
    if any(m not in FAMILIES for m in metrics):
        config.metrics = tuple(metrics)               # refused by _check_config, by name
    _check_config(config)
    check_settings()          # the reference's statistics and bins are cached
    check_out(out)
    arms = {"baseline": _several(baseline), "candidate": _several(candidate)}
    _check_paths(arms, reference)
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
